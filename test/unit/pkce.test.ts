import { describe, expect, it } from 'vitest';
import { challengeFor, createPkce, createState, timingSafeEqualString } from '../../src/providers/soundcloud/pkce.js';

describe('pkce', () => {
  it('matches the RFC 7636 appendix B S256 test vector', () => {
    // RFC 7636 appendix B: code_challenge = BASE64URL(SHA256(ASCII(code_verifier))).
    expect(challengeFor('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });

  it('creates a 64-character verifier from the unreserved set, with its S256 challenge', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const p = createPkce();
      expect(p.method).toBe('S256');
      expect(p.verifier).toHaveLength(64);
      expect(p.verifier).toMatch(/^[A-Za-z0-9\-._~]{64}$/);
      expect(p.challenge).toBe(challengeFor(p.verifier));
      expect(p.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
      seen.add(p.verifier);
    }
    expect(seen.size).toBe(50);
  });

  it('creates a state of at least 128 random bits, base64url', () => {
    const a = createState();
    const b = createState();
    expect(a).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(a, 'base64url').length * 8).toBeGreaterThanOrEqual(128);
    expect(a).not.toBe(b);
  });

  it('compares strings in constant time, including different lengths', () => {
    expect(timingSafeEqualString('abc', 'abc')).toBe(true);
    expect(timingSafeEqualString('abc', 'abd')).toBe(false);
    expect(timingSafeEqualString('abc', 'abcd')).toBe(false);
    expect(timingSafeEqualString('', '')).toBe(true);
    expect(timingSafeEqualString('', 'a')).toBe(false);
    expect(timingSafeEqualString('é', 'é')).toBe(true);
  });
});
