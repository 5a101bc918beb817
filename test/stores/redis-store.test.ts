// RedisStore against a real redis-server (test/support/redis.ts): sealed values and key names, the
// compare-and-set of a rotated bundle, the lease (exclusive, woken on release, lost when it expires),
// the key derived once, persistence warnings, and failures that name HOST:PORT and nothing else.
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTokensError } from '../../src/base/errors.js';
import { RedisStore } from '../../src/store/redis.js';
import { redisSettings } from '../../src/store/redis-env.js';
import { ChainMovedError, type CoordinationDeps } from '../../src/store/store.js';
import { RedisServer, startErrorRedis } from '../support/redis.js';
import { freePort, random } from '../support/worlds.js';

const PASS = 'correct horse battery staple (redis store)';
let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis?.dispose();
});

function store(env: Record<string, string> = {}, passphrase = PASS): RedisStore {
  const prefix = env.TOKENS_REDIS_PREFIX ?? `t${random('')}:`;
  return new RedisStore({
    ...redisSettings({ TOKENS_REDIS_URL: redis.url, TOKENS_REDIS_PREFIX: prefix, ...env }),
    passphrase,
  });
}

const deps: CoordinationDeps = {
  env: {},
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  random: Math.random,
  debug: () => undefined,
  paths: { configDir: '/nonexistent', cacheDir: '/nonexistent', stateDir: '/nonexistent', dataDir: '/nonexistent' },
};

describe('RedisStore', () => {
  it('seals every value; key names hold only prefix, profile and provider', async () => {
    const s = store({ TOKENS_REDIS_PREFIX: 'team-a:' });
    const secret = random('rt_');
    const token = random('at_');
    await s.set('default/chartmetric', JSON.stringify({ refresh_token: secret }));
    const shared = s.coordination('default', 'chartmetric', deps);
    await shared.sharedCache.write({ access_token: token, token_type: 'Bearer', expires_at: Date.now() + 60_000 });
    await shared.sharedSettings.write({ mode: 'refresh_token', store: 'redis' });
    expect(JSON.parse(await s.get('default/chartmetric'))).toEqual({ refresh_token: secret });
    expect((await shared.sharedCache.read())?.access_token).toBe(token);
    expect(await s.list()).toEqual(['default/chartmetric']);

    const dump = await redis.dump();
    expect(dump).not.toContain(secret);
    expect(dump).not.toContain(token);
    expect(dump).not.toContain(Buffer.from(secret).toString('base64'));
    const names = dump
      .split('\n')
      .map((l) => l.split(' ')[0])
      .filter((n) => n!.startsWith('team-a:'));
    expect(names.sort()).toEqual([
      'team-a:default:chartmetric:secrets',
      'team-a:default:chartmetric:settings',
      'team-a:default:chartmetric:token',
      'team-a:kdf',
    ]);
    // The shared token expires with the token.
    const c = redis.client();
    const ttl = await c.pttl('team-a:default:chartmetric:token');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);

    // A value moved to another key does not open there.
    await c.set('team-a:default:soundcloud:token', (await c.get('team-a:default:chartmetric:token'))!);
    await expect(s.coordination('default', 'soundcloud', deps).sharedCache.read()).rejects.toMatchObject({
      exitCode: 6,
      message: expect.stringContaining('cannot decrypt'),
    });
    c.disconnect();
  });

  it('a wrong passphrase is exit 6 and writes nothing', async () => {
    const prefix = `t${random('')}:`;
    await store({ TOKENS_REDIS_PREFIX: prefix }).set('default/soundcloud', '{"refresh_token":"x"}');
    const before = await redis.dump();
    const wrong = store({ TOKENS_REDIS_PREFIX: prefix }, 'not the passphrase');
    await expect(wrong.check()).rejects.toMatchObject({
      exitCode: 6,
      message: expect.stringContaining('wrong TOKENS_PASSPHRASE'),
    });
    await expect(wrong.set('default/soundcloud', '{}')).rejects.toMatchObject({ exitCode: 6 });
    expect(await redis.dump()).toBe(before);
  });

  it('a missing passphrase is exit 6 naming TOKENS_PASSPHRASE; a missing URL names TOKENS_REDIS_URL', async () => {
    await expect(store({}, '').check()).rejects.toMatchObject({
      exitCode: 6,
      message: expect.stringContaining('TOKENS_PASSPHRASE'),
    });
    expect(() => redisSettings({})).toThrow(
      expect.objectContaining({ exitCode: 6, message: expect.stringContaining('TOKENS_REDIS_URL') }),
    );
    for (const bad of ['http://h:1', 'redis://', 'not a url secret123', 'redis://:secret123@h:1/db']) {
      let message = '';
      try {
        redisSettings({ TOKENS_REDIS_URL: bad });
      } catch (e) {
        if (isTokensError(e)) message = `${e.exitCode} ${e.message} ${e.hint ?? ''}`;
      }
      expect(message).toMatch(/^2 TOKENS_REDIS_URL is not a Redis URL/);
      expect(message).not.toContain('secret123');
    }
  });

  it('compare-and-set: the write prepared over a bundle that moved on fails, leaving the newer one', async () => {
    const s = store();
    await s.set('default/soundcloud', '{"refresh_token":"rt1"}');
    const early = await s.prepareWrite('default/soundcloud');
    const late = await s.prepareWrite('default/soundcloud');
    expect(early.value).toBe('{"refresh_token":"rt1"}');
    await late.commit('{"refresh_token":"rt2"}');
    await expect(early.commit('{"refresh_token":"rt3"}')).rejects.toBeInstanceOf(ChainMovedError);
    expect(await s.get('default/soundcloud')).toBe('{"refresh_token":"rt2"}');
  });

  it('the lease: one holder at a time, the waiter woken on release; an expired lease is no longer held', async () => {
    const s = store();
    const events: string[] = [];
    let releaseFirst!: () => void;
    const first = s.coordination('default', 'chartmetric', deps).sharedLock.run('x', async (held) => {
      events.push('first in');
      await new Promise<void>((r) => (releaseFirst = r));
      expect(await held.stillHeld()).toBe(true);
      events.push('first out');
    });
    while (events.length === 0) await new Promise((r) => setTimeout(r, 10));
    const second = store().coordination('default', 'chartmetric', deps); // another prefix: independent
    await second.sharedLock.run('y', async () => events.push('other prefix'));
    const same = s
      .coordination('default', 'chartmetric', deps)
      .sharedLock.run('x', async () => events.push('second in'));
    await new Promise((r) => setTimeout(r, 300));
    releaseFirst();
    await Promise.all([first, same]);
    expect(events).toEqual(['first in', 'other prefix', 'first out', 'second in']);

    // A holder whose lease ran out (here: cut short from outside) is told so.
    const c = redis.client();
    await s.coordination('default', 'soundcharts', deps).sharedLock.run('z', async (held) => {
      const [name] = await c.keys('*:default:soundcharts:lease');
      await c.pexpire(name!, 1);
      await new Promise((r) => setTimeout(r, 20));
      expect(await held.stillHeld()).toBe(false);
    });
    c.disconnect();
  });

  it('status warnings: none with AOF; no persistence warns; CONFIG refused says unknown', async () => {
    expect(await store().warnings()).toEqual([]);
    const bare = await RedisServer.start({ aof: false, save: '' });
    const refusing = await RedisServer.start({ aof: false, save: '900 1', extra: ['rename-command CONFIG ""'] });
    const saving = await RedisServer.start({ aof: false, save: '900 1' });
    try {
      const on = (server: RedisServer) =>
        new RedisStore({ ...redisSettings({ TOKENS_REDIS_URL: server.url }), passphrase: PASS });
      expect(await on(bare).warnings()).toEqual([
        expect.stringMatching(new RegExp(`Redis at ${bare.address} keeps no persistence`)),
      ]);
      expect(await on(refusing).warnings()).toEqual([expect.stringContaining('cannot tell whether')]);
      expect(await on(saving).warnings()).toEqual([]);
    } finally {
      await Promise.all([bare.dispose(), refusing.dispose(), saving.dispose()]);
    }
  });

  describe('failures name HOST:PORT only, never the URL or its password', () => {
    let silent: Server;
    let silentPort: number;
    const sockets: Socket[] = [];
    beforeAll(async () => {
      // Accepts connections and never answers.
      silent = createServer((s) => sockets.push(s));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      silentPort = (silent.address() as { port: number }).port;
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    });

    const expectStoreFailure = async (url: string, address: string, says: RegExp, env: Record<string, string> = {}) => {
      const s = new RedisStore({ ...redisSettings({ TOKENS_REDIS_URL: url, ...env }), passphrase: PASS });
      const error = await s.check().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isTokensError(error) && error.exitCode).toBe(6);
      const text = isTokensError(error) ? `${error.message} ${error.hint ?? ''}` : '';
      expect(text).toMatch(says);
      expect(text).toContain(address);
      expect(text).not.toContain(redis.password);
      expect(text).not.toContain('pw-in-url');
    };

    it('unreachable', async () => {
      const port = await freePort();
      await expectStoreFailure(
        `redis://:pw-in-url@127.0.0.1:${port}`,
        `127.0.0.1:${port}`,
        /cannot reach Redis at .*ECONNREFUSED/,
      );
    });
    it('wrong password', async () => {
      await expectStoreFailure(`redis://:pw-in-url@127.0.0.1:${redis.port}`, redis.address, /refused the password/);
    });
    it.each([
      ['without a password', ''],
      ['echoing the password it was sent', ':pw-in-url@'],
    ])("a server's error reply %s: one clean line, no escape sequences, no password", async (_name, auth) => {
      const hostile = await startErrorRedis(
        'ERR \u001b]0;pwned\u0007\u001b[2K\u001b[1Gtokens: forged, AUTH pw-in-url refused',
      );
      try {
        const s = new RedisStore({
          ...redisSettings({ TOKENS_REDIS_URL: hostile.url.replace('redis://', `redis://${auth}`) }),
          passphrase: PASS,
        });
        const error = await s.check().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isTokensError(error) && error.exitCode).toBe(6);
        expect(isTokensError(error) && error.message).toBe(
          `Redis at ${hostile.address} answered with an error (ERR ]0;pwned [2K [1Gtokens: forged, AUTH ${auth ? '[redacted]' : 'pw-in-url'} refused)`,
        );
        expect(hostile.commands()).toBeGreaterThan(0);
      } finally {
        await hostile.close();
      }
    });
    it('no answer within TOKENS_REDIS_TIMEOUT', async () => {
      await expectStoreFailure(
        `redis://:pw-in-url@127.0.0.1:${silentPort}`,
        `127.0.0.1:${silentPort}`,
        /did not answer within 0\.5 s/,
        { TOKENS_REDIS_TIMEOUT: '0.5' },
      );
    });
  });
});
