// Hostile input, the units: files and directories of ours as hostile ground, provider text with
// the secrets in hand redacted, access tokens checked, bounded bodies, lifetimes and clocks, a store
// write prepared before a refresh token is spent, and shared failures read back as untrusted.
import { execFileSync } from 'node:child_process';
import { chmod, chown, lstat, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TokenBroker, secretKey } from '../../src/broker/broker.js';
import { cacheFile, isFresh, readCache, writeCache } from '../../src/files/cache.js';
import { configFile, loadConfig, updateSettings } from '../../src/files/config.js';
import { sendTokenRequest, MAX_BODY_BYTES } from '../../src/http/http.js';
import { lockPath } from '../../src/files/lock.js';
import { ensurePrivateDir, writePrivateFile } from '../../src/files/private-files.js';
import { StoreError, UnavailableError } from '../../src/base/errors.js';
import { sanitizeProviderText } from '../../src/base/untrusted-text.js';
import { chartmetric } from '../../src/providers/chartmetric/index.js';
import { soundcloud } from '../../src/providers/soundcloud/index.js';
import { FileStore } from '../../src/store/file.js';
import { json, scriptedFetch, testDeps } from '../support/deps.js';

const isRoot = process.getuid?.() === 0;
const get = { minTtlSeconds: 60, forceRefresh: false };
const HOUR = 3600_000;

async function chartmetricDeps(answers: Parameters<typeof scriptedFetch>[0], refreshToken = 'rt-secret-value-1') {
  const { fetch, calls } = scriptedFetch(answers);
  const deps = testDeps({ fetch });
  await updateSettings(deps, 'default', 'chartmetric', { mode: 'refresh_token', store: 'keychain' });
  await deps.store.set(secretKey('default', 'chartmetric'), JSON.stringify({ refresh_token: refreshToken }));
  return { deps, calls };
}

const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe('writes never follow a planted symbolic link', () => {
  it('a link at the cache path is replaced by our own file; its target is untouched', async () => {
    const deps = testDeps();
    const file = cacheFile(deps.paths, 'default', 'chartmetric');
    const victim = join(deps.env.HOME!, 'victim');
    await writeFile(victim, 'precious\n', { mode: 0o644 });
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await symlink(victim, file);
    await writeCache(deps.paths, 'default', 'chartmetric', {
      access_token: 'tok',
      token_type: 'bearer',
      expires_at: deps.clock.now + HOUR,
    });
    expect(await readFile(victim, 'utf8')).toBe('precious\n');
    expect(await mode(victim)).toBe(0o644);
    const info = await lstat(file);
    expect(info.isFile()).toBe(true);
    expect(info.mode & 0o777).toBe(0o600);
    expect(info.uid).toBe(process.getuid!());
  });

  it('the file store replaces a link at secrets.enc instead of writing through it', async () => {
    const deps = testDeps();
    const path = join(deps.paths.dataDir, 'secrets.enc');
    const victim = join(deps.env.HOME!, 'victim');
    await writeFile(victim, 'precious\n');
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await symlink(victim, path);
    // Reading through the link is refused (exit 6): its contents are not ours.
    const store = new FileStore({ path, passphrase: 'pp', privateRoot: deps.paths.dataDir });
    await expect(store.get('x')).rejects.toMatchObject({
      exitCode: 6,
      message: expect.stringContaining('symbolic link'),
    });
    expect(await readFile(victim, 'utf8')).toBe('precious\n');
  });
});

describe('directories and files of ours are tightened or refused', () => {
  it('every directory from the tokens directory down is made 0700', async () => {
    const deps = testDeps();
    const root = deps.paths.cacheDir;
    await mkdir(join(root, 'default'), { recursive: true, mode: 0o777 });
    await chmod(root, 0o777);
    await chmod(join(root, 'default'), 0o777);
    await writePrivateFile(root, join(root, 'default', 'x.json'), '{}');
    expect(await mode(root)).toBe(0o700);
    expect(await mode(join(root, 'default'))).toBe(0o700);
    expect(await mode(join(root, 'default', 'x.json'))).toBe(0o600);
  });

  it('a directory of ours that is a symbolic link is refused, exit 6, naming it', async () => {
    const deps = testDeps();
    const elsewhere = join(deps.env.HOME!, 'elsewhere');
    await mkdir(elsewhere);
    await mkdir(dirname(deps.paths.cacheDir), { recursive: true });
    await symlink(elsewhere, deps.paths.cacheDir);
    await expect(ensurePrivateDir(deps.paths.cacheDir, join(deps.paths.cacheDir, 'default'))).rejects.toMatchObject({
      exitCode: 6,
      message: `refusing to use ${deps.paths.cacheDir}: it is a symbolic link`,
    });
  });

  it.runIf(isRoot)('a directory of ours owned by another user is refused (as root: chown)', async () => {
    const deps = testDeps();
    await mkdir(join(deps.paths.stateDir, 'default'), { recursive: true });
    await chown(join(deps.paths.stateDir, 'default'), 4242, 4242);
    await expect(ensurePrivateDir(deps.paths.stateDir, join(deps.paths.stateDir, 'default'))).rejects.toMatchObject({
      exitCode: 6,
      message: expect.stringContaining('owned by another user (uid 4242)'),
    });
  });

  it('config.json readable by others is tightened; writable by others is refused', async () => {
    const deps = testDeps();
    await updateSettings(deps, 'default', 'chartmetric', { mode: 'refresh_token' });
    const file = configFile(deps.paths);
    await chmod(file, 0o644);
    await loadConfig(deps);
    expect(await mode(file)).toBe(0o600);
    await chmod(file, 0o666);
    await expect(loadConfig(deps)).rejects.toMatchObject({
      exitCode: 6,
      message: expect.stringContaining('writable by group or others'),
    });
  });

  it('a cache file writable by others, or owned by another user, is never served', async () => {
    const deps = testDeps();
    await writeCache(deps.paths, 'default', 'chartmetric', {
      access_token: 'tok',
      token_type: 'bearer',
      expires_at: deps.clock.now + HOUR,
    });
    const file = cacheFile(deps.paths, 'default', 'chartmetric');
    await chmod(file, 0o666);
    expect(await readCache(deps.paths, 'default', 'chartmetric')).toEqual({
      kind: 'damaged',
      reason: 'it is writable by group or others, so its contents cannot be trusted',
    });
    await chmod(file, 0o644);
    expect(await readCache(deps.paths, 'default', 'chartmetric')).toMatchObject({ kind: 'hit' });
    expect(await mode(file)).toBe(0o600);
    if (isRoot) {
      await chown(file, 4242, 4242);
      expect(await readCache(deps.paths, 'default', 'chartmetric')).toEqual({
        kind: 'damaged',
        reason: 'it is owned by another user (uid 4242)',
      });
    }
  });
});

describe('secrets echoed by the provider are redacted', () => {
  it('sanitizeProviderText redacts each secret as sent and as encoded', () => {
    const secret = 'rt/secret+value=1';
    const text = `bad ${secret}, ${encodeURIComponent(secret)}, ${new URLSearchParams({ s: secret }).toString().slice(2)}, ${Buffer.from(secret).toString('base64')}`;
    const out = sanitizeProviderText(text, 500, [secret]);
    expect(out).not.toContain('secret');
    expect(out).toBe('bad [redacted], [redacted], [redacted], [redacted]=');
  });

  it('a 401 quoting the refresh token that was sent: exit 4 without it', async () => {
    const refresh = 'rt-secret-value-1';
    const { deps } = await chartmetricDeps(
      [json(401, { error: 'invalid_grant', error_description: `refresh token ${refresh} is revoked` })],
      refresh,
    );
    const error = await new TokenBroker(deps).get(chartmetric, 'default', get).catch((e: Error) => e);
    expect(error).toMatchObject({
      exitCode: 4,
      message: expect.stringContaining('refresh token [redacted] is revoked'),
    });
    expect(JSON.stringify(error)).not.toContain(refresh);
    expect((error as Error).message).not.toContain(refresh);
  });

  it('SoundCloud: a 400 quoting the client secret of the refresh grant', async () => {
    const { fetch } = scriptedFetch([
      json(400, { error: 'invalid_client', error_description: 'client_secret=cs-very-secret-9 is wrong' }),
    ]);
    const deps = testDeps({ fetch });
    await updateSettings(deps, 'default', 'soundcloud', {
      mode: 'authorization_code',
      client_id: 'cid',
      store: 'keychain',
    });
    await deps.store.set(
      secretKey('default', 'soundcloud'),
      JSON.stringify({ client_secret: 'cs-very-secret-9', refresh_token: 'scl-rt-1234' }),
    );
    const error = (await new TokenBroker(deps).get(soundcloud, 'default', get).catch((e: Error) => e)) as Error;
    expect(error.message).toContain('client_secret=[redacted] is wrong');
    expect(error.message).not.toContain('cs-very-secret-9');
  });
});

describe('access tokens must be RFC 6750 b64tokens', () => {
  it.each(['abc\nX-Injected: yes', 'abc\r\n', 'tok\u001b[31m', 'has space', 'quote"'])(
    'a token endpoint answering %j: exit 5, nothing cached',
    async (token) => {
      const { deps } = await chartmetricDeps([json(200, { token, expires_in: 3600 })]);
      await expect(new TokenBroker(deps).get(chartmetric, 'default', get)).rejects.toMatchObject({
        exitCode: 5,
        message: expect.stringContaining('RFC 6750'),
      });
      expect(await readCache(deps.paths, 'default', 'chartmetric')).toEqual({ kind: 'absent' });
    },
  );

  it('a rotation that came with a refused token is still stored', async () => {
    const { deps } = await chartmetricDeps([
      json(200, { token: 'bad\ntoken', expires_in: 3600, refresh_token: 'rt-next-2' }),
    ]);
    await expect(new TokenBroker(deps).get(chartmetric, 'default', get)).rejects.toMatchObject({ exitCode: 5 });
    expect(JSON.parse(await deps.store.get('default/chartmetric'))).toEqual({ refresh_token: 'rt-next-2' });
  });

  it('a cache holding a token that is not a b64token is damaged', async () => {
    const deps = testDeps();
    const file = cacheFile(deps.paths, 'default', 'chartmetric');
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await writeFile(
      file,
      JSON.stringify({ access_token: 'x\r\nInjected: 1', token_type: 'bearer', expires_at: deps.clock.now + HOUR }),
      { mode: 0o600 },
    );
    expect(await readCache(deps.paths, 'default', 'chartmetric')).toEqual({
      kind: 'damaged',
      reason: 'unexpected shape',
    });
  });
});

describe('shared failure records are untrusted text', () => {
  it('escape sequences in a recorded failure never reach the message', async () => {
    const { deps } = await chartmetricDeps([]);
    const path = lockPath(deps.paths.stateDir, 'default', 'chartmetric');
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const record = {
      at: deps.clock.now + 1000,
      sharing: 'waiting',
      exitCode: 5,
      message: 'down\u001b]0;pwned\u0007\u001b[2J',
      hint: 'try \u001b[31mlater',
    };
    await writeFile(`${path}.failure.json`, JSON.stringify(record), { mode: 0o600 });
    const seen = await new TokenBroker(deps).get(chartmetric, 'default', get).then(
      () => undefined,
      (error: unknown) => error as UnavailableError,
    );
    expect(seen).toBeInstanceOf(UnavailableError);
    expect(seen!.message).not.toMatch(/\u001b|\u0007/);
    expect(seen!.hint).not.toMatch(/\u001b/);
    expect(seen!.message).toMatch(/^down ]0;pwned \[2J \(as another tokens process found at/);
  });
});

describe('the store write is prepared before a refresh token is spent', () => {
  it('a store that cannot be written: exit 6 and no request sent', async () => {
    const { deps, calls } = await chartmetricDeps([
      json(200, { token: 'a1', expires_in: 3600, refresh_token: 'rt-2' }),
    ]);
    deps.store.prepareWrite = async () => {
      throw new StoreError('cannot write in /x: read-only file system (EROFS)');
    };
    await expect(new TokenBroker(deps).get(chartmetric, 'default', get)).rejects.toMatchObject({
      exitCode: 6,
      message: expect.stringContaining('EROFS'),
    });
    expect(calls).toHaveLength(0);
  });

  it('the file store: a blocked lock or a directory it cannot write in is found by prepareWrite', async () => {
    const deps = testDeps();
    const path = join(deps.paths.dataDir, 'secrets.enc');
    const store = new FileStore({
      path,
      passphrase: 'pp',
      privateRoot: deps.paths.dataDir,
      lockDeps: { ...deps, sleep: async () => undefined },
    });
    await store.set('k', 'v');
    await store.prepareWrite('k');
    // A plain file where the lock directory goes: neither taken over nor locked.
    await writeFile(`${path}.lock`, 'not a lock');
    const old = new Date(Date.now() - HOUR);
    const { utimes } = await import('node:fs/promises');
    await utimes(`${path}.lock`, old, old);
    await expect(store.prepareWrite('k')).rejects.toMatchObject({ exitCode: 6 });
  });
});

describe('a FIFO at a cache or state path is damaged, never read', () => {
  it('cache, failure record and config.json', async () => {
    const deps = testDeps();
    const file = cacheFile(deps.paths, 'default', 'chartmetric');
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    execFileSync('mkfifo', ['-m', '600', file]);
    expect(await readCache(deps.paths, 'default', 'chartmetric')).toEqual({
      kind: 'damaged',
      reason: 'it is not a regular file',
    });

    const lock = lockPath(deps.paths.stateDir, 'default', 'chartmetric');
    await mkdir(dirname(lock), { recursive: true, mode: 0o700 });
    execFileSync('mkfifo', ['-m', '600', `${lock}.failure.json`]);
    const broker = await chartmetricDeps([json(200, { token: 'after-fifo', expires_in: 3600 })]);
    const fifo = lockPath(broker.deps.paths.stateDir, 'default', 'chartmetric');
    await mkdir(dirname(fifo), { recursive: true, mode: 0o700 });
    execFileSync('mkfifo', ['-m', '600', `${fifo}.failure.json`]);
    expect(await new TokenBroker(broker.deps).get(chartmetric, 'default', get)).toMatchObject({
      token: { access_token: 'after-fifo' },
    });

    await mkdir(deps.paths.configDir, { recursive: true, mode: 0o700 });
    execFileSync('mkfifo', ['-m', '600', configFile(deps.paths)]);
    await expect(loadConfig(deps)).rejects.toMatchObject({
      exitCode: 6,
      message: expect.stringContaining('not a regular file'),
    });
  });
});

describe('lifetimes are bounded', () => {
  it.each([1e13, 1e300, 315_360_001])('expires_in %d: exit 5', async (expires_in) => {
    const { deps } = await chartmetricDeps([json(200, { token: 'tok', expires_in })]);
    await expect(new TokenBroker(deps).get(chartmetric, 'default', get)).rejects.toMatchObject({
      exitCode: 5,
      message: expect.stringContaining('expires_in'),
    });
  });

  it('a cache with an expiry no Date can show is damaged', async () => {
    const deps = testDeps();
    const file = cacheFile(deps.paths, 'default', 'chartmetric');
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await writeFile(file, JSON.stringify({ access_token: 'tok', token_type: 'bearer', expires_at: 1e300 }), {
      mode: 0o600,
    });
    expect(await readCache(deps.paths, 'default', 'chartmetric')).toMatchObject({ kind: 'damaged' });
  });
});

describe('token-endpoint bodies and tokens are bounded', () => {
  it('an endless 200 body is read only up to the cap, then exit 5', async () => {
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 64 * 1024;
        controller.enqueue(new Uint8Array(64 * 1024).fill(0x61));
      },
    });
    const { fetch } = scriptedFetch([new Response(endless, { status: 200 })]);
    await expect(
      sendTokenRequest(testDeps({ fetch }), {
        providerTitle: 'Acme',
        url: 'https://x.test/t',
        headers: {},
        body: '',
        secrets: [],
      }),
    ).rejects.toMatchObject({
      exitCode: 5,
      message: expect.stringContaining('over 1 MB'),
    });
    expect(pulled).toBeLessThan(MAX_BODY_BYTES + 4 * 64 * 1024);
  });

  it('a 20 KB access token: exit 5, not cached', async () => {
    const { deps } = await chartmetricDeps([json(200, { token: 'a'.repeat(20_000), expires_in: 3600 })]);
    await expect(new TokenBroker(deps).get(chartmetric, 'default', get)).rejects.toMatchObject({
      exitCode: 5,
      message: expect.stringContaining('longer than 16384'),
    });
    expect(await readCache(deps.paths, 'default', 'chartmetric')).toEqual({ kind: 'absent' });
  });
});

describe('mode is validated per provider', () => {
  it('"mode":"banana" for Soundcharts is exit 2 naming the field', async () => {
    const deps = testDeps();
    await mkdir(deps.paths.configDir, { recursive: true, mode: 0o700 });
    await writeFile(
      configFile(deps.paths),
      JSON.stringify({ version: 1, profiles: { default: { soundcharts: { mode: 'banana' } } } }),
      { mode: 0o600 },
    );
    await expect(loadConfig(deps)).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringContaining('field "profiles.default.soundcharts.mode"'),
    });
  });

  it("another provider's mode is refused too", async () => {
    const deps = testDeps();
    await mkdir(deps.paths.configDir, { recursive: true, mode: 0o700 });
    await writeFile(
      configFile(deps.paths),
      JSON.stringify({ version: 1, profiles: { default: { chartmetric: { mode: 'legacy' } } } }),
      { mode: 0o600 },
    );
    await expect(loadConfig(deps)).rejects.toMatchObject({ exitCode: 2 });
  });
});

describe('--min-ttl beyond the lifetime, and the default margin', () => {
  it('--min-ttl 7200 on 1-hour tokens: one mint, then exit 2 every time, with no further mint', async () => {
    const { deps, calls } = await chartmetricDeps([
      json(200, { token: 'one', expires_in: 3600, refresh_token: 'rt-2' }),
    ]);
    const asked = { minTtlSeconds: 7200, minTtlGiven: true, forceRefresh: false };
    for (let i = 0; i < 3; i++) {
      await expect(new TokenBroker(deps).get(chartmetric, 'default', asked)).rejects.toMatchObject({
        exitCode: 2,
        message: '--min-ttl 7200 is longer than the lifetime of Chartmetric tokens (3600 s)',
      });
    }
    expect(calls).toHaveLength(1);
    // The rotation of that one mint was kept.
    expect(JSON.parse(await deps.store.get('default/chartmetric'))).toEqual({ refresh_token: 'rt-2' });
  });

  it('a cached token that expired before it was obtained (a hand edit) is just expired: a mint, no error', async () => {
    const { deps, calls } = await chartmetricDeps([json(200, { token: 'fresh', expires_in: 3600 })]);
    await writeCache(deps.paths, 'default', 'chartmetric', {
      access_token: 'old',
      token_type: 'bearer',
      obtained_at: deps.clock.now - 1000,
      expires_at: deps.clock.now - 60_000,
    });
    expect(await readCache(deps.paths, 'default', 'chartmetric')).toMatchObject({ kind: 'hit' });
    const asked = { minTtlSeconds: 600, minTtlGiven: true, forceRefresh: false };
    expect(await new TokenBroker(deps).get(chartmetric, 'default', asked)).toMatchObject({
      token: { access_token: 'fresh' },
    });
    expect(calls).toHaveLength(1);
  });

  it('30-second tokens without --min-ttl: used for half their lifetime, not minted on every get', async () => {
    const { deps, calls } = await chartmetricDeps([
      json(200, { token: 'short', expires_in: 30 }),
      json(200, { token: 'next', expires_in: 30 }),
    ]);
    const broker = () => new TokenBroker(deps);
    expect(await broker().get(chartmetric, 'default', get)).toMatchObject({ token: { access_token: 'short' } });
    deps.clock.now += 10_000;
    expect(await broker().get(chartmetric, 'default', get)).toMatchObject({ token: { access_token: 'short' } });
    expect(calls).toHaveLength(1);
    deps.clock.now += 6_000;
    expect(await broker().get(chartmetric, 'default', get)).toMatchObject({ token: { access_token: 'next' } });
    expect(calls).toHaveLength(2);
  });
});

describe('a clock that was wrong', () => {
  it('a token obtained "in the future" is stale whatever its expiry says', () => {
    const now = Date.UTC(2026, 0, 1);
    const minted = { access_token: 't', token_type: 'bearer', obtained_at: now + HOUR, expires_at: now + 2 * HOUR };
    expect(isFresh(minted, now, 60)).toBe(false);
    expect(isFresh({ ...minted, obtained_at: now - 1000, expires_at: now + HOUR - 1000 }, now, 60)).toBe(true);
    // A few seconds of disagreement are tolerated.
    expect(isFresh({ ...minted, obtained_at: now + 2000, expires_at: now + HOUR + 2000 }, now, 60)).toBe(true);
  });

  it('a waiting failure recorded in the future (the clock ran ahead) is not shared', async () => {
    // (A refusal, exit 4, is shared with every later process: a rate limit past the cap is 'waiting'.)
    const { deps, calls } = await chartmetricDeps([
      json(429, { error: 'slow down' }, { 'retry-after': '600' }),
      json(200, { token: 'ok', expires_in: 3600 }),
    ]);
    const ahead = deps.clock.now;
    deps.clock.now += HOUR;
    await expect(new TokenBroker(deps).get(chartmetric, 'default', get)).rejects.toMatchObject({ exitCode: 5 });
    deps.clock.now = ahead;
    expect(await new TokenBroker(deps).get(chartmetric, 'default', get)).toMatchObject({
      token: { access_token: 'ok' },
    });
    expect(calls).toHaveLength(2);
  });
});
