// `tokens serve` end to end: the built CLI serving the local fake provider APIs (which accept only
// the live tokens the fake auth server issued), called by clients nobody here wrote: curl over TCP
// and a unix socket, Debian's python3 with urllib, requests and httpx.
import { lstat, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeEsmTracer } from '../support/esm-trace.js';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeApis, type FakeApis } from '../support/servers.js';
import { curl, PYTHON, run, serve, type Served } from '../support/serve.js';
import { DIST, ROOT } from '../support/cli.js';
import { cachePath, secretsSeen, tokenRequests, useWorlds, type Setup, type World } from '../support/worlds.js';

const PASSPHRASE = 'serve test passphrase 91d3';
const SERVE_KEY = 'fixed_serve_key_0123456789_abcdefghijklmnop';
const { loggedIn } = useWorlds({ passphrase: PASSPHRASE });

let apis: FakeApis | undefined;
const servers: Served[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) if (s.cli.child.exitCode === null) await s.stop();
  if (!apis) return;
  const violations = apis.violations();
  await apis.close();
  apis = undefined;
  expect(violations).toEqual([]);
});

interface ServeWorld extends World {
  apis: FakeApis;
}

async function serveWorld(setup: Setup): Promise<ServeWorld> {
  const w = await loggedIn(setup);
  apis = await startFakeApis(w.server);
  Object.assign(w.env, apis.env());
  return Object.assign(w, { apis });
}

async function started(
  w: World,
  args: string[] = [],
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<Served> {
  const s = await serve(w, args, env, nodeArgs);
  servers.push(s);
  return s;
}

const cachedToken = async (w: World) =>
  (JSON.parse(await readFile(cachePath(w), 'utf8')) as { access_token: string }).access_token;

/** The access tokens the fake APIs accepted or refused: none may show up outside /token answers. */
const tokensSeen = (w: ServeWorld) => [
  ...new Set(
    [w.apis.soundcloud, w.apis.chartmetric, w.apis.soundcharts]
      .flatMap((a) => a.requests.map((r) => r.token!))
      .filter(Boolean),
  ),
];

describe('tokens serve over TCP', () => {
  it('prints export lines, serves curl, urllib and requests with the credentials added, and stops on SIGTERM with exit 0', async () => {
    const w = await serveWorld('chartmetric');
    const s = await started(w, [], { TOKENS_SERVE_KEY: SERVE_KEY });
    expect(s.cli.stdout()).toMatch(
      /^export CHARTMETRIC_API_URL='http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]+\/chartmetric'\nexport TOKENS_SERVE_URL='http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]+'\n$/,
    );
    const base = s.vars.CHARTMETRIC_API_URL!;
    expect(base).toContain(`/${SERVE_KEY}/chartmetric`);

    const direct = await curl(`${base}/api/artist/206557`, [
      '-H',
      'Authorization: Bearer callers-own',
      '-H',
      'x-api-key: nope',
    ]);
    expect(direct.status).toBe(200);
    expect(JSON.parse(direct.body)).toEqual({ obj: { id: 206557, name: 'Fake Artist', cm_artist_score: 87.5 } });
    const rec = w.apis.chartmetric.requests.at(-1)!;
    expect(rec.credential).toBe('token');
    expect(rec.headers.authorization).toBe(`Bearer ${await cachedToken(w)}`);
    expect(rec.headers['x-api-key']).toBeUndefined();

    const urllib = await run(
      PYTHON,
      [
        '-c',
        'import json,os,urllib.request;r=urllib.request.urlopen(os.environ["U"]+"/api/artist/3380");print(r.status,json.load(r)["obj"]["name"])',
      ],
      { ...process.env, U: base } as Record<string, string>,
    );
    expect(urllib.stdout.trim()).toBe('200 Another Fake Artist');
    const requests = await run(
      PYTHON,
      [
        '-c',
        'import os,requests;r=requests.post(os.environ["U"]+"/echo?x=1",json={"a":[1,2]});print(r.status_code);print(r.json()["body"])',
      ],
      { ...process.env, U: base } as Record<string, string>,
    );
    expect(requests.stdout.trim()).toBe("200\n{'a': [1, 2]}");

    expect(await s.stop()).toBe(0);
    expect(s.cli.stderr()).toBe('');
    // The leak scan: the key and every secret only in the ready lines (stdout), nowhere else.
    expect(await w.sandbox.findSecrets(secretsSeen(w), [s.cli.stdout()])).toEqual([]);
    const outputs = [...w.sandbox.outputs, direct.body, urllib.stdout, urllib.stderr, requests.stdout, requests.stderr];
    for (const secret of [...tokensSeen(w), PASSPHRASE]) expect(outputs.filter((o) => o.includes(secret))).toEqual([]);
    expect(tokensSeen(w).length).toBeGreaterThan(0);
    expect(outputs.filter((o) => o !== s.cli.stdout() && o.includes(SERVE_KEY))).toEqual([]);
  });

  it('refuses a wrong or missing key (404, nothing said), a foreign Host (403) and paths out of the base (400)', async () => {
    const w = await serveWorld('chartmetric');
    const s = await started(w, ['--verbose']);
    const root = s.vars.TOKENS_SERVE_URL!;
    const origin = new URL(root).origin;
    const key = new URL(root).pathname.slice(1);
    const wrong = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
    const cases: Array<[string, string[], number]> = [
      [`${origin}/${wrong}/chartmetric/api/artist/206557`, [], 404],
      [`${origin}/chartmetric/api/artist/206557`, [], 404],
      [`${origin}/${key}x/chartmetric/api/artist/206557`, [], 404],
      [`${origin}/${key}/soundcloud/me`, [], 404],
      [`${origin}/${key}/chartmetric/api/artist/206557`, ['-H', 'Host: evil.example'], 403],
      [`${origin}/${key}/chartmetric/api/artist/206557`, ['-H', `Host: attacker.example:${new URL(root).port}`], 403],
      [`${origin}/${key}/chartmetric/api/artist/206557`, ['-H', 'Host: localhost:1'], 403],
      [`${origin}/${key}/chartmetric/../soundcharts/x`, ['--path-as-is'], 400],
      [`${origin}/${key}/chartmetric/api/%2e%2e/%2e%2e/x`, ['--path-as-is'], 400],
      [`${origin}/${key}/chartmetric/api/..%2f..%2fx`, ['--path-as-is'], 400],
      [`${origin}/${key}/chartmetric/api/%252e%252e/x`, ['--path-as-is'], 400],
      [`${origin}/${key}/chartmetric/api/..%5cx`, ['--path-as-is'], 400],
      [`${origin}/${key}/chartmetric/api/artist/206557`, ['-H', `Host: localhost:${new URL(root).port}`], 200],
    ];
    for (const [url, extra, status] of cases) {
      const answer = await curl(url, extra);
      expect([url, extra, answer.status]).toEqual([url, extra, status]);
      if (status === 404 || status === 403) expect(answer.body).toBe('');
      if (status === 400) expect(answer.body).not.toContain(key);
    }
    expect(w.apis.chartmetric.requests.length).toBe(1);
    expect(await s.stop()).toBe(0);
    // --verbose: one line per request, never the key or a query.
    const lines = s.cli.stderr().trim().split('\n');
    expect(lines.length).toBe(cases.length);
    expect(s.cli.stderr()).not.toContain(key);
    expect(lines.at(-1)).toMatch(/^tokens: serve: GET chartmetric \/api\/artist\/206557 200 \d+ ms$/);
  });

  it('refuses a --listen address that is not loopback (exit 2) and a provider not configured (exit 3)', async () => {
    const w = await serveWorld('chartmetric');
    for (const listen of ['0.0.0.0:8080', '192.168.1.2:80', 'example.com:80', '[::]:80', '127.0.0.1:99999']) {
      const r = await w.run(['serve', '--listen', listen]);
      expect([listen, r.code]).toEqual([listen, 2]);
      expect(r.stderr.trim().split('\n').length).toBe(1);
    }
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    const busy = await w.run(['serve', '--listen', `127.0.0.1:${port}`]);
    taken.close();
    expect(busy.code).toBe(2);
    expect(busy.stderr).toBe(`tokens: cannot listen on 127.0.0.1:${port}: the address is in use (EADDRINUSE)\n`);
    const r = await w.run(['serve', '--provider', 'soundcloud']);
    expect(r.code).toBe(3);
    expect((await w.run(['serve'], { env: { TOKENS_SERVE_KEY: 'short' } })).code).toBe(2);
  });

  it('replaces a refused token once for many callers and repeats each request (401 once)', async () => {
    const w = await serveWorld('chartmetric');
    const s = await started(w, ['--verbose']);
    const base = s.vars.CHARTMETRIC_API_URL!;
    const before = tokenRequests(w).length;
    w.apis.chartmetric.refuse(await cachedToken(w), { holdUntilMinted: true });
    const answers = await Promise.all(Array.from({ length: 8 }, () => fetch(`${base}/api/artist/206557`)));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    expect(tokenRequests(w).length - before).toBe(1);
    // A body of at most 1 MiB is held and sent again.
    w.apis.chartmetric.refuse(await cachedToken(w));
    const posted = await fetch(`${base}/echo`, { method: 'PUT', body: 'x'.repeat(100_000) });
    expect(posted.status).toBe(200);
    expect(((await posted.json()) as { size: number }).size).toBe(100_000);
    expect(tokenRequests(w).length - before).toBe(2);
    // A refresh loads proper-lockfile's signal-exit: SIGTERM still stops the server gracefully.
    expect(await s.stop()).toBe(0);
    expect(s.cli.stderr()).toMatch(/^tokens: serve: PUT chartmetric \/echo 200 \d+ ms \(refreshed the token\)$/m);
    expect(s.cli.stderr().match(/refreshed the token/g)!.length).toBeGreaterThanOrEqual(8);
  });

  it('waits out a 429 within --max-wait and passes a longer one back as it came; a dead API is a 502 naming the provider', async () => {
    const w = await serveWorld('chartmetric');
    const s = await started(w, ['--max-wait', '5']);
    const base = s.vars.CHARTMETRIC_API_URL!;
    w.apis.chartmetric.fault({ status: 429, retryAfter: 1 });
    const t = Date.now();
    expect((await fetch(`${base}/api/artist/206557`)).status).toBe(200);
    expect(Date.now() - t).toBeGreaterThanOrEqual(900);
    w.apis.chartmetric.fault({ status: 429, retryAfter: 100, body: { error: 'slow down', marker: 'as-it-came' } });
    const limited = await fetch(`${base}/api/artist/206557`);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('100');
    expect(await limited.json()).toEqual({ error: 'slow down', marker: 'as-it-came' });
    // POST is sent once: its 503 comes back; GET is retried past one.
    w.apis.chartmetric.fault({ status: 503 });
    expect((await fetch(`${base}/echo`, { method: 'POST', body: '{}' })).status).toBe(503);
    w.apis.chartmetric.fault({ status: 503 });
    expect((await fetch(`${base}/api/artist/206557`)).status).toBe(200);
    await w.apis.chartmetric.close();
    const dead = await fetch(`${base}/api/artist/206557`);
    expect(dead.status).toBe(502);
    const text = await dead.text();
    expect(text.trim().split('\n').length).toBe(1);
    expect(JSON.parse(text)).toMatchObject({ provider: 'chartmetric' });
  });

  it('rewrites links under the API base to the server (Location, next_href) and leaves the CDN alone', async () => {
    const w = await serveWorld('soundcloud-app');
    const s = await started(w);
    const base = s.vars.SOUNDCLOUD_API_URL!;
    const page = (await (await fetch(`${base}/tracks?linked_partitioning=true&page_size=2`)).json()) as {
      collection: unknown[];
      next_href: string;
    };
    expect(page.next_href.startsWith(`${base}/tracks?`)).toBe(true);
    const second = await curl(page.next_href);
    expect(second.status).toBe(200);
    expect((JSON.parse(second.body) as { collection: unknown[] }).collection.length).toBe(2);
    const cdn = await fetch(`${base}/redirect`, { redirect: 'manual' });
    expect(cdn.status).toBe(302);
    expect(cdn.headers.get('location')!.startsWith(w.apis.cdn.url)).toBe(true);
    const inside = await fetch(`${base}/redirect?location=${encodeURIComponent(`${w.apis.soundcloud.base}/me?x=1`)}`, {
      redirect: 'manual',
    });
    expect(inside.headers.get('location')).toBe(`${base}/me?x=1`);
    // curl -L follows it through the server, authenticated.
    const followed = await curl(`${base}/redirect?location=${encodeURIComponent(`${w.apis.soundcloud.base}/tracks`)}`, [
      '-L',
    ]);
    expect(followed.status).toBe(200);
  });

  it('rewrites Soundcharts page.next (a path) so the next page goes through the server', async () => {
    const w = await serveWorld('soundcharts');
    const s = await started(w);
    const base = s.vars.SOUNDCHARTS_API_URL!;
    const { SOUNDCHARTS_ARTIST } = await import('../support/servers.js');
    const first = (await (await fetch(`${base}/api/v2/artist/${SOUNDCHARTS_ARTIST.uuid}/songs?limit=2`)).json()) as {
      page: { next: string };
    };
    expect(first.page.next.startsWith(`${base}/api/v2/artist/`)).toBe(true);
    expect((await fetch(first.page.next)).status).toBe(200);
  });

  it('with --provider and fresh tokens the fast path starts it (no runServe module loaded); what answers comes from dist/direct.js', async () => {
    const w = await serveWorld('chartmetric');
    const dir = await mkdtemp(join(tmpdir(), 'tokens-serve-trace-'));
    const trace = join(dir, 'esm.txt');
    await writeFile(trace, '');
    const tracer = await writeEsmTracer(dir, 'SERVE_ESM_TRACE');
    const s = await started(w, ['--provider', 'chartmetric'], { SERVE_ESM_TRACE: trace }, [
      '--import',
      pathToFileURL(tracer).href,
    ]);
    // The ES modules loaded, as paths under dist/ (what answers requests loads once the ready line is out).
    const loaded = async () =>
      (await readFile(trace, 'utf8'))
        .split('\n')
        .filter((url) => url.startsWith(pathToFileURL(DIST).href))
        .map((url) => relative(ROOT, fileURLToPath(url)).split(sep).join('/'));
    const answer = await curl(`${s.vars.CHARTMETRIC_API_URL}/api/artist/206557`);
    expect(answer.status).toBe(200);
    expect(w.apis.chartmetric.requests.at(-1)!.headers.authorization).toBe(`Bearer ${await cachedToken(w)}`);
    // runServe's module (src/commands/serve.ts) never loaded as an ES module: the fast path's copy
    // listened and printed the ready line; what answers came from dist/direct.js, not main.js.
    const meta = JSON.parse(await readFile(join(DIST, 'meta.json'), 'utf8')) as {
      outputs: Record<string, { inputs: Record<string, unknown> }>;
    };
    const holding = (input: string) => Object.keys(meta.outputs).filter((out) => input in meta.outputs[out]!.inputs);
    const esm = await loaded();
    expect(esm).toContain(relative(ROOT, join(DIST, 'direct.js')));
    expect(esm).not.toContain(relative(ROOT, join(DIST, 'main.js')));
    for (const out of holding('src/commands/serve.ts')) expect(esm).not.toContain(out);
    expect(esm.some((out) => holding('src/serve/server.ts').includes(out))).toBe(true);
    expect(await s.stop()).toBe(0);
    // Started this way too, the key and every secret are in the ready lines (stdout) only.
    expect(s.cli.stderr()).toBe('');
    expect(await w.sandbox.findSecrets(secretsSeen(w), [s.cli.stdout()])).toEqual([]);
    const outputs = [...w.sandbox.outputs, answer.body, await readFile(trace, 'utf8')];
    for (const secret of [...tokensSeen(w), PASSPHRASE]) expect(outputs.filter((o) => o.includes(secret))).toEqual([]);
  });

  it('hands out the token at /token with no-store and the asked min_ttl, and says what is at hand at /health', async () => {
    const w = await serveWorld('chartmetric');
    const s = await started(w);
    const root = s.vars.TOKENS_SERVE_URL!;
    const answer = await fetch(`${root}/token/chartmetric`);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    const body = (await answer.json()) as Record<string, string>;
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_at', 'provider', 'token_type']);
    expect(body.access_token).toBe(await cachedToken(w));
    // The cached token has 1000 s left: enough for the default margin, not for min_ttl=1800.
    const cached = JSON.parse(await readFile(cachePath(w), 'utf8')) as Record<string, number>;
    await writeFile(
      cachePath(w),
      JSON.stringify({ ...cached, expires_at: Date.now() + 1000_000, obtained_at: Date.now() - 2600_000 }),
      { mode: 0o600 },
    );
    const before = tokenRequests(w).length;
    const same = (await (await fetch(`${root}/token/chartmetric?min_ttl=900`)).json()) as Record<string, string>;
    expect(same.access_token).toBe(body.access_token);
    const longer = (await (await fetch(`${root}/token/chartmetric?min_ttl=1800`)).json()) as Record<string, string>;
    expect(tokenRequests(w).length).toBe(before + 1);
    expect(longer.access_token).not.toBe(body.access_token);
    expect(Date.parse(longer.expires_at!) - Date.now()).toBeGreaterThanOrEqual(1800_000);
    expect((await fetch(`${root}/token/chartmetric?min_ttl=abc`)).status).toBe(400);
    expect((await fetch(`${root}/token/soundcloud`)).status).toBe(404);
    const health = await fetch(`${root}/health`);
    const text = await health.text();
    expect(JSON.parse(text)).toMatchObject({ providers: { chartmetric: { token: true } } });
    for (const t of tokensSeen(w)) expect(text).not.toContain(t);
    expect(text).not.toContain(longer.access_token);
  });

  it('on SIGTERM stops accepting and lets a request in flight finish, then exits 0', async () => {
    const w = await serveWorld('chartmetric');
    const s = await started(w);
    const base = s.vars.CHARTMETRIC_API_URL!;
    w.apis.chartmetric.fault({ kind: 'delay', ms: 1500 });
    const inFlight = fetch(`${base}/api/artist/206557`).then(async (r) => [r.status, await r.json()]);
    while (w.apis.chartmetric.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    s.cli.child.kill('SIGTERM');
    const stoppedAt = Date.now();
    expect(await inFlight).toEqual([200, { obj: { id: 206557, name: 'Fake Artist', cm_artist_score: 87.5 } }]);
    expect((await s.cli.result).code).toBe(0);
    // Done once the request is: the kept-alive connection is closed, not waited on for 10 s.
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    await expect(fetch(`${base}/api/artist/206557`)).rejects.toThrow();
  });

  it('streams large bodies both ways', async () => {
    const w = await serveWorld('chartmetric');
    const s = await started(w);
    const base = s.vars.CHARTMETRIC_API_URL!;
    const size = 20 * 1024 * 1024 + 7;
    const down = await run('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{size_download}',
      `${base}/binary?size=${size}`,
    ]);
    expect(down.stdout).toBe(`200 ${size}`);
    const up = await run(
      PYTHON,
      [
        '-c',
        'import os,requests\ndef gen():\n  for i in range(30): yield b"y"*1048576\nr=requests.put(os.environ["U"]+"/echo",data=gen());print(r.status_code,r.json()["size"])',
      ],
      { ...process.env, U: base } as Record<string, string>,
    );
    expect(up.stdout.trim()).toBe(`200 ${30 * 1048576}`);
  });
});

describe('tokens serve --socket', () => {
  it('makes a 0600 socket with keyless URLs; curl --unix-socket and httpx over it work', async () => {
    const w = await serveWorld('chartmetric');
    const dir = await mkdtemp(join(tmpdir(), 'tokens-sock-'));
    const path = join(dir, 'run', 'tokens.sock');
    const s = await started(w, ['--socket', path]);
    expect(s.vars).toEqual({
      TOKENS_SERVE_SOCKET: path,
      CHARTMETRIC_API_URL: 'http://localhost/chartmetric',
      TOKENS_SERVE_URL: 'http://localhost',
    });
    expect((await lstat(path)).mode & 0o777).toBe(0o600);
    expect((await lstat(join(dir, 'run'))).mode & 0o777).toBe(0o700);
    const viaCurl = await curl(`${s.vars.CHARTMETRIC_API_URL}/api/artist/206557`, ['--unix-socket', path]);
    expect(viaCurl.status).toBe(200);
    const viaHttpx = await run(
      PYTHON,
      [
        '-c',
        'import os,httpx;c=httpx.Client(transport=httpx.HTTPTransport(uds=os.environ["S"]));r=c.get(os.environ["U"]+"/api/artist/3380");print(r.status_code,r.json()["obj"]["id"])',
      ],
      { ...process.env, S: path, U: s.vars.CHARTMETRIC_API_URL! } as Record<string, string>,
    );
    expect(viaHttpx.stdout.trim()).toBe('200 3380');
    expect(await s.stop()).toBe(0);
    await expect(lstat(path)).rejects.toThrow();
  });

  it('refuses a socket directory others may write to (exit 6)', async () => {
    const w = await serveWorld('chartmetric');
    const r = await w.run(['serve', '--socket', join(tmpdir(), 'tokens-x.sock')]);
    expect(r.code).toBe(6);
  });
});

describe('tokens serve --background', () => {
  it('detaches once ready and prints TOKENS_SERVE_PID for eval', async () => {
    const w = await serveWorld('chartmetric');
    const r = await w.run(['serve', '--background']);
    expect(r.code).toBe(0);
    const vars = Object.fromEntries([...r.stdout.matchAll(/^export ([A-Z_]+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]));
    const pid = Number(vars.TOKENS_SERVE_PID);
    expect(pid).toBeGreaterThan(0);
    try {
      expect((await fetch(`${vars.CHARTMETRIC_API_URL}/api/artist/206557`)).status).toBe(200);
      const environ = await readFile(`/proc/${pid}/environ`, 'latin1');
      expect(environ).not.toContain('TOKENS_PASSPHRASE');
      expect(environ).not.toContain(PASSPHRASE);
    } finally {
      process.kill(pid, 'SIGTERM');
    }
  });
});
