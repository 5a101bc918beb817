// The Redis store's connection failures, as a user sees them: a server that refuses the connection,
// one that accepts it and never answers (a real redis-server stopped with SIGSTOP, a bare TCP
// listener) and one that refuses the password are each exit 6 naming HOST:PORT, and never take
// longer than TOKENS_REDIS_TIMEOUT (default 5 s) plus the start of the process: the contract's bound,
// which is why this file measures time (with generous slack for a loaded machine).
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox } from '../support/cli.js';
import { RedisServer } from '../support/redis.js';
import { freePort } from '../support/worlds.js';

const SLACK_S = 3;
const DEFAULT_TIMEOUT_S = 5;

let redis: RedisServer;
let silent: Server;
let silentPort: number;
const sockets: Socket[] = [];
const sandboxes: Sandbox[] = [];

beforeAll(async () => {
  redis = await RedisServer.start();
  // Accepts connections and never answers.
  silent = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  silentPort = (silent.address() as { port: number }).port;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => silent?.close(r));
  await redis?.dispose();
});

afterEach(async () => {
  for (const s of sandboxes.splice(0)) await s.dispose();
});

/** `tokens get chartmetric` on the Redis store at `url`, timed. */
async function getFrom(url: string, env: Record<string, string> = {}) {
  const sandbox = await Sandbox.create();
  sandboxes.push(sandbox);
  const started = performance.now();
  const r = await sandbox.run(['get', 'chartmetric'], {
    env: { TOKENS_STORE: 'redis', TOKENS_REDIS_URL: url, TOKENS_PASSPHRASE: 'a passphrase', ...env },
    timeoutMs: 60_000,
  });
  return { ...r, seconds: (performance.now() - started) / 1000 };
}

function expectExit6Naming(r: { code: number | null; stderr: string }, address: string, says: RegExp): void {
  expect(r.code, r.stderr).toBe(6);
  expect(r.stderr).toContain(address);
  expect(r.stderr).toMatch(says);
  expect(r.stderr).not.toContain('pw-in-url');
}

describe('Redis that cannot be used: exit 6 naming HOST:PORT, within TOKENS_REDIS_TIMEOUT', () => {
  it('nothing listening (refused)', async () => {
    const port = await freePort();
    const r = await getFrom(`redis://:pw-in-url@127.0.0.1:${port}`);
    expectExit6Naming(r, `127.0.0.1:${port}`, /cannot reach Redis at 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
    expect(r.seconds).toBeLessThan(DEFAULT_TIMEOUT_S + SLACK_S);
  });

  it('the password refused', async () => {
    const r = await getFrom(`redis://:pw-in-url@127.0.0.1:${redis.port}`);
    expectExit6Naming(r, redis.address, /Redis at 127\.0\.0\.1:\d+ refused the password/);
    expect(r.seconds).toBeLessThan(DEFAULT_TIMEOUT_S + SLACK_S);
  });

  it('a listener that never answers: the default 5 s, and TOKENS_REDIS_TIMEOUT=1', async () => {
    const address = `127.0.0.1:${silentPort}`;
    const byDefault = await getFrom(`redis://:pw-in-url@${address}`);
    expectExit6Naming(byDefault, address, /did not answer within 5 s/);
    expect(byDefault.seconds).toBeGreaterThanOrEqual(DEFAULT_TIMEOUT_S);
    expect(byDefault.seconds).toBeLessThan(DEFAULT_TIMEOUT_S + SLACK_S);

    const shorter = await getFrom(`redis://:pw-in-url@${address}`, { TOKENS_REDIS_TIMEOUT: '1' });
    expectExit6Naming(shorter, address, /did not answer within 1 s/);
    expect(shorter.seconds).toBeLessThan(1 + SLACK_S);
  });

  it('a redis-server frozen with SIGSTOP (the kernel still accepts connections for it)', async () => {
    const frozen = await RedisServer.start();
    try {
      process.kill(frozen.pid!, 'SIGSTOP');
      const r = await getFrom(frozen.url);
      expectExit6Naming(r, frozen.address, /did not answer within 5 s/);
      expect(r.stderr).not.toContain(frozen.password);
      expect(r.seconds).toBeLessThan(DEFAULT_TIMEOUT_S + SLACK_S);
      // Thawed, the same server works: the failure was the freeze, not the setup.
      process.kill(frozen.pid!, 'SIGCONT');
      const thawed = await getFrom(frozen.url);
      expect(thawed.code, thawed.stderr).toBe(3);
    } finally {
      process.kill(frozen.pid!, 'SIGCONT');
      await frozen.dispose();
    }
  });
});
