import { describe, expect, it } from 'vitest';
import { backoffMs, rateLimitWaitMs, sendTokenRequest } from '../../src/core/http.js';
import { processTokenResponse } from '../../src/core/oauth.js';
import { z } from 'zod';
import { json, scriptedFetch, testDeps } from '../support/deps.js';

const NOW = Date.UTC(2026, 10, 23, 12);
const request = { providerTitle: 'Test', url: 'https://example.test/token', headers: {}, body: 'x=1', secrets: [] };

describe('rateLimitWaitMs', () => {
  it.each([
    [{ 'retry-after': '5' }, 5000],
    [{ 'retry-after': '0' }, 0],
    [{ 'retry-after': new Date(NOW + 12_000).toUTCString() }, 12_000],
    [{ 'x-ratelimit-reset': String(NOW / 1000 + 20) }, 20_000],
    [{ 'x-ratelimit-reset': '7' }, 7000],
    [{ 'retry-after': 'soon' }, undefined],
    [{}, undefined],
  ])('%j → %s ms', (headers, expected) => {
    expect(rateLimitWaitMs(new Headers(headers as Record<string, string>), NOW)).toBe(expected);
  });
});

describe('backoffMs', () => {
  it('grows and stays within its jitter band', () => {
    expect(backoffMs(1, () => 0)).toBe(250);
    expect(backoffMs(1, () => 0.999)).toBeLessThanOrEqual(500);
    expect(backoffMs(2, () => 0)).toBe(500);
  });
});

describe('sendTokenRequest', () => {
  it('retries 500 then succeeds: two requests', async () => {
    const { fetch, calls } = scriptedFetch([json(500, {}), json(200, { ok: true })]);
    const deps = testDeps({ fetch });
    const res = await sendTokenRequest(deps, request);
    expect(res.status).toBe(200);
    expect(calls).toHaveLength(2);
    expect(calls[0]!.init.redirect).toBe('manual');
  });

  it('gives up after three attempts on 503 with exit 5', async () => {
    const { fetch, calls } = scriptedFetch([json(503, {}), json(503, {}), json(503, {})]);
    await expect(sendTokenRequest(testDeps({ fetch }), request)).rejects.toMatchObject({
      exitCode: 5,
      message: expect.stringContaining('3 attempts'),
    });
    expect(calls).toHaveLength(3);
  });

  it('retries network errors', async () => {
    const { fetch, calls } = scriptedFetch([new TypeError('fetch failed'), json(200, {})]);
    await sendTokenRequest(testDeps({ fetch }), request);
    expect(calls).toHaveLength(2);
  });

  it('waits out a short 429 per Retry-After', async () => {
    const { fetch } = scriptedFetch([json(429, {}, { 'retry-after': '3' }), json(200, {})]);
    const deps = testDeps({ fetch });
    await sendTokenRequest(deps, request);
    expect(deps.slept).toEqual([3000]);
  });

  it('gives up at once on a 429 longer than 30 s', async () => {
    const { fetch, calls } = scriptedFetch([json(429, {}, { 'retry-after': '120' })]);
    await expect(sendTokenRequest(testDeps({ fetch }), request)).rejects.toMatchObject({
      exitCode: 5,
      message: expect.stringContaining('120 s'),
    });
    expect(calls).toHaveLength(1);
  });

  it('does not follow a redirect', async () => {
    const { fetch } = scriptedFetch([new Response(null, { status: 302, headers: { location: 'https://evil.test/' } })]);
    await expect(sendTokenRequest(testDeps({ fetch }), request)).rejects.toMatchObject({
      exitCode: 5,
      message: expect.stringContaining('redirect'),
    });
  });

  it('returns 4xx answers for the processor to judge', async () => {
    const { fetch } = scriptedFetch([json(401, { error: 'invalid_client' })]);
    expect((await sendTokenRequest(testDeps({ fetch }), request)).status).toBe(401);
  });
});

describe('processTokenResponse', () => {
  const schema = z.object({ access_token: z.string(), expires_in: z.number() });
  const opts = { providerTitle: 'Acme', schema, loginHint: 'Run `tokens login acme`.' };
  const res = (status: number, text: string) => ({ status, headers: new Headers(), text });

  it.each([
    [res(200, '{"access_token":"a","expires_in":1}'), 0, ''],
    [res(200, 'not json'), 5, 'not JSON'],
    [res(200, '{"expires_in":1}'), 5, 'access_token missing'],
    [res(200, '{"access_token":5,"expires_in":1}'), 5, 'access_token invalid'],
    [res(400, '{"error":"invalid_grant","error_description":"gone"}'), 4, 'invalid_grant: gone'],
    [res(401, '{"error":"invalid_client"}'), 4, 'invalid_client'],
    [res(403, '<html>nope</html>'), 4, 'HTTP 403'],
    [res(405, ''), 5, 'HTTP 405'],
  ])('case %#', (response, code, text) => {
    if (code === 0) return expect(processTokenResponse(response, opts)).toEqual({ access_token: 'a', expires_in: 1 });
    try {
      processTokenResponse(response, opts);
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ exitCode: code });
      expect((error as Error).message).toContain(text);
      expect((error as Error).message).toContain('Acme');
    }
  });

  it('never repeats the body of a 200 that failed validation', () => {
    expect(() => processTokenResponse(res(200, '{"token_secret_value":"s3cr3t-value"}'), opts)).toThrow(
      expect.not.objectContaining({ message: expect.stringContaining('s3cr3t') }),
    );
  });

  it('strips control characters from error descriptions', () => {
    expect(() => processTokenResponse(res(400, '{"error":"x","error_description":"a\\u001b[31mb\\nc"}'), opts)).toThrow(
      /x: a \[31mb c/,
    );
  });
});
