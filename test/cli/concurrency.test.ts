// "One refresh however many processes ask": N `tokens get` processes started together against an
// expired cache make exactly one token-endpoint request between them, all print the same token, and
// the refresh-token chain survives (no single-use refresh token is ever sent twice).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Sandbox, type CliResult, type RunOptions } from '../support/cli.js';
import { startProviderServer, type ProviderName, type ProviderServer, type RecordedRequest } from '../support/servers.js';

const PASSPHRASE = 'correct horse battery staple (concurrency)';

type Setup = 'chartmetric' | 'soundcharts' | 'soundcloud-app' | 'soundcloud-user';

interface World {
  server: ProviderServer;
  sandbox: Sandbox;
  provider: ProviderName;
  /** Client secrets and initial refresh tokens handed to the CLI; refresh tokens found later are added by secretsSeen(). */
  secrets: string[];
  run(args: string[], options?: RunOptions): Promise<CliResult>;
}

const worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) {
    await w.server.close();
    await w.sandbox.dispose();
  }
});

function random(prefix: string): string {
  return `${prefix}${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const address = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A "browser" for BROWSER: GETs the authorization URL, then the loopback callback it redirects to. */
function scriptedBrowser(): string {
  const script =
    'const u=process.argv[1];' +
    'fetch(u,{redirect:"manual"}).then(r=>fetch(r.headers.get("location"),{redirect:"manual"})).then(r=>r.text()).catch(()=>process.exit(1))';
  return `'${process.execPath}' -e '${script}'`;
}

/** A fresh fake server and HOME, logged in to one provider with the encrypted file store. */
async function loggedIn(setup: Setup): Promise<World> {
  const cmRefresh = random('cm_rt_seed_');
  const scSecret = random('sc_secret_');
  const sclSecret = random('scl_secret_');
  const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
  const server = await startProviderServer({
    rotate: true,
    revokeOnReuse: true,
    chartmetric: { refreshTokens: [cmRefresh] },
    soundcharts: { clients: [{ clientId: 'sc-client', clientSecret: scSecret }] },
    soundcloud: { clients: [{ clientId: 'scl-client', clientSecret: sclSecret, redirectUris: [redirectUri] }] },
    authorizeMode: 'approve',
  });
  const sandbox = await Sandbox.create();
  const provider: ProviderName = setup === 'soundcloud-app' || setup === 'soundcloud-user' ? 'soundcloud' : setup;
  const baseEnv = { ...server.env(), TOKENS_STORE: 'file', TOKENS_PASSPHRASE: PASSPHRASE };
  const w: World = {
    server,
    sandbox,
    provider,
    secrets: [cmRefresh, scSecret, sclSecret, PASSPHRASE],
    run: (args, options = {}) => sandbox.run(args, { timeoutMs: 100_000, ...options, env: { ...baseEnv, ...options.env } }),
  };
  worlds.push(w);

  let login: CliResult;
  switch (setup) {
    case 'chartmetric':
      login = await w.run(['login', 'chartmetric'], { env: { TOKENS_CHARTMETRIC_REFRESH_TOKEN: cmRefresh } });
      break;
    case 'soundcharts':
      login = await w.run(['login', 'soundcharts', '--client-id', 'sc-client'], { env: { TOKENS_SOUNDCHARTS_CLIENT_SECRET: scSecret } });
      break;
    case 'soundcloud-app':
      login = await w.run(['login', 'soundcloud', '--client-credentials', '--client-id', 'scl-client'], {
        env: { TOKENS_SOUNDCLOUD_CLIENT_SECRET: sclSecret },
      });
      break;
    case 'soundcloud-user':
      login = await w.run(['login', 'soundcloud', '--client-id', 'scl-client', '--redirect-uri', redirectUri, '--timeout', '30'], {
        env: { TOKENS_SOUNDCLOUD_CLIENT_SECRET: sclSecret, BROWSER: scriptedBrowser() },
      });
      break;
  }
  expect(login.code, login.stderr).toBe(0);
  expect(server.violations).toEqual([]);
  return w;
}

function cachePath(w: World): string {
  return join(w.sandbox.home, '.cache', 'tokens', 'default', `${w.provider}.json`);
}

/** Turns the cached token (if any) into one that expired a minute ago. */
async function expireCache(w: World): Promise<void> {
  let cached: Record<string, unknown>;
  try {
    cached = JSON.parse(await readFile(cachePath(w), 'utf8')) as Record<string, unknown>;
  } catch {
    return;
  }
  await mkdir(dirname(cachePath(w)), { recursive: true, mode: 0o700 });
  await writeFile(cachePath(w), JSON.stringify({ ...cached, expires_at: Date.now() - 60_000 }), { mode: 0o600 });
}

function tokenRequests(w: World, since = 0): RecordedRequest[] {
  return w.server.requests.filter((r) => r.provider === w.provider && r.endpoint === 'token' && r.time >= since);
}

/** Every refresh token and client secret the CLI sent or was given: none may leak. */
function secretsSeen(w: World): string[] {
  const found = new Set(w.secrets);
  for (const r of w.server.requests) {
    const json = r.json as Record<string, unknown> | undefined;
    if (typeof json?.refreshtoken === 'string') found.add(json.refreshtoken);
    for (const k of ['refresh_token', 'client_secret', 'code_verifier'] as const) if (r.form?.[k]) found.add(r.form[k]);
  }
  for (const p of ['chartmetric', 'soundcloud'] as const) for (const t of w.server.liveRefreshTokens(p)) found.add(t);
  return [...found];
}

async function parallelGets(w: World, n: number): Promise<{ results: CliResult[]; ms: number }> {
  const started = Date.now();
  const results = await Promise.all(Array.from({ length: n }, () => w.run(['get', w.provider])));
  return { results, ms: Date.now() - started };
}

const cases: Array<{ name: string; setup: Setup; prime: boolean; grant: string }> = [
  { name: 'chartmetric, rotating refresh token', setup: 'chartmetric', prime: false, grant: 'refresh_token' },
  { name: 'soundcharts, client credentials', setup: 'soundcharts', prime: false, grant: 'client_credentials' },
  { name: 'soundcloud app, first client-credentials mint', setup: 'soundcloud-app', prime: false, grant: 'client_credentials' },
  { name: 'soundcloud app, renewal with its refresh token', setup: 'soundcloud-app', prime: true, grant: 'refresh_token' },
  { name: 'soundcloud user login, single-use refresh token', setup: 'soundcloud-user', prime: false, grant: 'refresh_token' },
];

describe.each([20, 50])('%i parallel `tokens get` with an expired cache', (n) => {
  it.each(cases)('$name: one request, one token for all, the chain alive', { timeout: 120_000 }, async ({ setup, prime, grant }) => {
    const w = await loggedIn(setup);
    if (prime) expect((await w.run(['get', w.provider])).code).toBe(0);
    await expireCache(w);
    const before = await readFile(cachePath(w), 'utf8').catch(() => '');
    const since = Date.now();
    const mintsBefore = w.server.mints(w.provider);
    w.server.delayMs = 300;

    const { results, ms } = await parallelGets(w, n);

    for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const printed = new Set(results.map((r) => r.stdout));
    expect(printed.size).toBe(1);
    const token = [...printed][0]!.trim();
    expect(before).not.toContain(token);
    expect(tokenRequests(w, since)).toHaveLength(1);
    expect(w.server.mints(w.provider) - mintsBefore).toBe(1);
    const issued = w.server.issued.at(-1)!;
    expect(issued).toMatchObject({ provider: w.provider, grantType: grant, accessToken: token });
    expect(w.server.violations).toEqual([]);
    expect(JSON.parse(await readFile(cachePath(w), 'utf8'))).toMatchObject({ access_token: token });
    console.log(`${setup}${prime ? ' (primed)' : ''}: ${n} parallel gets in ${ms} ms`);

    // The chain is alive: the next refresh is accepted and still sends nothing twice.
    w.server.delayMs = 0;
    const again = await w.run(['get', w.provider, '--force-refresh']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim()).not.toBe(token);
    expect(tokenRequests(w, since)).toHaveLength(2);
    expect(w.server.violations).toEqual([]);
    if (setup === 'chartmetric') expect(w.server.liveRefreshTokens('chartmetric')).toHaveLength(1);
    if (setup === 'soundcloud-user' || (setup === 'soundcloud-app' && prime)) {
      expect(w.server.liveRefreshTokens('soundcloud').length).toBeGreaterThanOrEqual(1);
    }

    const allowed = [...results.map((r) => r.stdout), again.stdout];
    expect(await w.sandbox.findSecrets(secretsSeen(w), allowed)).toEqual([]);
  });
});
