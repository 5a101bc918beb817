// PKCE (RFC 7636, S256 only) and the OAuth `state` nonce for the SoundCloud authorization code flow.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface Pkce {
  /** The secret kept by us and sent with the code exchange; never logged. */
  verifier: string;
  /** BASE64URL(SHA256(verifier)), sent in the authorization URL. */
  challenge: string;
  method: 'S256';
}

/** The S256 code challenge of a verifier: BASE64URL-ENCODE(SHA256(ASCII(verifier))), no padding. */
export function challengeFor(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/**
 * A fresh verifier and its challenge. 48 random bytes encode to exactly 64 base64url characters
 * ([A-Za-z0-9_-], a subset of RFC 7636's unreserved set; 43–128 allowed), 384 bits of entropy.
 */
export function createPkce(): Pkce {
  const verifier = randomBytes(48).toString('base64url');
  return { verifier, challenge: challengeFor(verifier), method: 'S256' };
}

/** A fresh `state` nonce: 256 random bits, base64url (43 characters). */
export function createState(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Compares two strings in time independent of where they differ. Both are hashed first so that
 * inputs of different lengths compare without leaking the expected length either.
 */
export function timingSafeEqualString(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}
