// A fleet for the Redis suites: one fake provider server, one real redis-server (shared by the test
// file, a fresh key prefix per fleet), and N "machines", each its own HOME with its own XDG
// directories, all with TOKENS_STORE=redis and the same passphrase. Machine 0 logs in; the others
// never do.
import { afterEach, expect } from 'vitest';
import { Sandbox, type CliResult, type RunOptions } from './cli.js';
import type { RedisServer } from './redis.js';
import { startProviderServer, type ProviderServer } from './servers.js';
import { freePort, login, random, secretsSeen, type Setup, type World } from './worlds.js';

export interface Fleet {
  server: ProviderServer;
  redis: RedisServer;
  prefix: string;
  passphrase: string;
  machines: World[];
  /** Every machine's outputs, every secret the provider saw: none may show up in Redis or outputs. */
  secrets(): string[];
  /** Redis keys of this fleet's provider and profile. */
  key(role: 'secrets' | 'token' | 'lease' | 'settings' | 'failure'): string;
}

export function useFleets(redis: () => RedisServer): (setup: Setup, n: number) => Promise<Fleet> {
  const open: Array<{ server: ProviderServer; machines: World[] }> = [];
  afterEach(async () => {
    for (const f of open.splice(0)) {
      await f.server.close();
      for (const m of f.machines) await m.sandbox.dispose();
    }
  });

  return async (setup, n) => {
    const cmRefresh = random('cm_rt_seed_');
    const scSecret = random('sc_secret_');
    const sclSecret = random('scl_secret_');
    const passphrase = random('fleet passphrase ');
    const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
    const server = await startProviderServer({
      rotate: true,
      revokeOnReuse: true,
      chartmetric: { refreshTokens: [cmRefresh] },
      soundcharts: { clients: [{ clientId: 'sc-client', clientSecret: scSecret }] },
      soundcloud: { clients: [{ clientId: 'scl-client', clientSecret: sclSecret, redirectUris: [redirectUri] }] },
      authorizeMode: 'approve',
    });
    const prefix = `${random('fleet')}:`;
    const provider = setup === 'soundcloud-app' || setup === 'soundcloud-user' ? 'soundcloud' : setup;
    const env = {
      ...server.env(),
      TOKENS_STORE: 'redis',
      TOKENS_REDIS_URL: redis().url,
      TOKENS_REDIS_PREFIX: prefix,
      TOKENS_PASSPHRASE: passphrase,
    };
    const machines: World[] = [];
    for (let i = 0; i < n; i++) {
      const sandbox = await Sandbox.create();
      machines.push({
        server,
        sandbox,
        setup,
        provider,
        env,
        secrets: [cmRefresh, scSecret, sclSecret, passphrase, redis().password, redis().url],
        redirectUri,
        run: (args: string[], options: RunOptions = {}): Promise<CliResult> =>
          sandbox.run(args, { timeoutMs: 150_000, ...options, env: { ...env, ...options.env } }),
      });
    }
    open.push({ server, machines });
    await login(machines[0]!);
    expect(server.violations).toEqual([]);
    return {
      server,
      redis: redis(),
      prefix,
      passphrase,
      machines,
      secrets: () => [...new Set(machines.flatMap((m) => secretsSeen(m)))],
      key: (role) => `${prefix}default:${provider}:${role}`,
    };
  };
}
