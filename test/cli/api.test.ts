// `tokens api` end to end: the built CLI as a child process, logged in against the fake token
// server, calling the local fake APIs (test/support/fake/*-api.ts) that accept only the live access
// tokens that server issued, in each provider's scheme, under a base with a path prefix.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN } from '../support/cli.js';
import { generatedDigest } from '../support/fake/bytes.js';
import { MEDIA_SIZE } from '../support/fake/cdn.js';
import { LoopbackServer } from '../support/fake/harness.js';
import { SOUNDCHARTS_ARTIST } from '../support/fake/soundcharts-api.js';
import { startFakeApis, type FakeApis } from '../support/servers.js';
import { secretsSeen, tokenRequests, useWorlds, type Setup, type World } from '../support/worlds.js';

const PASSPHRASE = 'api test passphrase 7c41';
const LEGACY_KEY = 'legacy_api_key_5e6f7a8b9c';
const { loggedIn, world } = useWorlds({ passphrase: PASSPHRASE });

let apis: FakeApis | undefined;
afterEach(async () => {
  if (!apis) return;
  const violations = apis.violations();
  await apis.close();
  apis = undefined;
  expect(violations).toEqual([]);
});

interface ApiWorld extends World {
  apis: FakeApis;
  /** Outputs in which a token may appear: the stdout of the `get` that warmed the cache. */
  asked: string[];
  api(args: string[], options?: { input?: string; env?: Record<string, string> }): ReturnType<World['run']>;
}

/** A logged-in world with the fake APIs, and a cached token (one `get`), unless `cold`. */
async function apiWorld(setup: Setup, { cold = false } = {}): Promise<ApiWorld> {
  const w = await loggedIn(setup);
  apis = await startFakeApis(w.server);
  const servers = apis;
  Object.assign(w.env, servers.env());
  const asked: string[] = [];
  if (!cold) {
    const get = await w.run(['get', w.provider]);
    expect(get.code).toBe(0);
    asked.push(get.stdout);
  }
  return Object.assign(w, {
    apis: servers,
    asked,
    api: (args: string[], options = {}) => w.run(['api', ...args], options),
  });
}

const tokensSeenByApis = (w: ApiWorld) => [
  ...new Set(
    [w.apis.soundcloud, w.apis.chartmetric, w.apis.soundcharts]
      .flatMap((a) => a.requests.map((r) => r.token!))
      .filter(Boolean),
  ),
];

/** No secret, refresh token or access token in any output (the cache file holds access tokens by design). */
async function expectNoLeaks(w: ApiWorld): Promise<void> {
  expect(await w.sandbox.findSecrets(secretsSeen(w), w.asked)).toEqual([]);
  const outputs = w.sandbox.outputs.filter((o) => !w.asked.includes(o));
  for (const token of tokensSeenByApis(w)) expect(outputs.filter((o) => o.includes(token))).toEqual([]);
  expect(tokensSeenByApis(w).length).toBeGreaterThan(0);
}

/** Runs the CLI with raw stdout (bytes), optionally under GNU time for the peak RSS (KiB). */
function runRaw(
  w: ApiWorld,
  args: string[],
  { measure = false } = {},
): Promise<{
  code: number | null;
  stdout: Buffer;
  stdoutSha256: string;
  stdoutSize: number;
  stderr: string;
  peakRssKiB?: number;
}> {
  const env = { ...w.sandbox.baseEnv(), ...w.env };
  const rssFile = join(w.sandbox.home, `rss-${randomBytes(4).toString('hex')}.txt`);
  const argv = measure
    ? ['/usr/bin/time', ['-f', '%M', '-o', rssFile, process.execPath, BIN, ...args]]
    : [process.execPath, [BIN, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv[1] as string[], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const hash = createHash('sha256');
    const kept: Buffer[] = [];
    let size = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
      if (size <= 4 * 1024 * 1024) kept.push(chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', async (code) => {
      w.sandbox.outputs.push(stderr);
      const peakRssKiB = measure ? Number((await readFile(rssFile, 'utf8')).trim().split('\n').at(-1)) : undefined;
      resolve({
        code,
        stdout: Buffer.concat(kept),
        stdoutSha256: hash.digest('hex'),
        stdoutSize: size,
        stderr,
        ...(peakRssKiB === undefined ? {} : { peakRssKiB }),
      });
    });
  });
}

/**
 * A loopback server that answers every request with `answer`, bytes as given: Node's own server
 * refuses to send a status text with control characters, which a hostile one sends anyway.
 */
async function rawServer(answer: string): Promise<{ url: string; heads: string[]; close(): Promise<void> }> {
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let head = '';
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      heads.push(head.slice(0, head.indexOf('\r\n\r\n')));
      head = '';
      socket.end(answer, 'latin1');
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    heads,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A SoundCloud-like API under /sc that never ends: every page has `perPage` items (numbered on from
 * the last) and a next_href to a page it has not served yet.
 */
async function endlessPages(perPage: number) {
  type PageRequest = { url: string; authorization?: string; status?: number };
  const server = new LoopbackServer<PageRequest>(async (req, res) => {
    const rec: PageRequest = {
      url: req.url ?? '/',
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    };
    server.requests.push(rec);
    const n = server.requests.length;
    const collection = Array.from({ length: perPage }, (_, i) => ({ id: (n - 1) * perPage + i + 1 }));
    server.send(rec, res, {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ collection, next_href: `${server.url}/sc/tracks?cursor=${n}` }),
    });
  });
  await server.listen();
  return { base: `${server.url}/sc`, requests: server.requests, close: () => server.close() };
}

const SC_BASE = () => apis!.soundcloud.base;
const ARTIST = SOUNDCHARTS_ARTIST.uuid;

describe('requests: where they go and what they carry', () => {
  it('GET PATH under a base with a path prefix: fields as query, headers, the body byte for byte, nothing on stderr', async () => {
    const w = await apiWorld('soundcloud-app');
    const r = await w.api([
      'soundcloud',
      '/echo',
      '-f',
      'q=hello world',
      '-F',
      'limit=5',
      '-f',
      'bpm[from]=120',
      '-H',
      'X-Trace: abc',
    ]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const echo = JSON.parse(r.stdout);
    expect(echo).toMatchObject({
      method: 'GET',
      path: '/echo',
      query: { q: 'hello world', limit: '5', 'bpm[from]': '120' },
      headers: { 'x-trace': 'abc' },
    });
    const rec = w.apis.soundcloud.requests.at(-1)!;
    expect(rec).toMatchObject({ route: '/echo', credential: 'token' });
    expect(rec.path.startsWith(w.apis.soundcloud.prefix)).toBe(true);
    expect(rec.headers.authorization).toMatch(/^OAuth \S+$/);
    expect(r.stdout).toBe(JSON.stringify(echo));
    await expectNoLeaks(w);
  });

  it('a full URL under the base works; one outside it is exit 2 and nothing is sent anywhere', async () => {
    const w = await apiWorld('chartmetric');
    const api = w.apis.chartmetric;
    const inside = await w.api(['chartmetric', `${api.base}/api/artist/206557`]);
    expect(inside.code, inside.stderr).toBe(0);
    expect(JSON.parse(inside.stdout)).toMatchObject({ obj: { id: 206557, name: 'Fake Artist' } });
    const before = api.requests.length;
    const tokensBefore = tokenRequests(w).length;
    for (const outside of [
      `${w.apis.cdn.url}/api/artist/206557`,
      `${api.origin}/elsewhere/api/artist/206557`,
      `${api.base}/../x`,
      `${api.base.replace('http://', 'https://')}/api/artist/206557`,
    ]) {
      const r = await w.api(['chartmetric', outside]);
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
      expect(r.stderr).toMatch(/not under the chartmetric API base/);
    }
    expect(api.requests.length).toBe(before);
    expect(w.apis.cdn.requests).toEqual([]);
    expect(tokenRequests(w).length).toBe(tokensBefore);
  });

  it('bad input quoting a line break or an escape sequence: exit 2, one line with them shown as escapes', async () => {
    const w = await apiWorld('soundcharts', { cold: true });
    const r = await w.api(['soundcharts', '/echo', '-H', 'X-A\ntokens: forged \u001b[2J']);
    expect(r).toMatchObject({
      code: 2,
      stdout: '',
      stderr: 'tokens: -H takes \'Name: value\', not "X-A\\u000atokens: forged \\u001b[2J"\n',
    });
    expect(w.apis.soundcharts.requests).toEqual([]);
  });

  it.each([['/..%2fsoundcharts/echo'], ['/%2e%2e%2Fsoundcharts/echo'], ['/api/..%5c..%5cecho']])(
    'a PATH hiding a dot segment in percent-encoding (%s) is exit 2, and nothing is sent anywhere',
    async (path) => {
      const w = await apiWorld('chartmetric', { cold: true });
      const r = await w.api(['chartmetric', path]);
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
      expect(r.stderr).toMatch(/hides a dot segment in percent-encoding \(%2e, %2f, %5c\)/);
      expect(w.apis.chartmetric.requests).toEqual([]);
      expect(tokenRequests(w)).toHaveLength(1); // the login's own verification mint, nothing since
    },
  );

  it.each([['Authorization: Bearer x'], ['x-app-id: a'], ['X-API-Key: k']])(
    '-H %s is a usage error, before anything is sent',
    async (header) => {
      const w = await apiWorld('soundcharts', { cold: true });
      const r = await w.api(['soundcharts', '/echo', '-H', header]);
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
      expect(r.stderr).toMatch(/not allowed: tokens sends the provider's credentials itself/);
      expect(w.apis.soundcharts.requests).toEqual([]);
      expect(tokenRequests(w)).toHaveLength(1); // the login's own verification mint, nothing since
    },
  );

  it.each([['X-Title: ☃'], ['X-Title: a\u0001b'], ['X-Title: \u001b]0;pwned\u0007']])(
    '-H %j (a value no HTTP header can carry) is a usage error, before anything is sent',
    async (header) => {
      const w = await apiWorld('soundcharts', { cold: true });
      const r = await w.api(['soundcharts', '/echo', '-H', header]);
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
      expect(r.stderr).toMatch(
        /^tokens: -H X-Title: a header value may hold only tabs and printable Latin-1 characters, not U\+[0-9A-F]{4}\n$/,
      );
      expect(w.apis.soundcharts.requests).toEqual([]);
      expect(tokenRequests(w)).toHaveLength(1); // the login's own verification mint, nothing since
    },
  );

  it('nested -f/-F fields make a JSON body for POST, with typed values and a value from a file', async () => {
    const w = await apiWorld('soundcloud-app');
    const file = join(w.sandbox.home, 'description.txt');
    await writeFile(file, 'line one\nline "two"\n');
    const r = await w.api([
      'soundcloud',
      '/echo',
      '-X',
      'POST',
      '-f',
      'track[title]=New',
      '-F',
      'track[downloadable]=false',
      '-F',
      'track[bpm]=120',
      '-f',
      'track[genre]=007',
      '-F',
      `track[description]=@${file}`,
      '-F',
      'tags[]=a',
      '-F',
      'tags[]=b',
      '-F',
      'license=null',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      method: 'POST',
      contentType: 'application/json',
      body: {
        track: { title: 'New', downloadable: false, bpm: 120, genre: '007', description: 'line one\nline "two"\n' },
        tags: ['a', 'b'],
        license: null,
      },
    });
  });

  it('-f with -X PUT is a JSON body; -F key=@- reads the value from stdin', async () => {
    const w = await apiWorld('soundcloud-app');
    const put = await w.api(['soundcloud', '/echo', '-X', 'PUT', '-f', 'playlist[title]=Mix']);
    expect(JSON.parse(put.stdout)).toMatchObject({ method: 'PUT', body: { playlist: { title: 'Mix' } } });
    const stdin = await w.api(
      ['soundcloud', '/echo', '-X', 'POST', '-F', 'comment[body]=@-', '-F', 'comment[timestamp]=12345'],
      { input: 'Nice one' },
    );
    expect(JSON.parse(stdin.stdout)).toMatchObject({ body: { comment: { body: 'Nice one', timestamp: 12345 } } });
  });

  it('--input - sends stdin as the body (POST by default, application/json); --input PATH with -H Content-Type', async () => {
    const w = await apiWorld('soundcharts');
    const body = JSON.stringify({ playlist: { title: 'Mix', tracks: [{ id: 1 }, { id: 2 }] } });
    const r = await w.api(['soundcharts', '/echo', '--input', '-'], { input: body });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      method: 'POST',
      contentType: 'application/json',
      body: JSON.parse(body),
      sha256: createHash('sha256').update(body).digest('hex'),
    });
    const file = join(w.sandbox.home, 'rows.csv');
    await writeFile(file, 'a,b\n1,2\n');
    const csv = await w.api(['soundcharts', '/echo', '--input', file, '-X', 'PUT', '-H', 'Content-Type: text/csv']);
    expect(JSON.parse(csv.stdout)).toMatchObject({
      method: 'PUT',
      contentType: 'text/csv',
      headers: { 'content-length': '8' },
      size: 8,
    });
  });

  it('--form: a SoundCloud upload of a multi-megabyte file arrives intact, streamed with a Content-Length', async () => {
    const w = await apiWorld('soundcloud-user');
    const file = join(w.sandbox.home, 'demo.wav');
    const bytes = randomBytes(6 * 1024 * 1024 + 7);
    await writeFile(file, bytes);
    const r = await w.api([
      'soundcloud',
      '/tracks',
      '--form',
      'track[title]=Demo',
      '--form',
      'track[sharing]=private',
      '--form',
      `track[asset_data]=@${file}`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    expect(JSON.parse(r.stdout)).toMatchObject({
      kind: 'track',
      title: 'Demo',
      asset_data: { filename: 'demo.wav', content_type: 'audio/wav', size: bytes.length, sha256 },
    });
    const [upload] = w.apis.soundcloud.uploads;
    expect(upload!.parts.map((p) => [p.name, p.value ?? p.sha256])).toEqual([
      ['track[title]', 'Demo'],
      ['track[sharing]', 'private'],
      ['track[asset_data]', sha256],
    ]);
    const rec = w.apis.soundcloud.requests.at(-1)!;
    expect(rec.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(Number(rec.headers['content-length'])).toBe(rec.bodySize);
  });

  it('-i prints the status line and headers first; --silent prints no body; HEAD has none', async () => {
    const w = await apiWorld('chartmetric');
    const inc = await w.api(['chartmetric', '/api/artist/3380', '-i']);
    expect(inc.code).toBe(0);
    const [head, body] = inc.stdout.split('\n\n');
    expect(head!.split('\n')[0]).toBe('HTTP/1.1 200 OK');
    expect(head).toMatch(/^content-type: application\/json; charset=utf-8$/m);
    expect(JSON.parse(body!)).toMatchObject({ obj: { id: 3380 } });
    expect(await w.api(['chartmetric', '/api/artist/3380', '--silent'])).toMatchObject({ code: 0, stdout: '' });
    const headReq = await w.api(['chartmetric', '/binary', '-X', 'HEAD', '-i']);
    expect(headReq.code).toBe(0);
    expect(headReq.stdout).toMatch(/^HTTP\/1\.1 200 OK\n[\s\S]*\n\n$/);
    expect(w.apis.chartmetric.requests.at(-1)!.method).toBe('HEAD');
  });

  it('--verbose: method, URL, status and attempt of each request on stderr, never a token', async () => {
    const w = await apiWorld('soundcloud-app');
    w.apis.soundcloud.fault({ status: 503 });
    const r = await w.api(['soundcloud', '/echo', '-f', 'x=1', '--verbose']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`GET ${SC_BASE()}/echo?x=1 → 503 Service Unavailable (attempt 1)`);
    expect(r.stderr).toContain(`GET ${SC_BASE()}/echo?x=1 → 200 OK (attempt 2)`);
    await expectNoLeaks(w);
  });

  it("--verbose shows a server's status text cleaned of control characters, for API and token answers", async () => {
    const w = await apiWorld('soundcloud-app');
    const raw = await rawServer(
      'HTTP/1.1 503 \u001b]0;pwned\u0007\u001b[2Ktokens: forged\r\ncontent-length: 0\r\nconnection: close\r\n\r\n',
    );
    try {
      const api = await w.api(['soundcloud', '/users/1002', '--verbose'], {
        env: { TOKENS_SOUNDCLOUD_API_URL: `${raw.url}/sc` },
      });
      const get = await w.run(['get', 'soundcloud', '--force-refresh', '--verbose'], {
        env: { TOKENS_SOUNDCLOUD_TOKEN_URL: `${raw.url}/oauth2/token` },
      });
      for (const r of [api, get]) {
        expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 5, stdout: '' });
        expect(r.stderr).toMatch(/→ 503 \]0;pwned \[2Ktokens: forged \(attempt 3\)\n/);
        expect(r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
      }
      expect(raw.heads).toHaveLength(6);
      const tokens = raw.heads.flatMap((head) => /^authorization: OAuth (\S+)\r?$/im.exec(head)?.[1] ?? []);
      expect(tokens).toHaveLength(3);
      for (const token of tokens) expect(w.sandbox.outputs.filter((o) => o.includes(token))).toEqual(w.asked);
      expect(await w.sandbox.findSecrets(secretsSeen(w), w.asked)).toEqual([]);
    } finally {
      await raw.close();
    }
  });

  it('--verbose never prints the query values of a redirect hop (signed CDN links)', async () => {
    const w = await apiWorld('soundcloud-app');
    const signed = {
      Policy: 'eyJTdGF0ZW1lbnQiOltdfQ',
      Signature: 'Zm9vYmFyc2lnbmVk~abc',
      'Key-Pair-Id': 'APKAEIBAERJR2EXAMPLE',
      'X-Amz-Signature': 'deadbeefcafe0123',
      'X-Amz-Security-Token': 'FQoGZXIvYXdzEXAMPLE',
    };
    w.apis.soundcloud.fault({
      kind: 'redirect',
      location: `${w.apis.cdn.url}/media/stream.mp3?${new URLSearchParams(signed)}`,
    });
    const r = await w.api(['soundcloud', '/tracks/1/stream', '--verbose', '--silent']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      `GET ${w.apis.cdn.url}/media/stream.mp3?${Object.keys(signed)
        .map((k) => `${k}=[redacted]`)
        .join('&')} → 200 OK (attempt 1)`,
    );
    for (const value of Object.values(signed)) expect(r.stderr).not.toContain(value);
    expect(w.apis.cdn.requests.map((q) => q.query)).toEqual([signed]);
  });

  it('--profile: each profile its own credentials; an unconfigured one is exit 3 with nothing sent', async () => {
    const w = await apiWorld('chartmetric');
    const r = await w.api(['chartmetric', '/api/artist/206557', '--profile', 'staging']);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 3, stdout: '' });
    expect(w.apis.chartmetric.requests).toEqual([]);
    expect((await w.api(['chartmetric', '/api/artist/206557', '--profile', 'default'])).code).toBe(0);
    expect((await w.run(['--profile', 'default', 'api', 'chartmetric', '/api/artist/206557'])).code).toBe(0);
  });

  it('Soundcharts legacy keys: x-app-id and x-api-key sent, never printed; refused → exit 4', async () => {
    const w = await world('soundcharts');
    const loginResult = await w.run(['login', 'soundcharts', '--legacy', '--app-id', 'my-app'], {
      env: { TOKENS_SOUNDCHARTS_API_KEY: LEGACY_KEY },
    });
    expect(loginResult.code, loginResult.stderr).toBe(0);
    apis = await startFakeApis(w.server, { soundcharts: { legacyKeys: { 'my-app': LEGACY_KEY } } });
    const r = await w.run(
      ['api', 'soundcharts', `/api/v2/artist/${ARTIST}/songs`, '-f', 'limit=3', '--paginate', '--verbose'],
      { env: apis.env() },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveLength(7);
    expect(
      apis.soundcharts.requests.every((q) => q.credential === 'legacy' && q.headers.authorization === undefined),
    ).toBe(true);
    expect(w.sandbox.outputs.filter((o) => o.includes(LEGACY_KEY))).toEqual([]);
    apis.soundcharts.removeLegacyKey('my-app');
    const refused = await w.run(['api', 'soundcharts', '/echo'], { env: apis.env() });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/refused the legacy API key/);
  });
});

describe('--paginate', () => {
  it('SoundCloud: linked_partitioning added, next_href followed, one array of every collection in order', async () => {
    const w = await apiWorld('soundcloud-app');
    const r = await w.api(['soundcloud', '/tracks', '-f', 'limit=2', '--paginate']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).map((t: { id: number }) => t.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const reqs = w.apis.soundcloud.requests;
    expect(reqs).toHaveLength(4);
    expect(reqs.every((q) => q.query.linked_partitioning === 'true' && q.credential === 'token')).toBe(true);
  });

  it.each(['path', 'url'] as const)('Soundcharts: page.next (as a %s) followed, items in order', async (style) => {
    const w = await apiWorld('soundcharts');
    w.apis.soundcharts.nextStyle = style;
    const r = await w.api(['soundcharts', `/api/v2/artist/${ARTIST}/songs`, '-f', 'limit=2', '--paginate']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).map((i: { song: { name: string } }) => i.song.name)).toEqual(
      Array.from({ length: 7 }, (_, i) => `Song ${i + 1}`),
    );
    expect(w.apis.soundcharts.requests.map((q) => q.query.offset ?? '0')).toEqual(['0', '2', '4', '6']);
  });

  it('a next link to another origin is not followed (exit 5, naming it); that origin gets nothing; stdout stays one array', async () => {
    const w = await apiWorld('soundcloud-app');
    w.apis.soundcloud.nextLinkBase = `${w.apis.cdn.url}/soundcloud-api`;
    const r = await w.api(['soundcloud', '/tracks', '-f', 'limit=3', '--paginate']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`leads to ${w.apis.cdn.url}/soundcloud-api/tracks`);
    expect(JSON.parse(r.stdout)).toHaveLength(3);
    expect(w.apis.cdn.requests).toEqual([]);
  });

  it('a page with no items ends the walk, whatever its next link says (exit 0, one request)', async () => {
    const w = await apiWorld('soundcloud-app');
    const pages = await endlessPages(0);
    try {
      const r = await w.api(['soundcloud', '/tracks', '--paginate', '--verbose'], {
        env: { TOKENS_SOUNDCLOUD_API_URL: pages.base },
      });
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: '[]\n' });
      expect(r.stderr).toContain('soundcloud: page 1 is empty; its next-page link is not followed');
      expect(pages.requests).toHaveLength(1);
    } finally {
      await pages.close();
    }
  });

  it('pages are capped: 1000 by default, --max-pages N; past the cap exit 5, stdout one array of what was read', async () => {
    const w = await apiWorld('soundcloud-app');
    const pages = await endlessPages(1);
    try {
      const env = { TOKENS_SOUNDCLOUD_API_URL: pages.base };
      const capped = await w.api(['soundcloud', '/tracks', '--paginate', '--max-pages', '5'], { env });
      expect(capped.code).toBe(5);
      expect(capped.stderr).toBe(
        'tokens: soundcloud: stopped after 5 pages (--max-pages); page 5 links to more. Raise --max-pages to read further; stdout holds the items read so far.\n',
      );
      expect(JSON.parse(capped.stdout)).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }, { id: 5 }]);
      expect(pages.requests).toHaveLength(5);
      const byDefault = await w.api(['soundcloud', '/tracks', '--paginate'], { env });
      expect(byDefault.code).toBe(5);
      expect(byDefault.stderr).toContain('stopped after 1000 pages');
      expect(JSON.parse(byDefault.stdout)).toHaveLength(1000);
      expect(pages.requests).toHaveLength(1005);
      const bad = await w.api(['soundcloud', '/tracks', '--paginate', '--max-pages', '0'], { env });
      expect({ code: bad.code, stderr: bad.stderr }).toEqual({
        code: 2,
        stderr: 'tokens: --max-pages takes a whole number ≥ 1, not "0"\n',
      });
      expect(pages.requests).toHaveLength(1005);
    } finally {
      await pages.close();
    }
  });

  it('Chartmetric has no next links: --paginate is a usage error, nothing sent', async () => {
    const w = await apiWorld('chartmetric');
    const r = await w.api(['chartmetric', '/api/artist/206557', '--paginate']);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/chartmetric has no next-page links/);
    expect(w.apis.chartmetric.requests).toEqual([]);
  });
});

describe('failures', () => {
  it('401 once: one refresh, one repeat with the new token, exit 0', async () => {
    const w = await apiWorld('chartmetric');
    const since = Date.now();
    w.apis.chartmetric.fault({ status: 401 });
    const r = await w.api(['chartmetric', '/api/artist/206557']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ obj: { id: 206557 } });
    expect(tokenRequests(w, since)).toHaveLength(1);
    const [first, second] = w.apis.chartmetric.requests;
    expect(second!.token).not.toBe(first!.token);
    expect(second!.credential).toBe('token');
    await expectNoLeaks(w);
  });

  it('20 parallel calls refused with the same token: exactly one refresh, all succeed', {
    timeout: 180_000,
  }, async () => {
    const w = await apiWorld('soundcloud-app');
    const cached = JSON.parse(await readFile(join(w.sandbox.home, '.cache/tokens/default/soundcloud.json'), 'utf8'))
      .access_token as string;
    // The cached token is refused from now on. The first refusal is immediate; the others are held
    // until a new token was minted, so those callers learn of the refusal after a refresh already
    // happened: one that then refreshed again (rather than use the cache) would mint a second time.
    w.apis.soundcloud.refuse(cached, { holdUntilMinted: true });
    const since = Date.now();
    // Held answers can take as long as twenty processes take to start on a busy machine: more than
    // the suite's 5 s HTTP timeout, after which a held GET would be repeated (still refused).
    const results = await Promise.all(
      Array.from({ length: 20 }, () => w.api(['soundcloud', '/users/1002'], { env: { TOKENS_HTTP_TIMEOUT: '120' } })),
    );
    for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(new Set(results.map((r) => JSON.parse(r.stdout).username))).toEqual(new Set(['fake-artist']));
    expect(tokenRequests(w, since)).toHaveLength(1);
    const accepted = new Set(w.apis.soundcloud.requests.filter((q) => q.status === 200).map((q) => q.token));
    expect(accepted.size).toBe(1);
    expect(accepted.has(cached)).toBe(false);
    await expectNoLeaks(w);
  });

  it('401 always: one refresh, then exit 4 (log in again)', async () => {
    const w = await apiWorld('soundcharts');
    w.apis.soundcharts.faultAlways({ status: 401 });
    const since = Date.now();
    const r = await w.api(['soundcharts', '/echo']);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 4, stdout: '' });
    expect(r.stderr).toContain('tokens login soundcharts');
    expect(tokenRequests(w, since)).toHaveLength(1);
    expect(w.apis.soundcharts.requests).toHaveLength(2);
  });

  it.each([
    ['Retry-After', () => ({ status: 429, retryAfter: 1 })],
    ['X-RateLimit-Reset', () => ({ status: 429, rateLimitReset: Math.ceil(Date.now() / 1000) + 2 })],
    ["SoundCloud's reset_time", () => ({ status: 429, resetTime: new Date(Date.now() + 2000) })],
  ])('429 with %s: waited out, then repeated, exit 0', async (_style, fault) => {
    const w = await apiWorld('soundcloud-app');
    w.apis.soundcloud.fault(fault());
    const r = await w.api(['soundcloud', '/users/1002', '--verbose']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ username: 'fake-artist' });
    expect(r.stderr).toMatch(/waiting \d+ ms as asked by the 429/);
    expect(w.apis.soundcloud.requests.map((q) => q.status)).toEqual([429, 200]);
  });

  it.each([
    ['Retry-After', { status: 429, retryAfter: 600 }],
    ['X-RateLimit-Reset', { status: 429, rateLimitReset: Math.ceil(Date.now() / 1000) + 7200 }],
    ["SoundCloud's reset_time", { status: 429, resetTime: new Date(Date.now() + 3_600_000) }],
  ])('429 with %s past --max-wait: exit 5 at once, saying when the limit resets', async (_style, fault) => {
    const w = await apiWorld('soundcloud-app');
    w.apis.soundcloud.fault(fault);
    const r = await w.api(['soundcloud', '/users/1002', '--max-wait', '5', '--verbose']);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 5, stdout: '' });
    expect(r.stderr).toMatch(
      /soundcloud is rate limiting requests for \d+ s \(the limit resets at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ; tokens waits at most 5 s\)/,
    );
    expect(r.stderr).not.toMatch(/waiting/);
    expect(w.apis.soundcloud.requests).toHaveLength(1);
  });

  it.each([
    ['Retry-After', { retryAfter: '99999999999999' }],
    ['X-RateLimit-Reset', { rateLimitReset: 99999999999999 }],
  ])(
    '429 asking for an absurd wait (%s), from the API or the token endpoint: exit 5 saying so',
    async (_style, wait) => {
      const w = await apiWorld('soundcloud-app');
      w.apis.soundcloud.fault({ status: 429, ...wait });
      const api = await w.api(['soundcloud', '/users/1002']);
      expect({ code: api.code, stdout: api.stdout }).toEqual({ code: 5, stdout: '' });
      expect(api.stderr).toBe(
        'tokens: soundcloud is rate limiting requests for more than a year (tokens waits at most 30 s). Wait and try again; tokens reuses cached tokens to stay under the limit.\n',
      );
      w.server.fault('soundcloud', { status: 429, ...wait });
      const get = await w.run(['get', 'soundcloud', '--force-refresh']);
      expect({ code: get.code, stdout: get.stdout }).toEqual({ code: 5, stdout: '' });
      expect(get.stderr).toMatch(
        /^tokens: SoundCloud is rate limiting token requests for more than a year \(tokens waits at most 30 s\)/,
      );
      await expectNoLeaks(w);
    },
  );

  it('--max-wait (and login --timeout) past the longest timer: exit 2 before anything is sent', async () => {
    const w = await apiWorld('soundcloud-app');
    const tokensBefore = tokenRequests(w).length;
    w.apis.soundcloud.fault({ status: 429, retryAfter: 3_000_000 });
    const api = await w.api(['soundcloud', '/users/1002', '--max-wait', '99999999']);
    expect(api).toMatchObject({
      code: 2,
      stdout: '',
      stderr: 'tokens: --max-wait takes a whole number from 0 to 3600, not "99999999"\n',
    });
    expect(w.apis.soundcloud.requests).toEqual([]);
    const login = await w.run(['login', 'soundcloud', '--timeout', '99999999']);
    expect(login).toMatchObject({
      code: 2,
      stdout: '',
      stderr: 'tokens: --timeout takes a whole number from 1 to 3600, not "99999999"\n',
    });
    expect(tokenRequests(w).length).toBe(tokensBefore);
    w.apis.soundcloud.clearFaults();
  });

  it('503 on GET is retried (3 attempts in all); on POST it is sent once, exit 5', async () => {
    const w = await apiWorld('chartmetric');
    w.apis.chartmetric.fault([{ status: 503 }, { status: 503 }]);
    const get = await w.api(['chartmetric', '/api/artist/206557']);
    expect(get.code, get.stderr).toBe(0);
    expect(w.apis.chartmetric.requests.map((q) => q.status)).toEqual([503, 503, 200]);

    w.apis.chartmetric.fault({ status: 503 });
    const before = w.apis.chartmetric.requests.length;
    const post = await w.api(['chartmetric', '/echo', '-X', 'POST', '-f', 'a=1']);
    expect({ code: post.code, stdout: post.stdout }).toEqual({ code: 5, stdout: '' });
    expect(post.stderr).toMatch(/sent once: POST is not repeated/);
    expect(w.apis.chartmetric.requests.length - before).toBe(1);

    w.apis.chartmetric.fault([{ status: 503 }, { status: 503 }, { status: 503 }]);
    const down = await w.api(['chartmetric', '/api/artist/206557']);
    expect(down.code).toBe(5);
    expect(down.stderr).toMatch(/after 3 attempts/);
  });

  it('404: the body on stdout, one line on stderr, exit 8', async () => {
    const w = await apiWorld('soundcloud-app');
    const r = await w.api(['soundcloud', '/users/1']);
    expect(r.code).toBe(8);
    expect(JSON.parse(r.stdout)).toMatchObject({ code: 404, message: '404 - Not Found' });
    expect(r.stderr).toBe('tokens: soundcloud answered 404 Not Found for GET /users/1\n');
  });

  it('a GET redirected to another origin is followed there without the credentials', async () => {
    const w = await apiWorld('soundcloud-app');
    const r = await runRaw(w, ['api', 'soundcloud', '/redirect']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect([r.stdoutSize, r.stdoutSha256]).toEqual([MEDIA_SIZE, generatedDigest(MEDIA_SIZE)]);
    expect(w.apis.cdn.requests).toHaveLength(1);
    expect(w.apis.cdn.requests[0]!.credentials).toEqual([]);
  });
});

describe("redirects: where the credentials and the caller's headers go", () => {
  it('a redirect on the same origin but outside the base path is followed without the token', async () => {
    const w = await apiWorld('soundcloud-app');
    type Seen = { path: string; authorization?: string; status?: number };
    const server = new LoopbackServer<Seen>(async (req, res) => {
      const rec: Seen = {
        path: req.url ?? '/',
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      };
      server.requests.push(rec);
      server.send(
        rec,
        res,
        rec.path === '/api/soundcloud/start'
          ? { status: 302, headers: { location: '/api/chartmetric/x' }, body: '' }
          : { status: 200, headers: { 'content-type': 'application/json' }, body: '{"elsewhere":true}' },
      );
    });
    await server.listen();
    try {
      const env = { TOKENS_SOUNDCLOUD_API_URL: `${server.url}/api/soundcloud` };
      const r = await w.api(['soundcloud', '/start'], { env });
      expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({
        code: 0,
        stdout: '{"elsewhere":true}',
        stderr: '',
      });
      expect(server.requests.map((q) => [q.path, q.authorization?.replace(/ .*/, ' TOKEN')])).toEqual([
        ['/api/soundcloud/start', 'OAuth TOKEN'],
        ['/api/chartmetric/x', undefined],
      ]);
      // The same URL as an argument is refused, as a next-page link would be.
      const direct = await w.api(['soundcloud', `${server.url}/api/chartmetric/x`], { env });
      expect(direct.code).toBe(2);
      expect(server.requests).toHaveLength(2);
    } finally {
      await server.close();
    }
  });

  it('headers given with -H (Cookie, Proxy-Authorization) stay behind when a redirect leaves the API origin', async () => {
    const w = await apiWorld('soundcloud-app');
    const r = await runRaw(w, [
      'api',
      'soundcloud',
      '/redirect',
      '-H',
      'Cookie: session=c00k1e-value',
      '-H',
      'Proxy-Authorization: Basic cHJveHk6c2VjcmV0',
      '-H',
      'X-Trace: t1',
    ]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdoutSize).toBe(MEDIA_SIZE);
    const [api] = w.apis.soundcloud.requests;
    expect(api!.headers).toMatchObject({ cookie: 'session=c00k1e-value', 'x-trace': 't1' });
    const [cdn] = w.apis.cdn.requests;
    expect(cdn!.credentials).toEqual([]);
    expect(cdn!.headers).not.toHaveProperty('cookie');
    expect(cdn!.headers).not.toHaveProperty('proxy-authorization');
    expect(cdn!.headers).not.toHaveProperty('x-trace');
  });
});

describe('bodies', () => {
  it('a binary body arrives byte for byte', async () => {
    const w = await apiWorld('soundcloud-app');
    const r = await runRaw(w, ['api', 'soundcloud', '/binary', '-f', 'size=300001']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdoutSize).toBe(300_001);
    expect(r.stdoutSha256).toBe(generatedDigest(300_001));
  });

  it('a large body streams through: four times the body, next to no more memory', {
    timeout: 180_000,
  }, async () => {
    const w = await apiWorld('soundcloud-app');
    const size = 50 * 1024 * 1024;
    const large = await runRaw(w, ['api', 'soundcloud', '/large'], { measure: true });
    expect({ code: large.code, stderr: large.stderr }).toEqual({ code: 0, stderr: '' });
    expect(large.stdoutSize).toBe(size);
    expect(large.stdoutSha256).toBe(generatedDigest(size));
    const larger = await runRaw(w, ['api', 'soundcloud', '/large', '-f', `size=${4 * size}`], { measure: true });
    expect({ code: larger.code, stdoutSize: larger.stdoutSize }).toEqual({ code: 0, stdoutSize: 4 * size });
    // Holding the body would add the 150 MiB more; streaming keeps buffers and garbage of the same
    // size for both (what the garbage collector lets grow depends on the Node line, not the body).
    const growthMiB = (larger.peakRssKiB! - large.peakRssKiB!) / 1024;
    expect(growthMiB, `peak RSS ${large.peakRssKiB} KiB → ${larger.peakRssKiB} KiB`).toBeLessThan(50);
  });

  it('a reader that stops early (head -c) ends the run quietly', async () => {
    const w = await apiWorld('soundcloud-app');
    const env = { ...w.sandbox.baseEnv(), ...w.env };
    const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn('sh', ['-c', `'${process.execPath}' '${BIN}' api soundcloud /large | head -c 10 | wc -c`], {
        env,
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('close', (code) => resolve({ code, out, err }));
    });
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe('10');
    expect(r.err).toBe('');
  });
});
