// A "world" for the CLI suites that run many `tokens` processes against one provider: a fresh fake
// provider server (rotating refresh tokens, reuse revokes) and a fresh HOME, with the encrypted file
// store, and the helpers those suites share to log in, age the cache and look at what was sent.
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import { LOGIN_CHECK_MS } from '../../src/files/cache.js';
import { Sandbox, type CliResult, type RunOptions } from './cli.js';
import { startProviderServer, type ProviderName, type ProviderServer, type RecordedRequest } from './servers.js';

export type Setup = 'chartmetric' | 'soundcharts' | 'soundcloud-app' | 'soundcloud-user';

export interface World {
  server: ProviderServer;
  sandbox: Sandbox;
  setup: Setup;
  provider: ProviderName;
  /** The environment every run gets: the server's URLs, the file store and its passphrase. */
  env: Record<string, string>;
  /**
   * Client secrets and initial refresh tokens handed to the CLI, in this order: the seeded Chartmetric
   * refresh token, the Soundcharts client secret, the SoundCloud client secret, the passphrase. Refresh
   * tokens found later are added by secretsSeen().
   */
  secrets: string[];
  /** The loopback redirect URI registered for the SoundCloud client. */
  redirectUri: string;
  run(args: string[], options?: RunOptions): Promise<CliResult>;
}

export interface WorldOptions {
  /** Teams the Soundcharts client may select (default: any). */
  teams?: string[];
}

export interface Worlds {
  /** A fresh fake server and HOME for `setup`, not logged in yet. */
  world(setup: Setup, options?: WorldOptions): Promise<World>;
  /** A fresh world, logged in to its provider (see login()), with no protocol violation so far. */
  loggedIn(setup: Setup, options?: WorldOptions): Promise<World>;
}

/**
 * Worlds for one test file, each closed after its test. `passphrase` is the file store's;
 * `beforeDispose` runs on each world after its test, before its server and HOME are removed.
 */
export function useWorlds({
  passphrase,
  beforeDispose,
}: {
  passphrase: string;
  beforeDispose?: (w: World) => Promise<void>;
}): Worlds {
  const worlds: World[] = [];
  afterEach(async () => {
    for (const w of worlds.splice(0)) {
      try {
        await beforeDispose?.(w);
      } finally {
        await w.server.close();
        await w.sandbox.dispose();
      }
    }
  });

  async function world(setup: Setup, { teams }: WorldOptions = {}): Promise<World> {
    const cmRefresh = random('cm_rt_seed_');
    const scSecret = random('sc_secret_');
    const sclSecret = random('scl_secret_');
    const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
    const server = await startProviderServer({
      rotate: true,
      revokeOnReuse: true,
      chartmetric: { refreshTokens: [cmRefresh] },
      soundcharts: { clients: [{ clientId: 'sc-client', clientSecret: scSecret, ...(teams ? { teams } : {}) }] },
      soundcloud: { clients: [{ clientId: 'scl-client', clientSecret: sclSecret, redirectUris: [redirectUri] }] },
      authorizeMode: 'approve',
    });
    const sandbox = await Sandbox.create();
    const env = { ...server.env(), TOKENS_STORE: 'file', TOKENS_PASSPHRASE: passphrase };
    const w: World = {
      server,
      sandbox,
      setup,
      provider: setup === 'soundcloud-app' || setup === 'soundcloud-user' ? 'soundcloud' : setup,
      env,
      secrets: [cmRefresh, scSecret, sclSecret, passphrase],
      redirectUri,
      run: (args, options = {}) =>
        sandbox.run(args, { timeoutMs: 100_000, ...options, env: { ...env, ...options.env } }),
    };
    worlds.push(w);
    return w;
  }

  return {
    world,
    async loggedIn(setup, options) {
      const w = await world(setup, options);
      await login(w);
      expect(w.server.violations).toEqual([]);
      return w;
    },
  };
}

/**
 * Logs in to the world's provider (chartmetric: with `refreshToken`, default the seeded one;
 * soundcharts: selecting `teamId` if given) and checks it worked.
 */
export async function login(w: World, options: { refreshToken?: string; teamId?: string } = {}): Promise<void> {
  let result: CliResult;
  switch (w.setup) {
    case 'chartmetric':
      result = await w.run(['login', 'chartmetric'], {
        env: { TOKENS_CHARTMETRIC_REFRESH_TOKEN: options.refreshToken ?? w.secrets[0]! },
      });
      break;
    case 'soundcharts':
      result = await w.run(
        ['login', 'soundcharts', '--client-id', 'sc-client', ...(options.teamId ? ['--team-id', options.teamId] : [])],
        {
          env: { TOKENS_SOUNDCHARTS_CLIENT_SECRET: w.secrets[1]! },
        },
      );
      break;
    case 'soundcloud-app':
      result = await w.run(['login', 'soundcloud', '--client-credentials', '--client-id', 'scl-client'], {
        env: { TOKENS_SOUNDCLOUD_CLIENT_SECRET: w.secrets[2]! },
      });
      break;
    case 'soundcloud-user':
      result = await w.run(
        ['login', 'soundcloud', '--client-id', 'scl-client', '--redirect-uri', w.redirectUri, '--timeout', '30'],
        {
          env: { TOKENS_SOUNDCLOUD_CLIENT_SECRET: w.secrets[2]!, BROWSER: scriptedBrowser() },
        },
      );
      break;
  }
  expect(result.code, result.stderr).toBe(0);
}

export function random(prefix: string): string {
  return `${prefix}${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const address = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A "browser" for BROWSER: GETs the authorization URL, then the loopback callback it redirects to. */
export function scriptedBrowser(): string {
  const script =
    'const u=process.argv[1];' +
    'fetch(u,{redirect:"manual"}).then(r=>fetch(r.headers.get("location"),{redirect:"manual"})).then(r=>r.text()).catch(()=>process.exit(1))';
  return `'${process.execPath}' -e '${script}'`;
}

export function cachePath(w: World): string {
  return join(w.sandbox.home, '.cache', 'tokens', 'default', `${w.provider}.json`);
}

/**
 * Turns the cached token into one that expired a minute ago. Without a readable cache this throws,
 * unless `ifCached` (then it leaves things as they are).
 */
export async function expireCache(w: World, { ifCached = false }: { ifCached?: boolean } = {}): Promise<void> {
  let cached: Record<string, unknown>;
  try {
    cached = JSON.parse(await readFile(cachePath(w), 'utf8')) as Record<string, unknown>;
  } catch (e) {
    if (ifCached) return;
    throw e;
  }
  await writeFile(cachePath(w), JSON.stringify({ ...cached, expires_at: Date.now() - 60_000 }), { mode: 0o600 });
}

/**
 * As if the shared store had last confirmed the cached token's login more than LOGIN_CHECK_MS ago
 * (src/files/cache.ts): the next get asks the store whether that login still stands.
 */
export async function ageLoginCheck(w: World): Promise<void> {
  const cached = JSON.parse(await readFile(cachePath(w), 'utf8')) as Record<string, unknown>;
  if (typeof cached.login_checked_at !== 'number') throw new Error('the cached token records no shared login');
  await writeFile(
    cachePath(w),
    JSON.stringify({ ...cached, login_checked_at: cached.login_checked_at - LOGIN_CHECK_MS - 1_000 }),
    {
      mode: 0o600,
    },
  );
}

/** The token-endpoint requests for the world's provider since `since` (ms). */
export function tokenRequests(w: World, since = 0): RecordedRequest[] {
  return w.server.requests.filter((r) => r.provider === w.provider && r.endpoint === 'token' && r.time >= since);
}

/** Every refresh token and client secret the CLI sent or was given: none may leak. */
export function secretsSeen(w: World): string[] {
  const found = new Set(w.secrets);
  for (const r of w.server.requests) {
    const json = r.json as Record<string, unknown> | undefined;
    if (typeof json?.refreshtoken === 'string') found.add(json.refreshtoken);
    for (const k of ['refresh_token', 'client_secret', 'code_verifier'] as const) if (r.form?.[k]) found.add(r.form[k]);
  }
  for (const p of ['chartmetric', 'soundcloud'] as const) for (const t of w.server.liveRefreshTokens(p)) found.add(t);
  return [...found];
}

/** `n` runs of `args` started together; their results and how long they took between them. */
export async function parallel(
  w: World,
  n: number,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ results: CliResult[]; ms: number }> {
  const started = Date.now();
  const results = await Promise.all(Array.from({ length: n }, () => w.run(args, { env })));
  return { results, ms: Date.now() - started };
}
