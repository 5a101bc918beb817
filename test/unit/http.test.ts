import { describe, expect, it } from 'vitest';
import { backoffMs, rateLimitWaitMs, sendTokenRequest } from '../../src/http/http.js';
import { processTokenResponse } from '../../src/oauth/oauth.js';
import type { TransportInit } from '../../src/model/transport.js';
import { z } from 'zod';
import { brokenOff, fetchFailed, json, noAnswer, scriptedFetch, socketError, testDeps } from '../support/deps.js';

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

  it.each([
    ['Retry-After', { 'retry-after': '99999999999999' }],
    ['Retry-After beyond any number', { 'retry-after': '9'.repeat(400) }],
    ['X-RateLimit-Reset', { 'x-ratelimit-reset': '99999999999999' }],
  ])('a 429 asking for an absurd wait (%s) is exit 5 saying so, not a date error', async (_name, headers) => {
    const { fetch, calls } = scriptedFetch([json(429, {}, headers)]);
    await expect(sendTokenRequest(testDeps({ fetch }), request)).rejects.toMatchObject({
      exitCode: 5,
      message: 'Test is rate limiting token requests for more than a year (tokens waits at most 30 s)',
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

describe('sendTokenRequest: a request that spends a single-use secret', () => {
  const REFRESH_TOKEN = 'rt-single-use-SECRET-1';
  const spending = {
    ...request,
    body: `grant_type=refresh_token&refresh_token=${REFRESH_TOKEN}`,
    secrets: [REFRESH_TOKEN],
    spends: {
      secret: 'refresh token',
      hint: 'If the next call says to log in again, run `tokens login test`.',
    },
  };
  const fast = { env: { TOKENS_HTTP_TIMEOUT: '0.05' } };

  /** Exit 5, one line saying why it was not repeated, the hint, and never the refresh token. */
  async function sentOnce(answers: Parameters<typeof scriptedFetch>[0], problem: RegExp) {
    const { fetch, calls } = scriptedFetch(answers);
    const deps = testDeps({ fetch, ...fast });
    const error = await sendTokenRequest(deps, spending).then(
      () => expect.unreachable(),
      (e: unknown) => e as Error & { exitCode: number; hint?: string },
    );
    expect(calls).toHaveLength(1);
    expect(deps.slept).toEqual([]);
    expect(error.exitCode).toBe(5);
    expect(error.message).toMatch(problem);
    expect(error.message).toMatch(
      /sent once, not repeated, because it spends a single-use refresh token that Test may have accepted$/,
    );
    expect(error.message).not.toContain('\n');
    expect(error.hint).toBe('If the next call says to log in again, run `tokens login test`.');
    expect(`${error.message} ${error.hint}`).not.toContain(REFRESH_TOKEN);
  }

  it('is sent once after a timeout', () => sentOnce([noAnswer], /no answer within 0\.05 s/));

  it.each([500, 502, 504])('is sent once after a %i', (status) =>
    sentOnce([json(status, {}), json(200, {})], new RegExp(`\\(HTTP ${status}\\)`)),
  );

  it('is sent once after a body that broke off mid-answer', () =>
    sentOnce([brokenOff, json(200, {})], /the answer to HTTP 200 broke off: ECONNRESET/));

  it.each([
    ['a reset (node:http)', socketError('ECONNRESET', 'read')],
    ['a reset (fetch)', fetchFailed('ECONNRESET', 'read')],
    ['a host unreachable once connected', socketError('EHOSTUNREACH', 'read')],
    ['an error without a code', new TypeError('fetch failed')],
  ])('is sent once after %s', (_what, error) => sentOnce([error, json(200, {})], /\(\w+( \w+)?\)/));

  it.each([
    ['ECONNREFUSED (fetch)', fetchFailed('ECONNREFUSED')],
    ['ECONNREFUSED (node:http)', socketError('ECONNREFUSED')],
    ['ENOTFOUND', socketError('ENOTFOUND', 'getaddrinfo')],
    ['EAI_AGAIN', fetchFailed('EAI_AGAIN', 'getaddrinfo')],
    ['EHOSTUNREACH on connect', socketError('EHOSTUNREACH')],
    ['ENETUNREACH on connect', socketError('ENETUNREACH')],
  ])('is repeated after %s: the connection was never made', async (_what, error) => {
    const { fetch, calls } = scriptedFetch([error, json(200, { ok: true })]);
    expect((await sendTokenRequest(testDeps({ fetch }), spending)).status).toBe(200);
    expect(calls).toHaveLength(2);
  });

  it('is repeated after a 503 (temporarily unavailable), with backoff', async () => {
    const { fetch, calls } = scriptedFetch([json(503, {}), json(200, { ok: true })]);
    const deps = testDeps({ fetch });
    expect((await sendTokenRequest(deps, spending)).status).toBe(200);
    expect(calls).toHaveLength(2);
    expect(deps.slept).toHaveLength(1);
  });

  it('is repeated after a 429 with Retry-After, once waited out', async () => {
    const { fetch, calls } = scriptedFetch([json(429, {}, { 'retry-after': '2' }), json(200, { ok: true })]);
    const deps = testDeps({ fetch });
    expect((await sendTokenRequest(deps, spending)).status).toBe(200);
    expect(calls).toHaveLength(2);
    expect(deps.slept).toEqual([2000]);
  });

  it('still gives up after three attempts when the connection is never made', async () => {
    const refused = () => Promise.reject(fetchFailed('ECONNREFUSED'));
    const { fetch, calls } = scriptedFetch([refused, refused, refused]);
    await expect(sendTokenRequest(testDeps({ fetch }), spending)).rejects.toMatchObject({
      exitCode: 5,
      message: expect.stringContaining('unavailable after 3 attempts (ECONNREFUSED)'),
    });
    expect(calls).toHaveLength(3);
  });
});

describe('sendTokenRequest: a request that spends nothing single-use keeps its retries', () => {
  it.each([
    ['a timeout', noAnswer],
    ['a 500', json(500, {})],
    ['a 502', json(502, {})],
    ['a 504', json(504, {})],
    ['a reset', socketError('ECONNRESET', 'read')],
    ['a body that broke off', brokenOff],
  ] as const)('is repeated after %s', async (_what, first) => {
    const { fetch, calls } = scriptedFetch([first, json(200, { ok: true })]);
    const deps = testDeps({ fetch, env: { TOKENS_HTTP_TIMEOUT: '0.05' } });
    expect((await sendTokenRequest(deps, request)).status).toBe(200);
    expect(calls).toHaveLength(2);
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

describe('a token request under one timeout for the whole attempt', () => {
  /** A 200 whose body comes a byte every 10 ms for ever, until the request is aborted. */
  const trickle = (init: RequestInit) => {
    const signal = init.signal!;
    let timer: ReturnType<typeof setInterval> | undefined;
    return new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{'));
          timer = setInterval(() => controller.enqueue(new TextEncoder().encode(' ')), 10);
          signal.addEventListener('abort', () => (clearInterval(timer), controller.error(signal.reason)), {
            once: true,
          });
        },
        cancel: () => clearInterval(timer),
      }),
      { status: 200, headers: { 'content-type': 'application/json' } },
    );
  };

  it('ends an answer that trickles in, however steadily: exit 5 after three attempts', async () => {
    const { fetch, calls } = scriptedFetch([trickle, trickle, trickle]);
    const deps = testDeps({ fetch, env: { TOKENS_HTTP_TIMEOUT: '0.1' } });
    await expect(sendTokenRequest(deps, request)).rejects.toMatchObject({
      exitCode: 5,
      message: expect.stringMatching(/broke off \(no answer within 0\.1 s\)/),
    });
    expect(calls).toHaveLength(3);
  });
});

describe('proxies from the standard variables', () => {
  async function routeOf(env: Record<string, string>, url = request.url) {
    const { fetch, calls } = scriptedFetch([json(200, {})]);
    const lines: string[] = [];
    await sendTokenRequest(testDeps({ fetch, env, debug: (line) => lines.push(line) }), { ...request, url });
    return { proxy: (calls[0]!.init as TransportInit).proxy?.href, lines };
  }

  it('sends https through HTTPS_PROXY and names it in debug lines as HOST:PORT only', async () => {
    const { proxy, lines } = await routeOf({ HTTPS_PROXY: 'http://someone:pa55word@proxy.test:3128' });
    expect(proxy).toBe('http://someone:pa55word@proxy.test:3128/');
    expect(lines.join('\n')).toContain('through the proxy proxy.test:3128');
    expect(lines.join('\n')).not.toMatch(/someone|pa55word/);
  });

  it.each([
    [{ https_proxy: 'http://lower.test:1', HTTPS_PROXY: 'http://upper.test:2' }, 'http://lower.test:1/'],
    [{ HTTPS_PROXY: 'proxy.test' }, 'http://proxy.test:1080/'],
    [{ HTTP_PROXY: 'http://proxy.test:3128' }, undefined],
  ])('%j → %s for an https URL', async (env, expected) => {
    expect((await routeOf(env)).proxy).toBe(expected);
  });

  it('sends http through HTTP_PROXY', async () => {
    const env = { HTTP_PROXY: 'http://proxy.test:3128', HTTPS_PROXY: 'http://other.test:1' };
    expect((await routeOf(env, 'http://example.test/token')).proxy).toBe('http://proxy.test:3128/');
  });

  it.each([
    ['*', undefined],
    ['example.test', undefined],
    ['.example.test', undefined],
    ['other.test, test', undefined],
    ['other.test,example.test:443', undefined],
    ['example.test:8443', 'http://proxy.test:3128/'],
    ['ample.test', 'http://proxy.test:3128/'],
    ['', 'http://proxy.test:3128/'],
  ])('NO_PROXY=%j → %s', async (noProxy, expected) => {
    expect((await routeOf({ HTTPS_PROXY: 'http://proxy.test:3128', NO_PROXY: noProxy })).proxy).toBe(expected);
  });

  it.each(['https://localhost/token', 'https://127.0.0.5:8443/token', 'https://[::1]/token', 'http://127.0.0.1/t'])(
    'reaches the loopback host of %s directly',
    async (url) => {
      const env = { HTTPS_PROXY: 'http://proxy.test:3128', HTTP_PROXY: 'http://proxy.test:3128' };
      expect((await routeOf(env, url)).proxy).toBeUndefined();
    },
  );

  it('refuses a proxy variable that is not an http:// URL with exit 2, naming it but not its value', async () => {
    const error = await routeOf({ HTTPS_PROXY: 'socks5://someone:pa55word@proxy.test:1080' }).then(
      () => expect.unreachable(),
      (e: unknown) => e as Error & { exitCode: number },
    );
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain('HTTPS_PROXY');
    expect(error.message).not.toContain('pa55word');
  });
});
