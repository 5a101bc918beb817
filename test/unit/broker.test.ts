import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TokenBroker, secretKey } from '../../src/broker/broker.js';
import { cacheFile, readCache, writeCache } from '../../src/files/cache.js';
import { updateSettings } from '../../src/files/config.js';
import { chartmetric } from '../../src/providers/chartmetric/index.js';
import { soundcharts } from '../../src/providers/soundcharts/index.js';
import { soundcloud } from '../../src/providers/soundcloud/index.js';
import { storeOf } from '../../src/store/coordination.js';
import { json, noAnswer, scriptedFetch, testDeps, type TestDeps } from '../support/deps.js';
import type { AccessToken } from '../../src/model/model.js';
import type { Coordination } from '../../src/store/store.js';

const get = { minTtlSeconds: 60, forceRefresh: false };

async function chartmetricDeps(answers: Parameters<typeof scriptedFetch>[0]) {
  const { fetch, calls } = scriptedFetch(answers);
  const deps = testDeps({ fetch });
  await updateSettings(deps, 'default', 'chartmetric', { mode: 'refresh_token', store: 'keychain' });
  await deps.store.set(secretKey('default', 'chartmetric'), JSON.stringify({ refresh_token: 'rt-1' }));
  return { deps, calls };
}

describe('TokenBroker', () => {
  it('answers from a fresh cache without a request, and refreshes within min-ttl', async () => {
    const { deps, calls } = await chartmetricDeps([json(200, { token: 'new', expires_in: 3600 })]);
    await writeCache(deps.paths, 'default', 'chartmetric', {
      access_token: 'cached',
      token_type: 'bearer',
      expires_at: deps.clock.now + 120_000,
    });
    const broker = new TokenBroker(deps);
    expect(await broker.get(chartmetric, 'default', get)).toMatchObject({ token: { access_token: 'cached' } });
    expect(calls).toHaveLength(0);
    expect(await broker.get(chartmetric, 'default', { ...get, minTtlSeconds: 300 })).toMatchObject({
      token: { access_token: 'new' },
    });
    expect(calls).toHaveLength(1);
    expect(JSON.parse(calls[0]!.init.body as string)).toEqual({ refreshtoken: 'rt-1' });
  });

  it('persists a rotated refresh token before caching', async () => {
    const { deps } = await chartmetricDeps([json(200, { token: 'a1', expires_in: 3600, refresh_token: 'rt-2' })]);
    await new TokenBroker(deps).get(chartmetric, 'default', get);
    expect(JSON.parse(await deps.store.get('default/chartmetric'))).toEqual({ refresh_token: 'rt-2' });
    expect(await readCache(deps.paths, 'default', 'chartmetric')).toMatchObject({
      kind: 'hit',
      token: { access_token: 'a1' },
    });
  });

  it('a store that fails after the exchange: exit 6 saying what was lost, and nothing cached', async () => {
    const { deps } = await chartmetricDeps([json(200, { token: 'a1', expires_in: 3600, refresh_token: 'rt-2' })]);
    deps.store.set = async () => {
      throw new Error('keychain locked');
    };
    await expect(new TokenBroker(deps).get(chartmetric, 'default', get)).rejects.toMatchObject({
      exitCode: 6,
      message: expect.stringContaining('new refresh token'),
      hint: expect.stringContaining('tokens login chartmetric'),
    });
    expect(await readCache(deps.paths, 'default', 'chartmetric')).toEqual({ kind: 'absent' });
  });

  it('single flight: concurrent gets in one process make one request', async () => {
    const { deps, calls } = await chartmetricDeps([json(200, { token: 'one', expires_in: 3600 })]);
    const broker = new TokenBroker(deps);
    const results = await Promise.all([1, 2, 3, 4].map(() => broker.get(chartmetric, 'default', get)));
    expect(new Set(results.map((r) => (r.kind === 'token' ? r.token.access_token : '')))).toEqual(new Set(['one']));
    expect(calls).toHaveLength(1);
  });

  it('invalid_grant with a refresh token changed meanwhile retries with the new one', async () => {
    const { deps, calls } = await chartmetricDeps([
      () => {
        void deps.store.set('default/chartmetric', JSON.stringify({ refresh_token: 'rt-other' }));
        return json(400, { error: 'invalid_grant' });
      },
      json(200, { token: 'ok', expires_in: 3600 }),
    ]);
    expect(await new TokenBroker(deps).get(chartmetric, 'default', get)).toMatchObject({
      token: { access_token: 'ok' },
    });
    expect(calls.map((c) => JSON.parse(c.init.body as string).refreshtoken)).toEqual(['rt-1', 'rt-other']);
  });

  it('invalid_grant with the same refresh token is exit 4', async () => {
    const { deps } = await chartmetricDeps([json(400, { error: 'invalid_grant' })]);
    await expect(new TokenBroker(deps).get(chartmetric, 'default', get)).rejects.toMatchObject({ exitCode: 4 });
  });

  it.each(['{"access_token":', '[]', '{"access_token":"x","token_type":"b","expires_at":"soon"}', ''])(
    'ignores a damaged cache %j and rebuilds it',
    async (text) => {
      const { deps, calls } = await chartmetricDeps([json(200, { token: 'rebuilt', expires_in: 3600 })]);
      const file = cacheFile(deps.paths, 'default', 'chartmetric');
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, text);
      expect(await new TokenBroker(deps).get(chartmetric, 'default', get)).toMatchObject({
        token: { access_token: 'rebuilt' },
      });
      expect(calls).toHaveLength(1);
      expect(await readCache(deps.paths, 'default', 'chartmetric')).toMatchObject({ kind: 'hit' });
    },
  );

  it('not configured → exit 3 naming the login command', async () => {
    await expect(new TokenBroker(testDeps()).get(chartmetric, 'staging', get)).rejects.toMatchObject({
      exitCode: 3,
      hint: 'Run `tokens login chartmetric --profile staging`.',
    });
  });

  it('configured but no secret in the store → exit 3', async () => {
    const deps = testDeps();
    await updateSettings(deps, 'default', 'chartmetric', { mode: 'refresh_token', store: 'keychain' });
    await expect(new TokenBroker(deps).get(chartmetric, 'default', get)).rejects.toMatchObject({ exitCode: 3 });
  });

  it('soundcharts legacy returns static headers and makes no request', async () => {
    const deps = testDeps();
    await updateSettings(deps, 'default', 'soundcharts', { mode: 'legacy', app_id: 'APP', store: 'keychain' });
    await deps.store.set('default/soundcharts', JSON.stringify({ api_key: 'KEY' }));
    expect(await new TokenBroker(deps).get(soundcharts, 'default', get)).toMatchObject({
      kind: 'static',
      credentials: { json: { app_id: 'APP', api_key: 'KEY' } },
    });
  });

  it('logged in with the file store but run with the keychain → exit 3 naming TOKENS_STORE=file', async () => {
    const deps = testDeps();
    await updateSettings(deps, 'default', 'chartmetric', { mode: 'refresh_token', store: 'file' });
    await expect(new TokenBroker(deps).get(chartmetric, 'default', get)).rejects.toMatchObject({
      exitCode: 3,
      hint: expect.stringContaining('TOKENS_STORE=file'),
    });
  });
});

describe('TokenBroker: a SoundCloud refresh whose fate is unknown', () => {
  const BUNDLE = { client_secret: 'scl-secret-SECRET', refresh_token: 'scl-rt-SECRET-1' };

  it.each([
    ['a 504', json(504, {})],
    ['a timeout', noAnswer],
  ] as const)(
    'after %s: exit 5, the stored refresh token kept, waiters told, nothing sent again',
    async (_what, first) => {
      const { fetch, calls } = scriptedFetch([first, json(400, { error: 'invalid_grant' })]);
      const deps = testDeps({ fetch, env: { TOKENS_HTTP_TIMEOUT: '0.05' } });
      await updateSettings(deps, 'default', 'soundcloud', {
        mode: 'authorization_code',
        client_id: 'cid',
        store: 'keychain',
      });
      await deps.store.set(secretKey('default', 'soundcloud'), JSON.stringify(BUNDLE));
      const asked = deps.clock.now;

      const error = (await new TokenBroker(deps).get(soundcloud, 'default', get).catch((e: unknown) => e)) as Error & {
        exitCode: number;
        hint?: string;
      };
      expect(error.exitCode).toBe(5);
      expect(error.message).toContain('sent once, not repeated, because it spends a single-use refresh token');
      expect(error.hint).toBe('If the next call says to log in again, run `tokens login soundcloud`.');
      for (const value of Object.values(BUNDLE)) expect(`${error.message} ${error.hint}`).not.toContain(value);
      expect(calls).toHaveLength(1);
      // Nothing lost that was not lost already: the store holds what it held, no token is cached.
      expect(JSON.parse(await deps.store.get('default/soundcloud'))).toEqual(BUNDLE);
      expect(await readCache(deps.paths, 'default', 'soundcloud')).toEqual({ kind: 'absent' });

      // A process that was waiting meanwhile is given the failure, and sends nothing.
      await expect(new TokenBroker({ ...deps, askedAt: asked }).get(soundcloud, 'default', get)).rejects.toMatchObject({
        exitCode: 5,
        message: expect.stringMatching(/single-use refresh token .*\(as another tokens process found at /),
      });
      expect(calls).toHaveLength(1);

      // One that asks later sends the stored token; spent, it is refused: exit 4, log in again.
      deps.clock.now += 60_000;
      await expect(new TokenBroker(deps).get(soundcloud, 'default', get)).rejects.toMatchObject({
        exitCode: 4,
        hint: expect.stringContaining('tokens login soundcloud'),
      });
      expect(calls.map((c) => new URLSearchParams(String(c.init.body)).get('refresh_token'))).toEqual([
        BUNDLE.refresh_token,
        BUNDLE.refresh_token,
      ]);
    },
  );
});

/** Gives the memory store's coordination the pieces of `extra` (as a shared store's), beside this machine's. */
function coordinateWith(deps: TestDeps, extra: Partial<Coordination>): void {
  const opened = storeOf(deps.store);
  deps.openStore = async () => ({
    ...opened,
    coordination: (profile, provider, d) => ({ ...opened.coordination(profile, provider, d), ...extra }),
  });
}

/**
 * Gives the store a shared lock (as Redis's lease) that always lets itself be taken and, while held,
 * is still held as long as `held(n)` says, n counting the holdings from 1.
 */
function sharedLockHeldWhile(deps: TestDeps, held: (holding: number) => boolean) {
  const lock = { holdings: 0 };
  coordinateWith(deps, {
    sharedLock: {
      run: async (_what, fn) => {
        const holding = ++lock.holdings;
        return fn({ stillHeld: async () => held(holding) });
      },
    },
  });
  return lock;
}

describe('TokenBroker and its store coordination', () => {
  it('a lock found lost right before sending: nothing is sent, the lock is taken again, and after 3 tries exit 6 saying so', async () => {
    const { deps, calls } = await chartmetricDeps([json(200, { token: 'never', expires_in: 3600 })]);
    const lock = sharedLockHeldWhile(deps, () => false);
    await expect(new TokenBroker(deps).get(chartmetric, 'default', get)).rejects.toMatchObject({
      exitCode: 6,
      message: expect.stringContaining(
        'kept losing the refresh lock for chartmetric (profile default) before it could send a refresh',
      ),
    });
    expect(lock.holdings).toBe(3);
    expect(calls).toHaveLength(0);
  });

  it('a lock lost during a retry (a 503 backed off): the repeat is not sent; the lock is taken again', async () => {
    const { deps, calls } = await chartmetricDeps([
      json(503, { error: 'busy' }),
      json(200, { token: 'from-the-second-holding', expires_in: 3600 }),
    ]);
    // The first holding is lost while its request backs off; the second one holds throughout.
    const lock = sharedLockHeldWhile(deps, (holding) => holding > 1 || calls.length === 0);
    expect(await new TokenBroker(deps).get(chartmetric, 'default', get)).toMatchObject({
      token: { access_token: 'from-the-second-holding' },
    });
    // One request per holding: the 503's repeat waited for the lock instead of going out unchecked.
    expect(lock.holdings).toBe(2);
    expect(calls).toHaveLength(2);
  });

  it('a lock still held: the 503 is repeated within the same holding', async () => {
    const { deps, calls } = await chartmetricDeps([
      json(503, { error: 'busy' }),
      json(200, { token: 'second', expires_in: 3600 }),
    ]);
    const lock = sharedLockHeldWhile(deps, () => true);
    expect(await new TokenBroker(deps).get(chartmetric, 'default', get)).toMatchObject({
      token: { access_token: 'second' },
    });
    expect([lock.holdings, calls.length]).toEqual([1, 2]);
  });

  it('a shared cache answers a cold machine without a request, and is written after a refresh', async () => {
    const { deps, calls } = await chartmetricDeps([json(200, { token: 'minted', expires_in: 3600 })]);
    let shared: AccessToken | undefined = {
      access_token: 'from-another-machine',
      token_type: 'bearer',
      expires_at: deps.clock.now + 3_600_000,
    };
    coordinateWith(deps, {
      sharedCache: {
        read: async () => shared,
        write: async (t) => {
          shared = t;
        },
        delete: async () => {
          shared = undefined;
        },
      },
    });
    expect(await new TokenBroker(deps).get(chartmetric, 'default', get)).toMatchObject({
      token: { access_token: 'from-another-machine' },
    });
    expect(calls).toHaveLength(0);
    expect(await readCache(deps.paths, 'default', 'chartmetric')).toMatchObject({
      kind: 'hit',
      token: { access_token: 'from-another-machine' },
    });
    // --force-refresh replaces it, everywhere.
    expect(await new TokenBroker(deps).get(chartmetric, 'default', { ...get, forceRefresh: true })).toMatchObject({
      token: { access_token: 'minted' },
    });
    expect(shared?.access_token).toBe('minted');
    expect(calls).toHaveLength(1);
  });
});
