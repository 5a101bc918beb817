// The run functions of the commands, in process: a memory store, scripted fetch, captured streams
// and a fake clock (test/support/deps.ts). What the built CLI adds (argv, exit codes through main,
// the fast path) is test/cli's; here each command's own logic, with the secrets' values checked.
import { describe, expect, it } from 'vitest';
import { runApi, type ApiOptions } from '../../src/commands/api.js';
import { runGet } from '../../src/commands/get.js';
import { runLogin } from '../../src/commands/login.js';
import { runLogout } from '../../src/commands/logout.js';
import { runStatus } from '../../src/commands/status.js';
import { secretKey } from '../../src/broker/broker.js';
import { readCache } from '../../src/files/cache.js';
import { loadConfig, settingsFor, updateSettings } from '../../src/files/config.js';
import { isTokensError } from '../../src/base/errors.js';
import { PROVIDERS } from '../../src/providers/registry.js';
import { MemoryStore } from '../../src/store/memory.js';
import { storeOf } from '../../src/store/coordination.js';
import { json, scriptedFetch, testDeps, type TestDeps } from '../support/deps.js';

const [soundcloud, chartmetric, soundcharts] = PROVIDERS;
const HOUR = 3600;
const REFRESH = 'cm-refresh-9f2c41d7';
const ACCESS = 'cm-access-5b7e0a13';

/** Chartmetric logged in as `tokens login chartmetric` leaves it: settings and the refresh token. */
async function loggedIn(deps: TestDeps): Promise<void> {
  await updateSettings(deps, 'default', 'chartmetric', { mode: 'refresh_token', store: 'keychain' });
  await deps.store.set(secretKey('default', 'chartmetric'), JSON.stringify({ refresh_token: REFRESH }));
}

const minted = (token = ACCESS, extra: Record<string, unknown> = {}) =>
  json(200, { token, expires_in: HOUR, ...extra });

async function exitOf(run: Promise<number>): Promise<number> {
  try {
    return await run;
  } catch (error) {
    if (isTokensError(error)) return error.exitCode;
    throw error;
  }
}

function expectNoSecret(deps: TestDeps, ...secrets: string[]): void {
  for (const secret of secrets) {
    expect(deps.err()).not.toContain(secret);
  }
}

describe('runGet', () => {
  it.each([
    ['token', `${ACCESS}\n`],
    ['header', `Authorization: Bearer ${ACCESS}\n`],
    ['env', `export CHARTMETRIC_ACCESS_TOKEN='${ACCESS}'\nexport CHARTMETRIC_AUTHORIZATION='Bearer ${ACCESS}'\n`],
  ] as const)('--format %s mints once, then answers from the cache', async (format, printed) => {
    const { fetch, calls } = scriptedFetch([minted()]);
    const deps = testDeps({ fetch });
    await loggedIn(deps);
    const options = { provider: chartmetric, profile: 'default', format, minTtlSeconds: 60, forceRefresh: false };
    expect(await runGet(options, deps)).toBe(0);
    expect(await runGet(options, deps)).toBe(0);
    expect(deps.out()).toBe(printed.repeat(2));
    expect(calls).toHaveLength(1);
    expect(JSON.parse(String(calls[0]!.init.body))).toEqual({ refreshtoken: REFRESH });
    expectNoSecret(deps, REFRESH, ACCESS);
  });

  it('--format json carries provider, profile, token and expiry', async () => {
    const deps = testDeps({ fetch: scriptedFetch([minted()]).fetch });
    await loggedIn(deps);
    await runGet(
      { provider: chartmetric, profile: 'default', format: 'json', minTtlSeconds: 60, forceRefresh: false },
      deps,
    );
    expect(JSON.parse(deps.out())).toEqual({
      provider: 'chartmetric',
      profile: 'default',
      access_token: ACCESS,
      token_type: 'Bearer',
      expires_at: new Date(deps.clock.now + HOUR * 1000).toISOString(),
    });
  });

  it('--force-refresh replaces the cached token; a rotated refresh token is stored first', async () => {
    const { fetch } = scriptedFetch([minted(), minted('cm-access-second', { refresh_token: 'cm-refresh-next' })]);
    const deps = testDeps({ fetch });
    await loggedIn(deps);
    const options = { provider: chartmetric, profile: 'default', format: 'token' as const, minTtlSeconds: 60 };
    await runGet({ ...options, forceRefresh: false }, deps);
    await runGet({ ...options, forceRefresh: true }, deps);
    expect(deps.out()).toBe(`${ACCESS}\ncm-access-second\n`);
    expect(JSON.parse(await deps.store.get(secretKey('default', 'chartmetric')))).toEqual({
      refresh_token: 'cm-refresh-next',
    });
  });

  it('a provider that is not logged in is exit 3, and nothing is sent', async () => {
    const { fetch, calls } = scriptedFetch([]);
    const deps = testDeps({ fetch });
    const run = runGet(
      { provider: chartmetric, profile: 'default', format: 'token', minTtlSeconds: 60, forceRefresh: false },
      deps,
    );
    expect(await exitOf(run)).toBe(3);
    expect(calls).toHaveLength(0);
    expect(deps.out()).toBe('');
  });

  it('a refused refresh token is exit 4 and prints nothing', async () => {
    const deps = testDeps({ fetch: scriptedFetch([json(401, { error: 'invalid_grant' })]).fetch });
    await loggedIn(deps);
    const run = runGet(
      { provider: chartmetric, profile: 'default', format: 'token', minTtlSeconds: 60, forceRefresh: false },
      deps,
    );
    expect(await exitOf(run)).toBe(4);
    expect(deps.out()).toBe('');
  });
});

describe('runStatus', () => {
  it('reports a configured provider without a secret, and the others in --json only', async () => {
    const deps = testDeps({ fetch: scriptedFetch([minted()]).fetch });
    await loggedIn(deps);
    await runGet(
      { provider: chartmetric, profile: 'default', format: 'token', minTtlSeconds: 60, forceRefresh: false },
      deps,
    );
    const before = deps.out();
    expect(await runStatus({ profile: 'default', json: true }, deps)).toBe(0);
    const { providers: entries } = JSON.parse(deps.out().slice(before.length)) as {
      providers: Array<Record<string, unknown>>;
    };
    expect(entries.map((e) => [e.provider, e.configured])).toEqual([
      ['soundcloud', false],
      ['chartmetric', true],
      ['soundcharts', false],
    ]);
    expect(entries[1]).toMatchObject({ mode: 'refresh_token', refresh_token: true, token_expired: false });
    expect(deps.out().slice(before.length)).not.toContain(ACCESS);
    expect(deps.out().slice(before.length)).not.toContain(REFRESH);
  });

  it('exit 3 for a named provider that is not configured; 0 without a provider', async () => {
    const deps = testDeps();
    expect(await exitOf(runStatus({ provider: soundcharts, profile: 'default', json: false }, deps))).toBe(3);
    expect(await runStatus({ profile: 'default', json: false }, deps)).toBe(0);
  });
});

describe('runLogin', () => {
  it('chartmetric: reads the refresh token from its variable, mints once to verify, stores it', async () => {
    const { fetch, calls } = scriptedFetch([minted()]);
    const keychain = new MemoryStore('keychain');
    const deps = testDeps({
      fetch,
      env: { TOKENS_CHARTMETRIC_REFRESH_TOKEN: REFRESH },
      openStore: async () => storeOf(keychain),
    });
    expect(await runLogin({ provider: chartmetric, profile: 'work', flags: {} }, deps)).toBe(0);
    expect(calls).toHaveLength(1);
    expect(JSON.parse(await keychain.get(secretKey('work', 'chartmetric')))).toEqual({ refresh_token: REFRESH });
    expect(settingsFor(await loadConfig(deps), 'work', 'chartmetric')).toMatchObject({
      mode: 'refresh_token',
      store: 'keychain',
    });
    expect(await readCache(deps.paths, 'work', 'chartmetric')).toMatchObject({ kind: 'hit' });
    expect(deps.out()).toBe('');
    expectNoSecret(deps, REFRESH, ACCESS);
  });

  it('a rejected refresh token stores nothing: exit 4', async () => {
    const keychain = new MemoryStore('keychain');
    const deps = testDeps({
      fetch: scriptedFetch([json(401, { error: 'invalid_grant' })]).fetch,
      env: { TOKENS_CHARTMETRIC_REFRESH_TOKEN: REFRESH },
      openStore: async () => storeOf(keychain),
    });
    expect(await exitOf(runLogin({ provider: chartmetric, profile: 'default', flags: {} }, deps))).toBe(4);
    expect(await keychain.list()).toEqual([]);
    expect(settingsFor(await loadConfig(deps), 'default', 'chartmetric')).toBeUndefined();
    expectNoSecret(deps, REFRESH);
  });
});

describe('runLogout', () => {
  it('removes the secrets, the cached token and the settings', async () => {
    const deps = testDeps({ fetch: scriptedFetch([minted()]).fetch });
    await loggedIn(deps);
    await runGet(
      { provider: chartmetric, profile: 'default', format: 'token', minTtlSeconds: 60, forceRefresh: false },
      deps,
    );
    expect(await runLogout({ provider: chartmetric, profile: 'default' }, deps)).toBe(0);
    expect(await deps.store.list()).toEqual([]);
    expect(await readCache(deps.paths, 'default', 'chartmetric')).toEqual({ kind: 'absent' });
    expect(settingsFor(await loadConfig(deps), 'default', 'chartmetric')).toBeUndefined();
  });

  it('a provider that is not configured: exit 3', async () => {
    expect(await exitOf(runLogout({ provider: soundcloud, profile: 'default' }, testDeps()))).toBe(3);
  });
});

describe('runApi', () => {
  const request = (target: string): ApiOptions => ({
    provider: chartmetric,
    profile: 'default',
    target,
    headers: [],
    fields: [],
    form: [],
    paginate: false,
    maxPages: 100,
    include: false,
    silent: false,
    maxWaitSeconds: 30,
  });

  it('sends the token in the provider scheme and prints the body as it came', async () => {
    const { fetch, calls } = scriptedFetch([minted(), json(200, { obj: { id: 206557 } })]);
    const deps = testDeps({ fetch });
    await loggedIn(deps);
    expect(await runApi(request('/api/artist/206557'), deps)).toBe(0);
    expect(deps.out()).toBe('{"obj":{"id":206557}}');
    expect(calls[1]!.url).toBe('https://api.chartmetric.com/api/artist/206557');
    expect(new Headers(calls[1]!.init.headers as Record<string, string>).get('authorization')).toBe(`Bearer ${ACCESS}`);
  });

  it('a 401 refreshes once and repeats the request once', async () => {
    const { fetch, calls } = scriptedFetch([
      minted(),
      json(401, { error: 'expired' }),
      minted('cm-access-second'),
      json(200, []),
    ]);
    const deps = testDeps({ fetch });
    await loggedIn(deps);
    expect(await runApi(request('/api/charts'), deps)).toBe(0);
    expect(calls).toHaveLength(4);
    expect(new Headers(calls[3]!.init.headers as Record<string, string>).get('authorization')).toBe(
      'Bearer cm-access-second',
    );
  });

  it('a PATH that leaves the API base is exit 2 before a token is fetched', async () => {
    const { fetch, calls } = scriptedFetch([]);
    const deps = testDeps({ fetch });
    await loggedIn(deps);
    expect(await exitOf(runApi(request('https://evil.example/me'), deps))).toBe(2);
    expect(calls).toHaveLength(0);
  });
});
