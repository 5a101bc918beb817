// The pieces of `tokens api` as units: field parsing and nesting, headers, URL resolution under the
// base, the pagination strategies, the HTTP layer's policy (retries per method, 429 waits,
// redirects and where the credentials go), and the broker's "this token was refused".
import { mkdtemp, writeFile } from 'node:fs/promises';
import { validateHeaderValue } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiBase, isUnderBase, resolveNextPage, resolveTarget } from '../../src/api/api-url.js';
import { TokenBroker, secretKey } from '../../src/broker/broker.js';
import { readCache, writeCache } from '../../src/files/cache.js';
import { updateSettings } from '../../src/files/config.js';
import {
  exchange,
  findResetTime,
  rateLimitWaitMs,
  redactUrl,
  retryableRequest,
  type Exchange,
} from '../../src/http/http.js';
import { multipartBody } from '../../src/http/request-body.js';
import {
  NOT_IN_HEADER_VALUE,
  nestFields,
  parseField,
  parseFormPart,
  parseHeader,
  fieldSource,
  typedValue,
} from '../../src/http/request-fields.js';
import { planApiRequest, type ApiOptions } from '../../src/commands/api.js';
import { chartmetric } from '../../src/providers/chartmetric/index.js';
import { pagination as soundchartsPages } from '../../src/providers/soundcharts/pagination.js';
import { pagination as soundcloudPages } from '../../src/providers/soundcloud/pagination.js';
import { soundcloud } from '../../src/providers/soundcloud/index.js';
import { json, scriptedFetch, testDeps } from '../support/deps.js';

const NOW = Date.UTC(2026, 10, 23, 12);

describe('-f / -F fields', () => {
  const nest = (...args: Array<[string, boolean]>) =>
    nestFields(
      args.map(([arg, typed]) => {
        const spec = parseField(arg, typed);
        const source = fieldSource(spec);
        if (!('value' in source)) throw new Error('not a literal');
        return { spec, value: source.value };
      }),
    );

  it.each([
    [[['a=1', false]], { a: '1' }],
    [[['a=1', true]], { a: 1 }],
    [
      [
        ['a=-12', true],
        ['b=1.5', true],
        ['c=007', true],
      ],
      { a: -12, b: '1.5', c: '007' },
    ],
    [
      [
        ['t=true', true],
        ['f=false', true],
        ['n=null', true],
        ['s=true', false],
      ],
      { t: true, f: false, n: null, s: 'true' },
    ],
    [[['big=12345678901234567890', true]], { big: '12345678901234567890' }],
    [[['track[title]=New', false]], { track: { title: 'New' } }],
    [
      [
        ['track[title]=New', false],
        ['track[sharing]=public', false],
      ],
      { track: { title: 'New', sharing: 'public' } },
    ],
    [[['a[b][c]=1', true]], { a: { b: { c: 1 } } }],
    [
      [
        ['ids[]=1', true],
        ['ids[]=2', true],
      ],
      { ids: [1, 2] },
    ],
    [
      [
        ['tracks[][id]=1', true],
        ['tracks[][id]=2', true],
      ],
      { tracks: [{ id: 1 }, { id: 2 }] },
    ],
    [[['q=a=b', false]], { q: 'a=b' }],
    [[['empty=', false]], { empty: '' }],
  ] as Array<[Array<[string, boolean]>, unknown]>)('%j → %j', (args, expected) => {
    expect(nest(...args)).toEqual(expected);
  });

  it.each([['noequals'], ['=value'], ['a[b=1'], ['a]b=1'], ['a[b]c=1']])('%s is a usage error', (arg) => {
    expect(() => parseField(arg, false)).toThrow(expect.objectContaining({ exitCode: 2 }));
  });

  it.each([[['a=1', 'a[b]=2']], [['a[b]=1', 'a=2']], [['a=1', 'a=2']], [['a[]=1', 'a[b]=2']]])(
    'conflicting keys %j are a usage error',
    (args) => {
      expect(() => nest(...args.map((a) => [a, false] as [string, boolean]))).toThrow(
        expect.objectContaining({ exitCode: 2 }),
      );
    },
  );

  it('a key named like an Object property is a plain key', () => {
    expect(nest(['constructor=1', false], ['toString[x]=2', false])).toEqual({
      constructor: '1',
      toString: { x: '2' },
    });
  });

  it('-F @PATH and @- are read later; -f never reads files', () => {
    expect(fieldSource(parseField('body=@notes.txt', true))).toEqual({ file: 'notes.txt' });
    expect(fieldSource(parseField('body=@-', true))).toEqual({ stdin: true });
    expect(fieldSource(parseField('body=@notes.txt', false))).toEqual({ value: '@notes.txt' });
    expect(typedValue('@')).toBe('@');
  });
});

describe('-H and --form', () => {
  it('parses Name: value', () => {
    expect(parseHeader('Accept: application/json; charset=utf-8')).toEqual([
      'Accept',
      'application/json; charset=utf-8',
    ]);
    expect(parseHeader('X-Empty:')).toEqual(['X-Empty', '']);
  });
  it.each([
    'Authorization: OAuth x',
    'authorization: Bearer y',
    'X-App-Id: a',
    'x-api-key: k',
    'Content-Length: 5',
    'Host: evil',
    'no colon',
    ': v',
    'Bad Name: v',
  ])('%s is a usage error', (arg) => expect(() => parseHeader(arg)).toThrow(expect.objectContaining({ exitCode: 2 })));
  it.each([
    ['X-Title: ☃', 'U+2603'],
    ['X-Title: a\u0001b', 'U+0001'],
    ['X-Title: \u001b[2J', 'U+001B'],
    ['X-Title: a\u007f', 'U+007F'],
    ['X-Title: a\rX-Injected: 1', 'U+000D'],
    ['X-Title: 🎵', 'U+1F3B5'],
  ])('%j: a value node:http would refuse to send is a usage error naming the character', (arg, codePoint) => {
    expect(() => parseHeader(arg)).toThrow(
      expect.objectContaining({
        exitCode: 2,
        message: `-H X-Title: a header value may hold only tabs and printable Latin-1 characters, not ${codePoint}`,
      }),
    );
  });
  it('refuses exactly the header values node:http refuses', () => {
    const refusedByNode = (c: string) => {
      try {
        validateHeaderValue('x-test', c);
        return false;
      } catch {
        return true;
      }
    };
    const chars = Array.from({ length: 0x800 }, (_, cp) => String.fromCodePoint(cp));
    expect(chars.filter((c) => NOT_IN_HEADER_VALUE.test(c))).toEqual(chars.filter(refusedByNode));
    expect(parseHeader('X-Name: Zoë\tBjörk')).toEqual(['X-Name', 'Zoë\tBjörk']);
  });
  it('--form parts', () => {
    expect(parseFormPart('track[title]=Demo')).toEqual({ name: 'track[title]', text: 'Demo' });
    expect(parseFormPart('track[asset_data]=@demo.wav')).toEqual({ name: 'track[asset_data]', file: 'demo.wav' });
    expect(() => parseFormPart('x=@-')).toThrow(expect.objectContaining({ exitCode: 2 }));
  });
});

describe('URLs under the API base', () => {
  const base = (url: string) => apiBase(soundcloud, { TOKENS_SOUNDCLOUD_API_URL: url });

  it.each([
    ['https://api.soundcloud.com', '/me', 'https://api.soundcloud.com/me'],
    ['https://api.soundcloud.com/', '/me?x=1', 'https://api.soundcloud.com/me?x=1'],
    ['https://proxy.example/sc', '/me', 'https://proxy.example/sc/me'],
    ['https://proxy.example/sc/', '/tracks/1', 'https://proxy.example/sc/tracks/1'],
    ['https://proxy.example/sc', 'https://proxy.example/sc/me', 'https://proxy.example/sc/me'],
    ['https://proxy.example/sc', 'https://proxy.example/sc', 'https://proxy.example/sc'],
    ['http://127.0.0.1:8080/sc', '//evil.example/x', 'http://127.0.0.1:8080/sc//evil.example/x'],
    ['https://proxy.example/sc', '/tracks/a%2Fb/..x', 'https://proxy.example/sc/tracks/a%2Fb/..x'],
  ])('%s + %s → %s', (b, target, expected) => {
    expect(resolveTarget(base(b), target, 'soundcloud').href).toBe(expected);
  });

  it.each([
    ['https://api.soundcloud.com', 'https://evil.example/me'],
    ['https://api.soundcloud.com', 'http://api.soundcloud.com/me'],
    ['https://api.soundcloud.com', 'https://api.soundcloud.com:444/me'],
    ['https://api.soundcloud.com', 'https://user:pw@api.soundcloud.com/me'],
    ['https://proxy.example/sc', 'https://proxy.example/other'],
    ['https://proxy.example/sc', 'https://proxy.example/scx/me'],
    ['https://proxy.example/sc', '/../admin'],
    ['https://proxy.example/sc', '/%2e%2e/admin'],
    ['https://proxy.example/sc', 'https://proxy.example/sc/../admin'],
    ['https://api.soundcloud.com', 'me'],
    ['https://api.soundcloud.com', 'file:///etc/passwd'],
  ])('%s: %s is a usage error', (b, target) => {
    expect(() => resolveTarget(base(b), target, 'soundcloud')).toThrow(expect.objectContaining({ exitCode: 2 }));
  });

  it.each([
    '/..%2fchartmetric/x',
    '/..%2Fchartmetric/x',
    '/%2e%2e%2fchartmetric/x',
    '/.%2e%2Fchartmetric/x',
    '/me/..%5c..%5cadmin',
    '/me/%2e%2e%5Cadmin',
    '/%252e%252e%252fchartmetric/x',
    '/tracks/..%2f',
  ])('%s (a dot segment hidden in percent-encoding) is a usage error saying so', (target) => {
    expect(() => resolveTarget(base('https://proxy.example/sc'), target, 'soundcloud')).toThrow(
      expect.objectContaining({
        exitCode: 2,
        message: expect.stringContaining('hides a dot segment in percent-encoding'),
      }),
    );
    expect(() => resolveTarget(base('https://api.soundcloud.com'), target, 'soundcloud')).toThrow(
      expect.objectContaining({ exitCode: 2 }),
    );
    const b = base('https://proxy.example/sc');
    const current = new URL('https://proxy.example/sc/me');
    expect(resolveNextPage(b, current, target)).toMatchObject({ outside: expect.any(String) });
    expect(resolveNextPage(b, current, `https://proxy.example/sc${target}`)).toMatchObject({
      outside: expect.any(String),
    });
  });

  it('the base override follows the loopback-only http:// rule and must be a plain URL', () => {
    expect(() => base('http://example.com')).toThrow(expect.objectContaining({ exitCode: 2 }));
    expect(() => base('https://example.com/?q=1')).toThrow(expect.objectContaining({ exitCode: 2 }));
    expect(base('http://[::1]:9/x').href).toBe('http://[::1]:9/x');
    expect(apiBase(soundcloud, {}).href).toBe('https://api.soundcloud.com');
  });

  it('next-page links: relative to the page, or paths under the base; absolute URLs must be under it', () => {
    const b = base('https://proxy.example/sc');
    const current = new URL('https://proxy.example/sc/me/tracks?linked_partitioning=true');
    expect(resolveNextPage(b, current, '/me/tracks?cursor=2')).toEqual({
      url: new URL('https://proxy.example/sc/me/tracks?cursor=2'),
    });
    expect(resolveNextPage(b, current, 'https://proxy.example/sc/me/tracks?cursor=3')).toEqual({
      url: new URL('https://proxy.example/sc/me/tracks?cursor=3'),
    });
    expect(resolveNextPage(b, current, 'https://cdn.example/page?cursor=2&token=x')).toEqual({
      outside: 'https://cdn.example/page',
    });
    expect(resolveNextPage(b, current, '//cdn.example/x')).toEqual({ outside: 'https://cdn.example/x' });
    // A path that already carries the prefix (the API lives under it) is not prefixed twice.
    expect(resolveNextPage(b, current, '/sc/me/tracks?cursor=4')).toEqual({
      url: new URL('https://proxy.example/sc/me/tracks?cursor=4'),
    });
    expect(resolveNextPage(b, current, 'tracks?cursor=5')).toEqual({
      url: new URL('https://proxy.example/sc/me/tracks?cursor=5'),
    });
    expect(resolveNextPage(b, current, '/../../admin')).toEqual({ outside: 'https://proxy.example/admin' });
  });
});

describe('pagination strategies', () => {
  it('SoundCloud: linked_partitioning added when absent, collection + next_href', () => {
    expect(soundcloudPages.firstPage(new URL('https://a.test/me/tracks?limit=2')).search).toBe(
      '?limit=2&linked_partitioning=true',
    );
    expect(soundcloudPages.firstPage(new URL('https://a.test/x?linked_partitioning=1')).search).toBe(
      '?linked_partitioning=1',
    );
    expect(soundcloudPages.readPage({ collection: [1, 2], next_href: 'https://a.test/x?cursor=2' })).toEqual({
      items: [1, 2],
      next: 'https://a.test/x?cursor=2',
    });
    expect(soundcloudPages.readPage({ collection: [3], next_href: null })).toEqual({ items: [3] });
    expect(soundcloudPages.readPage({ collection: [] })).toEqual({ items: [] });
    expect(soundcloudPages.readPage([1, 2])).toMatchObject({ problem: expect.stringContaining('collection') });
    expect(soundcloudPages.readPage({ collection: [], next_href: 5 })).toMatchObject({
      problem: expect.stringContaining('next_href'),
    });
  });
  it('Soundcharts: items + page.next', () => {
    expect(soundchartsPages.firstPage(new URL('https://a.test/x?offset=0')).href).toBe('https://a.test/x?offset=0');
    expect(
      soundchartsPages.readPage({ items: [{ a: 1 }], page: { offset: 0, total: 2, next: '/x?offset=1' } }),
    ).toEqual({ items: [{ a: 1 }], next: '/x?offset=1' });
    expect(soundchartsPages.readPage({ items: [], page: { next: null } })).toEqual({ items: [] });
    expect(soundchartsPages.readPage({ collection: [] })).toMatchObject({ problem: expect.stringContaining('items') });
  });
});

describe('planApiRequest: usage errors before anything', () => {
  const options = (over: Partial<ApiOptions> = {}): ApiOptions => ({
    provider: soundcloud,
    profile: 'default',
    target: '/me',
    headers: [],
    fields: [],
    form: [],
    paginate: false,
    maxPages: 1000,
    include: false,
    silent: false,
    maxWaitSeconds: 30,
    ...over,
  });
  const f = (arg: string) => parseField(arg, false);

  it.each([
    [{}, 'GET', 'query'],
    [{ fields: [f('q=x')] }, 'GET', 'query'],
    [{ fields: [f('q=x')], method: 'DELETE' }, 'DELETE', 'query'],
    [{ fields: [f('q=x')], method: 'POST' }, 'POST', 'body'],
    [{ fields: [f('q=x')], method: 'PATCH' }, 'PATCH', 'body'],
    [{ input: 'body.json' }, 'POST', 'body'],
    [{ input: '-', method: 'PUT' }, 'PUT', 'body'],
    [{ form: [{ name: 'a', text: 'b' }] }, 'POST', 'body'],
    [{ input: 'x', method: 'DELETE', fields: [f('q=1')] }, 'DELETE', 'query'],
  ] as Array<[Partial<ApiOptions>, string, string]>)('%j → %s, fields in %s', (over, method, fieldsIn) => {
    expect(planApiRequest(options(over), {})).toMatchObject({ method, fieldsIn });
  });

  it.each([
    [{ method: 'BREW' }, 'unknown method'],
    [{ input: 'a', form: [{ name: 'a', text: 'b' }] }, 'use one'],
    [{ input: 'a', method: 'GET' }, 'has no body'],
    [{ form: [{ name: 'a', text: 'b' }], method: 'HEAD' }, 'has no body'],
    [{ input: 'a', fields: [f('x=1')] }, 'already gives'],
    [{ input: '-', fields: [parseField('x=@-', true)], method: 'DELETE' }, 'stdin can be read once'],
    [{ provider: chartmetric, paginate: true }, 'no next-page links'],
    [{ paginate: true, method: 'POST' }, 'GET requests'],
    [{ paginate: true, include: true }, '--include'],
    [{ target: 'https://evil.example/me' }, 'not under the soundcloud API base'],
  ] as Array<[Partial<ApiOptions>, string]>)('%j: exit 2 (%s)', (over, says) => {
    expect(() => planApiRequest(options(over), {})).toThrow(
      expect.objectContaining({ exitCode: 2, message: expect.stringContaining(says) }),
    );
  });
});

describe('the HTTP layer', () => {
  const API = 'https://api.test';
  const request = (over: Partial<Exchange> = {}): Exchange => ({
    method: 'GET',
    url: new URL(`${API}/me`),
    headers: {},
    credentials: [['Authorization', 'OAuth tok-123456']],
    credentialsGoTo: (url) => url.origin === API,
    retry: true,
    redirects: 'follow',
    maxRateLimitWaitMs: 30_000,
    what: 'test (GET /me)',
    label: 'test',
    rateLimitNoun: 'requests',
    verboseUrls: true,
    ...over,
  });
  const auth = (init: RequestInit) => (init.headers as Record<string, string>).Authorization;

  it('retry policy per method: idempotent methods with a replayable body only', () => {
    for (const m of ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']) expect(retryableRequest(m, undefined)).toBe(true);
    for (const m of ['POST', 'PATCH']) expect(retryableRequest(m, undefined)).toBe(false);
    expect(retryableRequest('PUT', { open: () => new Uint8Array(), replayable: false })).toBe(false);
    expect(retryableRequest('PUT', { open: () => new Uint8Array(), replayable: true })).toBe(true);
  });

  it.each([500, 502, 503, 504])('GET: %s is retried with backoff, 3 attempts in all, then exit 5', async (status) => {
    const { fetch, calls } = scriptedFetch([json(status, {}), json(status, {}), json(status, {})]);
    const deps = testDeps({ fetch });
    await expect(exchange(deps, request())).rejects.toMatchObject({
      exitCode: 5,
      message: expect.stringContaining('3 attempts'),
    });
    expect(calls).toHaveLength(3);
    expect(deps.slept).toHaveLength(2);
  });

  it('GET: a network error then 200', async () => {
    const { fetch, calls } = scriptedFetch([
      Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } }),
      json(200, { ok: 1 }),
    ]);
    const answer = await exchange(testDeps({ fetch }), request());
    expect(answer.status).toBe(200);
    expect(await answer.text(1000)).toBe('{"ok":1}');
    expect(calls).toHaveLength(2);
  });

  it.each([
    ['POST', json(503, {})],
    ['PATCH', json(504, {})],
    ['POST', new TypeError('fetch failed')],
  ])('%s is sent once: %s → exit 5', async (method, answer) => {
    const { fetch, calls } = scriptedFetch([answer]);
    await expect(
      exchange(
        testDeps({ fetch }),
        request({ method, retry: retryableRequest(method, undefined), redirects: 'return' }),
      ),
    ).rejects.toMatchObject({
      exitCode: 5,
      message: expect.stringContaining(`sent once`),
    });
    expect(calls).toHaveLength(1);
  });

  it('a body from stdin is sent once, even by PUT', async () => {
    const body = { open: () => new Uint8Array([1]), replayable: false };
    const { fetch, calls } = scriptedFetch([json(503, {})]);
    await expect(
      exchange(testDeps({ fetch }), request({ method: 'PUT', body, retry: retryableRequest('PUT', body) })),
    ).rejects.toMatchObject({ exitCode: 5 });
    expect(calls).toHaveLength(1);
  });

  it.each([
    ['Retry-After seconds', { 'retry-after': '7' }, '', 7000],
    ['Retry-After date', { 'retry-after': new Date(NOW + 9000).toUTCString() }, '', 9000],
    ['X-RateLimit-Reset', { 'x-ratelimit-reset': String(NOW / 1000 + 11) }, '', 11_000],
    [
      'SoundCloud reset_time',
      {},
      JSON.stringify({
        errors: [
          {
            meta: {
              rate_limit: { bucket: 'by-client' },
              remaining_requests: 0,
              reset_time: '2026/11/23 12:00:13 +0000',
            },
          },
        ],
      }),
      13_000,
    ],
  ])('429 with %s: waited, then repeated (even a POST)', async (_name, headers, body, waited) => {
    const { fetch, calls } = scriptedFetch([new Response(body, { status: 429, headers }), json(200, {})]);
    const deps = testDeps({ fetch });
    const answer = await exchange(deps, request({ method: 'POST', retry: false, redirects: 'return' }));
    expect(answer.status).toBe(200);
    expect(deps.slept).toEqual([waited]);
    expect(calls).toHaveLength(2);
  });

  it('429 past --max-wait: exit 5 at once, saying when the limit resets', async () => {
    const { fetch, calls } = scriptedFetch([json(429, {}, { 'retry-after': '120' })]);
    const deps = testDeps({ fetch });
    await expect(exchange(deps, request({ maxRateLimitWaitMs: 5000 }))).rejects.toMatchObject({
      exitCode: 5,
      message: expect.stringMatching(
        /rate limiting requests for 120 s \(the limit resets at 2026-11-23T12:02:00Z; tokens waits at most 5 s\)/,
      ),
    });
    expect(calls).toHaveLength(1);
    expect(deps.slept).toEqual([]);
  });

  it('429 without a reset time: exit 5', async () => {
    const { fetch } = scriptedFetch([json(429, {})]);
    await expect(exchange(testDeps({ fetch }), request())).rejects.toMatchObject({
      exitCode: 5,
      message: expect.stringContaining('did not say when'),
    });
  });

  it.each([
    ['2026/11/23 12:00:40 +0000', NOW + 40_000],
    ['2026/11/23 13:00:40 +0100', NOW + 40_000],
    ['2026-11-23T12:00:40Z', NOW + 40_000],
    ['soon', undefined],
  ])('reset_time %s', (text, expected) => {
    expect(findResetTime(JSON.stringify({ errors: [{ meta: { reset_time: text } }] }))).toBe(expected);
    expect(rateLimitWaitMs(new Headers(), NOW, 'not json')).toBeUndefined();
  });

  it('a GET redirected to another origin is followed without the credentials, and they stay behind', async () => {
    const { fetch, calls } = scriptedFetch([
      new Response(null, { status: 302, headers: { location: `${API}/moved` } }),
      new Response(null, { status: 302, headers: { location: 'https://cdn.test/file.mp3' } }),
      new Response(null, { status: 307, headers: { location: `${API}/back` } }),
      new Response('bytes', { status: 200 }),
    ]);
    const answer = await exchange(testDeps({ fetch }), request());
    expect(calls.map((c) => [c.url, auth(c.init)])).toEqual([
      [`${API}/me`, 'OAuth tok-123456'],
      [`${API}/moved`, 'OAuth tok-123456'],
      ['https://cdn.test/file.mp3', undefined],
      [`${API}/back`, undefined],
    ]);
    expect(answer.credentialsSent).toBe(false);
    expect(await answer.text(100)).toBe('bytes');
  });

  it('a redirect outside the API base on the same origin gets no credentials, nor does anything after it', async () => {
    const base = apiBase(soundcloud, { TOKENS_SOUNDCLOUD_API_URL: `${API}/api/soundcloud` });
    const { fetch, calls } = scriptedFetch([
      new Response(null, { status: 302, headers: { location: '/api/soundcloud/moved' } }),
      new Response(null, { status: 302, headers: { location: '/api/soundcloud/..%2fchartmetric/x' } }),
      new Response(null, { status: 302, headers: { location: '/api/chartmetric/x' } }),
      new Response(null, { status: 307, headers: { location: '/api/soundcloud/back' } }),
      new Response('{}', { status: 200 }),
    ]);
    const answer = await exchange(
      testDeps({ fetch }),
      request({ url: new URL(`${API}/api/soundcloud/me`), credentialsGoTo: (url) => isUnderBase(base, url) }),
    );
    expect(calls.map((c) => [c.url, auth(c.init)])).toEqual([
      [`${API}/api/soundcloud/me`, 'OAuth tok-123456'],
      [`${API}/api/soundcloud/moved`, 'OAuth tok-123456'],
      [`${API}/api/soundcloud/..%2fchartmetric/x`, undefined],
      [`${API}/api/chartmetric/x`, undefined],
      [`${API}/api/soundcloud/back`, undefined],
    ]);
    expect(answer.credentialsSent).toBe(false);
  });

  it("the caller's headers follow redirects on the origin, and are dropped for good once one leaves it", async () => {
    const given = { cookie: 'session=abc123', 'proxy-authorization': 'Basic eHl6OnNlY3JldA', 'x-trace': 't1' };
    const { fetch, calls } = scriptedFetch([
      new Response(null, { status: 302, headers: { location: `${API}/moved` } }),
      new Response(null, { status: 302, headers: { location: 'https://cdn.test/file.mp3' } }),
      new Response(null, { status: 302, headers: { location: `${API}/back` } }),
      new Response('bytes', { status: 200 }),
    ]);
    await exchange(testDeps({ fetch }), request({ headers: given }));
    const sent = calls.map((c) => {
      const { Authorization: _, ...rest } = c.init.headers as Record<string, string>;
      return [c.url, rest];
    });
    expect(sent).toEqual([
      [`${API}/me`, given],
      [`${API}/moved`, given],
      ['https://cdn.test/file.mp3', {}],
      [`${API}/back`, {}],
    ]);
  });

  it('at most 5 redirects; never to plain http off loopback', async () => {
    const loop = () => new Response(null, { status: 302, headers: { location: `${API}/again` } });
    const { fetch, calls } = scriptedFetch(Array.from({ length: 6 }, loop));
    await expect(exchange(testDeps({ fetch }), request())).rejects.toMatchObject({
      exitCode: 5,
      message: expect.stringContaining('more than 5'),
    });
    expect(calls).toHaveLength(6);
    const plain = scriptedFetch([new Response(null, { status: 301, headers: { location: 'http://cdn.test/x' } })]);
    await expect(exchange(testDeps({ fetch: plain.fetch }), request())).rejects.toMatchObject({ exitCode: 5 });
  });

  it('a POST gets its redirect back as the answer; a token request refuses it', async () => {
    const { fetch } = scriptedFetch([new Response(null, { status: 303, headers: { location: `${API}/x` } })]);
    expect((await exchange(testDeps({ fetch }), request({ method: 'POST', redirects: 'return' }))).status).toBe(303);
    const token = scriptedFetch([new Response(null, { status: 302, headers: { location: `${API}/x` } })]);
    await expect(
      exchange(testDeps({ fetch: token.fetch }), request({ method: 'POST', redirects: 'refuse' })),
    ).rejects.toMatchObject({
      exitCode: 5,
      message: expect.stringContaining('redirect'),
    });
  });

  it('a streamed body gets a Content-Length when its length is known, and is reopened for a repeat', async () => {
    let opened = 0;
    const body = {
      open: () => {
        opened++;
        return (async function* () {
          yield new Uint8Array([1, 2, 3]);
        })();
      },
      length: 3,
      replayable: true,
    };
    const { fetch, calls } = scriptedFetch([json(503, {}), json(200, {})]);
    await exchange(testDeps({ fetch }), request({ method: 'PUT', body }));
    expect(opened).toBe(2);
    expect((calls[1]!.init.headers as Record<string, string>)['content-length']).toBe('3');
  });

  it('debug lines name method, URL, status and attempt, with secret query values masked', async () => {
    const lines: string[] = [];
    const { fetch } = scriptedFetch([json(503, {}), json(200, {})]);
    await exchange(
      testDeps({ fetch, debug: (l) => lines.push(l) }),
      request({ url: new URL(`${API}/me?oauth_token=abc123secret&x=1`) }),
    );
    expect(lines.join('\n')).toMatch(/GET https:\/\/api\.test\/me\?oauth_token=\[redacted\]&x=1 → 503 .*\(attempt 1\)/);
    expect(lines.join('\n')).toMatch(/→ 200 .*\(attempt 2\)/);
    expect(lines.join('\n')).not.toContain('abc123secret');
    expect(redactUrl(new URL('https://u:p@a.test/?client_secret=s&q=1'))).toBe(
      'https://a.test/?client_secret=[redacted]&q=1',
    );
  });

  it("debug lines and the answer carry a server's status text cleaned of control characters", async () => {
    const lines: string[] = [];
    const hostile = {
      status: 599,
      statusText: '\u001b]0;pwned\u0007\u001b[2K\rtokens: forged\u202e',
      headers: new Headers(),
      body: null,
    } as unknown as Response;
    const { fetch } = scriptedFetch([hostile]);
    const answer = await exchange(testDeps({ fetch, debug: (l) => lines.push(l) }), request());
    expect(lines).toEqual(['test: GET https://api.test/me → 599 ]0;pwned [2K tokens: forged (attempt 1)']);
    expect(answer.statusText).toBe(']0;pwned [2K tokens: forged');
  });

  it('debug lines name the parameters of a redirect hop, never their values (signed CDN links)', async () => {
    const signed = {
      Policy: 'eyJTdGF0ZW1lbnQiOltd',
      Signature: 'Zm9vYmFy~c2lnbmVk',
      'Key-Pair-Id': 'APKAEIBAERJR2EXAMPLE',
      'X-Amz-Signature': 'deadbeefcafe0123',
      'X-Amz-Security-Token': 'FQoGZXIvYXdzEXAMPLE',
    };
    const lines: string[] = [];
    const { fetch } = scriptedFetch([
      new Response(null, {
        status: 302,
        headers: { location: `https://cdn.test/file.mp3?${new URLSearchParams(signed)}` },
      }),
      new Response('bytes', { status: 200 }),
    ]);
    await exchange(testDeps({ fetch, debug: (l) => lines.push(l) }), request({ url: new URL(`${API}/me?q=1`) }));
    expect(lines).toEqual([
      'test: GET https://api.test/me?q=1 → 302 (attempt 1)',
      'test: the redirect leads outside where the credentials go; they stay behind',
      `test: GET https://cdn.test/file.mp3?${Object.keys(signed)
        .map((k) => `${k}=[redacted]`)
        .join('&')} → 200 (attempt 1)`,
    ]);
    for (const value of Object.values(signed)) expect(lines.join('\n')).not.toContain(value);
  });
});

describe('multipart bodies', () => {
  it('streams text parts and files, with an exact Content-Length', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tokens-mp-'));
    const file = join(dir, 'de"mo.wav');
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 256));
    await writeFile(file, bytes);
    const body = await multipartBody(
      [
        { name: 'track[title]', text: 'Démo' },
        { name: 'track[asset_data]', file },
      ],
      'BOUNDARY',
    );
    const parts: Buffer[] = [];
    for await (const chunk of body.open() as AsyncIterable<Uint8Array>) parts.push(Buffer.from(chunk));
    const all = Buffer.concat(parts);
    expect(all.length).toBe(body.length);
    const text = all.toString('latin1');
    expect(text).toContain('--BOUNDARY\r\nContent-Disposition: form-data; name="track[title]"\r\n\r\n');
    expect(text).toContain('name="track[asset_data]"; filename="de%22mo.wav"\r\nContent-Type: audio/wav\r\n\r\n');
    expect(text.endsWith('\r\n--BOUNDARY--\r\n')).toBe(true);
    expect(all.includes(bytes)).toBe(true);
    expect(body.contentType).toBe('multipart/form-data; boundary=BOUNDARY');
  });

  it('a missing file is a usage error', async () => {
    await expect(multipartBody([{ name: 'f', file: '/nonexistent/x.wav' }], 'B')).rejects.toMatchObject({
      exitCode: 2,
    });
  });
});

describe('TokenBroker.replaceRefused', () => {
  const opts = { minTtlSeconds: 60 };
  async function setup(answers: Parameters<typeof scriptedFetch>[0], realClock = false) {
    const { fetch, calls } = scriptedFetch(answers);
    // Several brokers waiting for one lock: on a fake clock their polling would run out the lock's patience at once.
    const deps = testDeps(
      realClock ? { fetch, now: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) } : { fetch },
    );
    await updateSettings(deps, 'default', 'chartmetric', { mode: 'refresh_token', store: 'keychain' });
    await deps.store.set(secretKey('default', 'chartmetric'), JSON.stringify({ refresh_token: 'rt-1' }));
    await writeCache(deps.paths, 'default', 'chartmetric', {
      access_token: 'refused',
      token_type: 'bearer',
      expires_at: deps.clock.now + 3_600_000,
    });
    return { deps, calls };
  }

  it('refreshes when the cache still holds the refused token, even though it looks fresh', async () => {
    const { deps, calls } = await setup([json(200, { token: 'new', expires_in: 3600 })]);
    expect(await new TokenBroker(deps).replaceRefused(chartmetric, 'default', 'refused', opts)).toMatchObject({
      token: { access_token: 'new' },
    });
    expect(calls).toHaveLength(1);
    expect(await readCache(deps.paths, 'default', 'chartmetric')).toMatchObject({ token: { access_token: 'new' } });
  });

  it('uses the cached token when it is already another one: no refresh', async () => {
    const { deps, calls } = await setup([]);
    await writeCache(deps.paths, 'default', 'chartmetric', {
      access_token: 'other',
      token_type: 'bearer',
      expires_at: deps.clock.now + 3_600_000,
    });
    expect(await new TokenBroker(deps).replaceRefused(chartmetric, 'default', 'refused', opts)).toMatchObject({
      token: { access_token: 'other' },
    });
    expect(calls).toHaveLength(0);
  });

  it('many callers refused with the same token: one refresh', async () => {
    const { deps, calls } = await setup([json(200, { token: 'new', expires_in: 3600 })], true);
    const brokers = Array.from({ length: 5 }, () => new TokenBroker(deps));
    const results = await Promise.all(brokers.map((b) => b.replaceRefused(chartmetric, 'default', 'refused', opts)));
    expect(results.map((r) => (r.kind === 'token' ? r.token.access_token : ''))).toEqual([
      'new',
      'new',
      'new',
      'new',
      'new',
    ]);
    expect(calls).toHaveLength(1);
  });
});
