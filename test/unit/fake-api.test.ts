// The fake provider APIs (test/support/fake/*-api.ts) and the CDN, exercised with plain fetch: they are
// code the CLI tests of `tokens api` stand on, so what they accept, answer and record is checked here.
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MultipartParser, multipartBoundary } from '../support/fake/multipart.js';
import {
  BINARY_SIZE,
  LARGE_SIZE,
  MEDIA_SIZE,
  basicAuth,
  generatedBytes,
  generatedDigest,
  startFakeApis,
  startProviderServer,
  CHARTMETRIC_ARTISTS,
  SOUNDCHARTS_ARTIST,
  SOUNDCLOUD_USERS,
  type FakeApis,
  type ProviderServer,
} from '../support/servers.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

let server: ProviderServer;
let apis: FakeApis;

beforeEach(async () => {
  server = await startProviderServer({
    chartmetric: { refreshTokens: ['cm-refresh'] },
    soundcharts: { clients: [{ clientId: 'sc-id', clientSecret: 'sc-secret' }] },
    soundcloud: { clients: [{ clientId: 'scl-id', clientSecret: 'scl-secret' }] },
  });
  apis = await startFakeApis(server, { soundcharts: { legacyKeys: { 'app-1': 'key-1' } } });
});

afterEach(async () => {
  await apis.close();
  await server.close();
});

// ───────── minting tokens at the fake token endpoints ─────────

async function chartmetricToken(): Promise<string> {
  const res = await fetch(server.urls.chartmetricToken, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refreshtoken: 'cm-refresh' }),
  });
  return ((await res.json()) as { token: string }).token;
}

async function soundchartsToken(): Promise<string> {
  const res = await fetch(server.urls.soundchartsToken, {
    method: 'POST',
    headers: { ...FORM, authorization: basicAuth('sc-id', 'sc-secret') },
    body: 'grant_type=client_credentials',
  });
  return ((await res.json()) as { access_token: string }).access_token;
}

async function soundcloudAppToken(): Promise<string> {
  const res = await fetch(server.urls.soundcloudToken, {
    method: 'POST',
    headers: { ...FORM, authorization: basicAuth('scl-id', 'scl-secret') },
    body: 'grant_type=client_credentials',
  });
  return ((await res.json()) as { access_token: string }).access_token;
}

function soundcloudUserToken(): string {
  return server.soundcloud.issueTokens('scl-id').accessToken;
}

const oauth = (t: string) => ({ authorization: `OAuth ${t}` });
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

async function sha256(res: Response): Promise<{ size: number; sha256: string }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    h.update(chunk);
  }
  return { size, sha256: h.digest('hex') };
}

function allViolations(): string[] {
  return [...apis.violations(), ...server.violations];
}

// ───────── tests ─────────

describe('bases and env', () => {
  it('each API lives under a path prefix on its own origin, distinct from the CDN', () => {
    const env = apis.env();
    expect(env).toEqual({
      TOKENS_SOUNDCLOUD_API_URL: apis.soundcloud.base,
      TOKENS_CHARTMETRIC_API_URL: apis.chartmetric.base,
      TOKENS_SOUNDCHARTS_API_URL: apis.soundcharts.base,
    });
    for (const base of Object.values(env)) expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[a-z]+-api$/);
    const origins = new Set([...Object.values(env).map((b) => new URL(b).origin), apis.cdn.url, server.url]);
    expect(origins.size).toBe(5);
  });

  it('a request outside the base path is a 404 and a violation', async () => {
    const res = await fetch(`${apis.soundcloud.origin}/me`, { headers: oauth(soundcloudUserToken()) });
    expect(res.status).toBe(404);
    expect(apis.soundcloud.violations.join('\n')).toMatch(/outside the API base path \/soundcloud-api/);
  });
});

describe('credentials', () => {
  it('SoundCloud: an issued user token with OAuth, only while it is alive', async () => {
    const t = soundcloudUserToken();
    const me = await fetch(`${apis.soundcloud.base}/me`, { headers: oauth(t) });
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual(SOUNDCLOUD_USERS[1001]);
    expect(apis.soundcloud.requests[0]).toMatchObject({
      api: 'soundcloud',
      route: '/me',
      credential: 'token',
      token: t,
      status: 200,
    });
    expect(apis.soundcloud.requests[0]!.headers.authorization).toBe(`OAuth ${t}`);

    server.soundcloud.revokeFamily(t);
    const revoked = await fetch(`${apis.soundcloud.base}/me`, { headers: oauth(t) });
    expect(revoked.status).toBe(401);
    expect(await revoked.json()).toMatchObject({
      code: 401,
      errors: [{ error_message: '401 - Unauthorized' }],
      error: null,
    });
    expect(apis.soundcloud.requests[1]!.credential).toBe('refused');

    server.soundcloud.expiresIn = 0;
    const expired = soundcloudUserToken();
    expect((await fetch(`${apis.soundcloud.base}/me`, { headers: oauth(expired) })).status).toBe(401);
    expect((await fetch(`${apis.soundcloud.base}/me`, { headers: oauth('scl_at_never-issued') })).status).toBe(401);
    // Refused tokens are the server's business, not the client's fault.
    expect(allViolations()).toEqual([]);
  });

  it('SoundCloud: an app (client credentials) token reaches public routes but not /me', async () => {
    const t = await soundcloudAppToken();
    expect((await fetch(`${apis.soundcloud.base}/users/1002`, { headers: oauth(t) })).status).toBe(200);
    const me = await fetch(`${apis.soundcloud.base}/me`, { headers: oauth(t) });
    expect(me.status).toBe(401);
    expect(allViolations()).toEqual([]);
  });

  it('wrong scheme, no credentials, a token in the query or at the wrong API: refused and violations', async () => {
    const scl = soundcloudUserToken();
    const cm = await chartmetricToken();
    expect((await fetch(`${apis.soundcloud.base}/me`, { headers: bearer(scl) })).status).toBe(401);
    expect(apis.soundcloud.violations.pop()).toMatch(/scheme "Bearer".*wants "OAuth"/);
    expect((await fetch(`${apis.soundcloud.base}/me`)).status).toBe(401);
    expect(apis.soundcloud.violations.pop()).toMatch(/no credentials/);
    expect((await fetch(`${apis.soundcloud.base}/me?oauth_token=${scl}`, { headers: oauth(scl) })).status).toBe(200);
    expect(apis.soundcloud.violations.pop()).toMatch(/credential parameter oauth_token in the query string/);
    expect((await fetch(`${apis.chartmetric.base}/api/artist/3380?t=${cm}`, { headers: bearer(cm) })).status).toBe(200);
    expect(apis.chartmetric.violations.pop()).toMatch(/an access token in query parameter t/);
    expect((await fetch(`${apis.soundcloud.base}/me`, { headers: oauth(cm) })).status).toBe(401);
    expect(apis.soundcloud.violations.pop()).toMatch(/a chartmetric access token sent to the soundcloud API/);
    expect((await fetch(`${apis.chartmetric.base}/api/artist/3380`, { headers: oauth(cm) })).status).toBe(401);
    expect(apis.chartmetric.violations.pop()).toMatch(/scheme "OAuth"/);
    expect(apis.violations()).toEqual([]);
  });

  it('Chartmetric: Bearer with an issued token; 401 with a challenge once it expired', async () => {
    const t = await chartmetricToken();
    const res = await fetch(`${apis.chartmetric.base}/api/artist/206557`, { headers: bearer(t) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ obj: CHARTMETRIC_ARTISTS[206557] });
    const missing = await fetch(`${apis.chartmetric.base}/api/artist/1`, { headers: bearer(t) });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'not_found', message: 'Artist not found' });

    server.chartmetric.expiresIn = 0;
    const expired = await chartmetricToken();
    const refused = await fetch(`${apis.chartmetric.base}/api/artist/206557`, { headers: bearer(expired) });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(await refused.json()).toEqual({ error: 'unauthorized', message: 'Invalid or expired token' });
    expect(allViolations()).toEqual([]);
  });

  it('Soundcharts: Bearer, or the legacy pair; a lone key is a violation', async () => {
    const url = `${apis.soundcharts.base}/api/v2.9/artist/${SOUNDCHARTS_ARTIST.uuid}`;
    const t = await soundchartsToken();
    const res = await fetch(url, { headers: bearer(t) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ type: 'artist', object: SOUNDCHARTS_ARTIST, errors: [] });
    const legacy = await fetch(url, { headers: { 'x-app-id': 'app-1', 'x-api-key': 'key-1' } });
    expect(legacy.status).toBe(200);
    expect(apis.soundcharts.requests[1]!.credential).toBe('legacy');
    const wrongKey = await fetch(url, { headers: { 'x-app-id': 'app-1', 'x-api-key': 'nope' } });
    expect(wrongKey.status).toBe(401);
    expect(await wrongKey.json()).toEqual({
      errors: [{ key: 'auth.unauthorized', code: 401, message: 'You are not logged in' }],
    });
    expect(apis.violations()).toEqual([]);

    expect((await fetch(url, { headers: { 'x-api-key': 'key-1' } })).status).toBe(401);
    expect(apis.soundcharts.violations).toEqual([expect.stringMatching(/must come together/)]);
    const unknown = await fetch(`${apis.soundcharts.base}/api/v2/artist/00000000-0000`, { headers: bearer(t) });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({
      errors: [{ key: 'resource.not_found', code: 404, message: 'Artist not found' }],
    });
  });

  it('legacy keys anywhere else are a violation', async () => {
    const t = await chartmetricToken();
    await fetch(`${apis.chartmetric.base}/api/artist/3380`, {
      headers: { ...bearer(t), 'x-app-id': 'app-1', 'x-api-key': 'key-1' },
    });
    expect(apis.chartmetric.violations.join('\n')).toMatch(/legacy keys .* sent to the chartmetric API/);
  });
});

describe('SoundCloud resources', () => {
  it('a known user, and 404 with the documented body for an unknown one', async () => {
    const t = await soundcloudAppToken();
    const res = await fetch(`${apis.soundcloud.base}/users/1`, { headers: oauth(t) });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      code: 404,
      message: '404 - Not Found',
      link: 'https://developers.soundcloud.com/docs/api/explorer/open-api',
      status: '404 - Not Found',
      errors: [{ error_message: '404 - Not Found' }],
      error: null,
    });
  });

  it('a stream URL redirects to the CDN', async () => {
    const t = await soundcloudAppToken();
    const res = await fetch(`${apis.soundcloud.base}/tracks/3/stream`, { headers: oauth(t), redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`${apis.cdn.url}/media/track-3.mp3`);
    expect(
      (await fetch(`${apis.soundcloud.base}/tracks/99/stream`, { headers: oauth(t), redirect: 'manual' })).status,
    ).toBe(404);
  });
});

describe('echo', () => {
  it('returns method, query, headers without credentials and the parsed JSON body', async () => {
    const t = await chartmetricToken();
    const body = { track: { title: 'New', tags: ['a', 'b'], public: true, plays: 3, label: null } };
    const res = await fetch(`${apis.chartmetric.base}/echo/deep?x=1&x=2&y[z]=3`, {
      method: 'PATCH',
      headers: { ...bearer(t), 'content-type': 'application/json', 'x-custom': 'yes' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    const echo = (await res.json()) as Record<string, unknown>;
    expect(echo).toMatchObject({
      method: 'PATCH',
      path: '/echo/deep',
      query: { x: ['1', '2'], 'y[z]': '3' },
      contentType: 'application/json',
      body,
      size: JSON.stringify(body).length,
      sha256: createHash('sha256').update(JSON.stringify(body)).digest('hex'),
      parts: null,
    });
    const headers = echo.headers as Record<string, string>;
    expect(headers['x-custom']).toBe('yes');
    expect(headers.authorization).toBeUndefined();
    expect(JSON.stringify(echo)).not.toContain(t);
    expect(apis.chartmetric.requests[0]!.json).toEqual(body);
  });
});

describe('multipart upload', () => {
  it('POST /tracks answers the file’s SHA-256 and size, parsed as it streams', async () => {
    const t = soundcloudUserToken();
    const file = generatedBytes(3 * 1024 * 1024 + 17);
    const form = new FormData();
    form.append('track[title]', 'Demo – "take 2"');
    form.append('track[asset_data]', new Blob([file], { type: 'audio/wav' }), 'demo.wav');
    const res = await fetch(`${apis.soundcloud.base}/tracks`, { method: 'POST', headers: oauth(t), body: form });
    expect(res.status).toBe(201);
    const digest = createHash('sha256').update(file).digest('hex');
    expect(await res.json()).toEqual({
      kind: 'track',
      id: 5001,
      title: 'Demo – "take 2"',
      state: 'processing',
      asset_data: { filename: 'demo.wav', content_type: 'audio/wav', size: file.length, sha256: digest },
    });
    expect(apis.soundcloud.uploads).toMatchObject([{ id: 5001, size: file.length, sha256: digest }]);
    const rec = apis.soundcloud.requests[0]!;
    expect(rec.bodySize).toBeGreaterThan(file.length);
    expect(rec.json).toBeUndefined();
    expect(apis.violations()).toEqual([]);
  });

  it('a body without its file is 422; a malformed body is 400 and a violation', async () => {
    const t = soundcloudUserToken();
    const form = new FormData();
    form.append('track[title]', 'No file');
    expect(
      (await fetch(`${apis.soundcloud.base}/tracks`, { method: 'POST', headers: oauth(t), body: form })).status,
    ).toBe(422);
    expect(apis.violations()).toEqual([]);
    const broken = await fetch(`${apis.soundcloud.base}/tracks`, {
      method: 'POST',
      headers: { ...oauth(t), 'content-type': 'multipart/form-data; boundary=XyZ' },
      body: '--XyZ\r\nContent-Disposition: form-data; name="track[title]"\r\n\r\nT\r\n--XyZ\r\n',
    });
    expect(broken.status).toBe(400);
    expect(apis.soundcloud.violations).toEqual([
      expect.stringMatching(/malformed multipart body: the body ended before the closing boundary/),
    ]);
    // An app token may not upload.
    const app = await soundcloudAppToken();
    expect(
      (await fetch(`${apis.soundcloud.base}/tracks`, { method: 'POST', headers: oauth(app), body: form })).status,
    ).toBe(401);
  });

  it('the parser finds boundaries split across chunks, byte by byte', () => {
    const body = Buffer.from(
      'preamble\r\n--b0und\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue\r\n--b0und in it\r\n' +
        '--b0und\r\nContent-Disposition: form-data; name="f"; filename="x.bin"\r\nContent-Type: application/octet-stream\r\n\r\n' +
        '\r\n--b0un\r\n--b0und--\r\nepilogue',
    );
    expect(multipartBoundary('multipart/form-data; boundary="b0und"')).toBe('b0und');
    const parser = new MultipartParser('b0und');
    for (let i = 0; i < body.length; i++) parser.write(body.subarray(i, i + 1));
    parser.end();
    expect(parser.error).toBeUndefined();
    expect(parser.parts).toEqual([
      {
        name: 'a',
        size: 20,
        sha256: createHash('sha256').update('value\r\n--b0und in it').digest('hex'),
        value: 'value\r\n--b0und in it',
      },
      {
        name: 'f',
        filename: 'x.bin',
        contentType: 'application/octet-stream',
        size: 8,
        sha256: createHash('sha256').update('\r\n--b0un').digest('hex'),
      },
    ]);
  });
});

describe('pagination', () => {
  it('SoundCloud: collection + next_href over several pages, in order', async () => {
    const t = await soundcloudAppToken();
    const ids: number[] = [];
    let url: string | undefined = `${apis.soundcloud.base}/tracks?q=hello&limit=3&linked_partitioning=true`;
    const pages: number[] = [];
    while (url) {
      const page = (await (await fetch(url, { headers: oauth(t) })).json()) as {
        collection: { id: number }[];
        next_href?: string;
      };
      pages.push(page.collection.length);
      ids.push(...page.collection.map((c) => c.id));
      if (page.next_href) {
        expect(page.next_href.startsWith(`${apis.soundcloud.base}/tracks?`)).toBe(true);
        expect(new URL(page.next_href).searchParams.get('q')).toBe('hello');
      }
      url = page.next_href;
    }
    expect(pages).toEqual([3, 3, 1]);
    expect(ids).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(apis.soundcloud.count('/tracks', 'GET')).toBe(3);
  });

  it('SoundCloud: a bare array without linked_partitioning; next_href under another origin when asked', async () => {
    const t = await soundcloudAppToken();
    const bare = await (await fetch(`${apis.soundcloud.base}/tracks?limit=2`, { headers: oauth(t) })).json();
    expect(bare).toEqual([
      {
        kind: 'track',
        id: 1,
        title: 'Track 1',
        user_id: 1002,
        access: 'playable',
        uri: 'https://api.soundcloud.com/tracks/1',
      },
      expect.objectContaining({ id: 2 }),
    ]);
    apis.soundcloud.nextLinkBase = apis.cdn.url;
    const page = (await (
      await fetch(`${apis.soundcloud.base}/tracks?limit=2&linked_partitioning=1`, { headers: oauth(t) })
    ).json()) as { next_href: string };
    expect(new URL(page.next_href).origin).toBe(apis.cdn.url);
  });

  it('Soundcharts: items + page.next (offset, limit, total, previous), a path from the API root or a URL', async () => {
    const t = await soundchartsToken();
    const first = `${apis.soundcharts.base}/api/v2.21/artist/${SOUNDCHARTS_ARTIST.uuid}/songs?limit=3&sortBy=date`;
    // A path is under the base, as the contract reads it (and a proxy in front of the API needs).
    const resolve = (link: string) => (link.startsWith('/') ? `${apis.soundcharts.base}${link}` : link);
    type Page = {
      items: { song: { name: string } }[];
      page: { offset: number; total: number; next: string | null; previous: string | null; limit: number };
    };
    const names: string[] = [];
    const metas: Page['page'][] = [];
    let url: string | null = first;
    while (url) {
      const body = (await (await fetch(resolve(url), { headers: bearer(t) })).json()) as Page;
      names.push(...body.items.map((i) => i.song.name));
      metas.push(body.page);
      url = body.page.next;
    }
    expect(names).toEqual(['Song 1', 'Song 2', 'Song 3', 'Song 4', 'Song 5', 'Song 6', 'Song 7']);
    expect(metas.map((m) => [m.offset, m.limit, m.total])).toEqual([
      [0, 3, 7],
      [3, 3, 7],
      [6, 3, 7],
    ]);
    expect(metas[0]!.previous).toBeNull();
    expect(metas[0]!.next).toBe(`/api/v2.21/artist/${SOUNDCHARTS_ARTIST.uuid}/songs?sortBy=date&offset=3&limit=3`);
    expect(metas[1]!.previous).toMatch(/offset=0&limit=3$/);

    apis.soundcharts.nextStyle = 'url';
    const abs = (await (await fetch(first, { headers: bearer(t) })).json()) as Page;
    expect(abs.page.next!.startsWith(`${apis.soundcharts.base}/api/v2.21/`)).toBe(true);
    apis.soundcharts.nextLinkBase = apis.cdn.url;
    const foreign = (await (await fetch(first, { headers: bearer(t) })).json()) as Page;
    expect(new URL(foreign.page.next!).origin).toBe(apis.cdn.url);
    expect(apis.violations()).toEqual([]);
  });
});

describe('faults', () => {
  it('401 once refuses a valid token once; 401 always until cleared', async () => {
    const t = await chartmetricToken();
    const url = `${apis.chartmetric.base}/api/artist/3380`;
    apis.chartmetric.fault({ status: 401 });
    const once = await fetch(url, { headers: bearer(t) });
    expect(once.status).toBe(401);
    expect(await once.json()).toEqual({ error: 'unauthorized', message: 'Invalid or expired token' });
    expect((await fetch(url, { headers: bearer(t) })).status).toBe(200);
    apis.chartmetric.faultAlways({ status: 401 });
    expect((await fetch(url, { headers: bearer(t) })).status).toBe(401);
    expect((await fetch(url, { headers: bearer(t) })).status).toBe(401);
    apis.chartmetric.clearFaults();
    expect((await fetch(url, { headers: bearer(t) })).status).toBe(200);
    expect(
      apis.chartmetric.requests.map((r) => [
        r.status,
        r.credential,
        r.fault && 'status' in r.fault ? r.fault.status : undefined,
      ]),
    ).toEqual([
      [401, 'token', 401],
      [200, 'token', undefined],
      [401, 'token', 401],
      [401, 'token', 401],
      [200, 'token', undefined],
    ]);
  });

  it('a fault can refuse one token only: the one cached before a refresh', async () => {
    const old = await chartmetricToken();
    const fresh = await chartmetricToken();
    const url = `${apis.chartmetric.base}/api/artist/3380`;
    apis.chartmetric.faultAlways({ status: 401, token: old });
    expect((await fetch(url, { headers: bearer(old) })).status).toBe(401);
    expect((await fetch(url, { headers: bearer(old) })).status).toBe(401);
    expect((await fetch(url, { headers: bearer(fresh) })).status).toBe(200);
    expect(server.isAccessTokenAlive('chartmetric', old)).toBe(true);
  });

  it('refuse(): a live token refused at the door; with holdUntilMinted the later refusals wait for a new token', async () => {
    const old = await chartmetricToken();
    const url = `${apis.chartmetric.base}/api/artist/3380`;
    apis.chartmetric.refuse(old, { holdUntilMinted: true });
    const first = await fetch(url, { headers: bearer(old) });
    expect(first.status).toBe(401);
    let minted = false;
    const second = fetch(url, { headers: bearer(old) }).then((r) => ({ status: r.status, afterMint: minted }));
    while (apis.chartmetric.requests.length < 2) await new Promise((r) => setTimeout(r, 10));
    minted = true;
    const fresh = await chartmetricToken();
    expect(await second).toEqual({ status: 401, afterMint: true });
    expect((await fetch(url, { headers: bearer(fresh) })).status).toBe(200);
    expect(apis.chartmetric.requests.map((r) => r.credential)).toEqual(['refused', 'refused', 'token']);
    expect(server.isAccessTokenAlive('chartmetric', old)).toBe(true);
    expect(apis.violations()).toEqual([]);
  });

  it('429 in each reset style', async () => {
    const t = soundcloudUserToken();
    const url = `${apis.soundcloud.base}/me`;
    const reset = new Date(Date.UTC(2031, 0, 2, 3, 4, 5));
    apis.soundcloud.fault([
      { status: 429, retryAfter: 2 },
      { status: 429, rateLimitReset: 1924991045 },
      { status: 429, resetTime: reset },
    ]);
    const a = await fetch(url, { headers: oauth(t) });
    expect([a.status, a.headers.get('retry-after')]).toEqual([429, '2']);
    expect(await a.json()).toMatchObject({ code: 429, message: '429 - Too Many Requests' });
    const b = await fetch(url, { headers: oauth(t) });
    expect([
      b.headers.get('x-ratelimit-reset'),
      b.headers.get('x-ratelimit-remaining'),
      b.headers.get('retry-after'),
    ]).toEqual(['1924991045', '0', null]);
    const c = await fetch(url, { headers: oauth(t) });
    expect(c.headers.get('retry-after')).toBeNull();
    expect(await c.json()).toEqual({
      errors: [
        {
          meta: {
            rate_limit: { group: 'plays', max_nr_of_requests: 15000, time_window: 'PT24H' },
            remaining_requests: 0,
            reset_time: '2031/01/02 03:04:05 +0000',
          },
        },
      ],
    });
    expect((await fetch(url, { headers: oauth(t) })).status).toBe(200);
  });

  it('503 for a GET and for a POST, counted; a fault can target a path and a method', async () => {
    const t = await soundchartsToken();
    apis.soundcharts.fault([
      { status: 503, path: '/echo', method: 'POST' },
      { status: 503, path: '/echo', method: 'POST' },
    ]);
    apis.soundcharts.fault({ status: 503, path: '/api/*' });
    const get = await fetch(`${apis.soundcharts.base}/echo`, { headers: bearer(t) });
    expect(get.status).toBe(200);
    const post = () =>
      fetch(`${apis.soundcharts.base}/echo`, {
        method: 'POST',
        headers: { ...bearer(t), 'content-type': 'application/json' },
        body: '{"a":1}',
      });
    const p1 = await post();
    expect(p1.status).toBe(503);
    expect(p1.headers.get('content-type')).toMatch(/text\/html/);
    expect((await post()).status).toBe(503);
    expect((await post()).status).toBe(200);
    expect(apis.soundcharts.count('/echo', 'POST')).toBe(3);
    expect(apis.soundcharts.count('/echo', 'GET')).toBe(1);
    expect(apis.soundcharts.pendingFaults()).toBe(1);
    expect(
      (await fetch(`${apis.soundcharts.base}/api/v2/artist/${SOUNDCHARTS_ARTIST.uuid}`, { headers: bearer(t) })).status,
    ).toBe(503);
    expect(apis.soundcharts.pendingFaults()).toBe(0);
  });

  it('404 with a body, a redirect to another origin, a reset, and an answer replaced after processing', async () => {
    const t = soundcloudUserToken();
    apis.soundcloud.fault([
      { status: 404, body: { message: 'gone' } },
      { kind: 'redirect', location: `${apis.cdn.url}/media/elsewhere.bin` },
      { kind: 'reset' },
      { status: 504, path: '/tracks', method: 'POST', afterProcessing: true },
    ]);
    const a = await fetch(`${apis.soundcloud.base}/me`, { headers: oauth(t) });
    expect([a.status, await a.json()]).toEqual([404, { message: 'gone' }]);
    const b = await fetch(`${apis.soundcloud.base}/me`, { headers: oauth(t), redirect: 'manual' });
    expect([b.status, b.headers.get('location')]).toEqual([302, `${apis.cdn.url}/media/elsewhere.bin`]);
    await expect(fetch(`${apis.soundcloud.base}/me`, { headers: oauth(t) })).rejects.toThrow();
    const form = new FormData();
    form.append('track[title]', 'Twice?');
    form.append('track[asset_data]', new Blob([Buffer.from('RIFF')]), 'a.wav');
    const d = await fetch(`${apis.soundcloud.base}/tracks`, { method: 'POST', headers: oauth(t), body: form });
    expect(d.status).toBe(504);
    expect(apis.soundcloud.uploads).toHaveLength(1);
  });
});

describe('bodies', () => {
  it('GET /binary: the generated bytes exactly', async () => {
    const t = await chartmetricToken();
    const res = await fetch(`${apis.chartmetric.base}/binary`, { headers: bearer(t) });
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.length).toBe(BINARY_SIZE);
    expect(bytes.equals(generatedBytes(BINARY_SIZE))).toBe(true);
    expect(new Set(bytes).size).toBe(256);
    const small = Buffer.from(
      await (await fetch(`${apis.chartmetric.base}/binary?size=10`, { headers: bearer(t) })).arrayBuffer(),
    );
    expect(small.equals(generatedBytes(10))).toBe(true);
    expect((await fetch(`${apis.chartmetric.base}/binary?size=-1`, { headers: bearer(t) })).status).toBe(400);
  });

  it('GET /large: 50 MiB by default, streamed, and its digest computable without holding it', async () => {
    const t = await soundchartsToken();
    const head = await fetch(`${apis.soundcharts.base}/large`, { method: 'HEAD', headers: bearer(t) });
    expect(head.headers.get('content-length')).toBe(String(LARGE_SIZE));
    const size = 5 * 1024 * 1024 + 3;
    const res = await fetch(`${apis.soundcharts.base}/large?size=${size}`, { headers: bearer(t) });
    expect(await sha256(res)).toEqual({ size, sha256: generatedDigest(size) });
    expect(generatedDigest(size)).not.toBe(generatedDigest(size + 1));
  });

  it('close() ends a download in progress and a hung request', async () => {
    const t = await soundchartsToken();
    const res = await fetch(`${apis.soundcharts.base}/large`, { headers: bearer(t) });
    const reader = res.body!.getReader();
    await reader.read();
    apis.chartmetric.fault({ kind: 'hang' });
    const hung = fetch(`${apis.chartmetric.base}/api/artist/3380`, { headers: bearer(await chartmetricToken()) });
    hung.catch(() => undefined);
    await apis.close();
    await expect(
      (async () => {
        for (;;) if ((await reader.read()).done) return;
      })(),
    ).rejects.toThrow();
    await expect(hung).rejects.toThrow();
  });
});

describe('the CDN', () => {
  it('GET /redirect leads to the CDN, which serves media and flags any credentials it gets', async () => {
    const t = await chartmetricToken();
    const r = await fetch(`${apis.chartmetric.base}/redirect`, { headers: bearer(t), redirect: 'manual' });
    expect(r.status).toBe(302);
    const location = r.headers.get('location')!;
    expect(new URL(location).origin).toBe(apis.cdn.url);

    const clean = await fetch(location);
    expect(Buffer.from(await clean.arrayBuffer()).equals(generatedBytes(MEDIA_SIZE))).toBe(true);
    expect(apis.cdn.requests[0]).toMatchObject({ path: '/media/redirected.bin', credentials: [], status: 200 });
    expect(apis.cdn.violations).toEqual([]);

    await fetch(location, { headers: bearer(t) });
    await fetch(`${location}?sig=${t}`);
    await fetch(location, { headers: { 'x-api-key': 'key-1' } });
    expect(apis.cdn.requests.slice(1).map((c) => c.credentials)).toEqual([
      ['authorization', 'token in header authorization'],
      ['token in query sig'],
      ['x-api-key'],
    ]);
    expect(apis.cdn.violations).toHaveLength(3);
    expect(apis.violations()).toHaveLength(3);
  });
});

describe('the auth server describes its access tokens', () => {
  it('by provider, alive or not, with the SoundCloud grant', async () => {
    const cm = await chartmetricToken();
    const app = await soundcloudAppToken();
    const user = soundcloudUserToken();
    expect(server.describeAccessToken(cm)).toEqual({ provider: 'chartmetric', alive: true });
    expect(server.describeAccessToken(app)).toEqual({
      provider: 'soundcloud',
      alive: true,
      grant: 'client_credentials',
    });
    server.soundcloud.revokeFamily(user);
    expect(server.describeAccessToken(user)).toEqual({
      provider: 'soundcloud',
      alive: false,
      grant: 'authorization_code',
    });
    expect(server.describeAccessToken('nope')).toBeUndefined();
  });
});
