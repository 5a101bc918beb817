// The token endpoint misbehaving while several `tokens get` processes wait on one refresh: every
// process ends with the contract's exit code in bounded time, and nothing in the store is lost or
// half-written (the next `get` after the fault clears needs no new login). Plus single faults, a
// lock holder killed mid-exchange, a store that cannot be written after an exchange, a damaged cache.
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, readlink, rm, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { BIN } from '../support/cli.js';
import { MALFORMED_MARKER, type Fault, type ProviderName } from '../support/servers.js';
import {
  cachePath,
  expireCache,
  login,
  parallel,
  random,
  secretsSeen,
  tokenRequests,
  useWorlds,
  type Setup,
  type World,
} from '../support/worlds.js';

const PASSPHRASE = 'correct horse battery staple (faults)';
const TITLE: Record<ProviderName, string> = {
  chartmetric: 'Chartmetric',
  soundcharts: 'Soundcharts',
  soundcloud: 'SoundCloud',
};

const worlds = useWorlds({
  passphrase: PASSPHRASE,
  // Secret scan: no refresh token, client secret, PKCE verifier or passphrase in any output or
  // file (the secrets file is encrypted), and never the body of a malformed answer.
  beforeDispose: async (w) => expect(await w.sandbox.findSecrets([...secretsSeen(w), MALFORMED_MARKER])).toEqual([]),
});
const { world } = worlds;

/** Logged in, with the cached token expired. */
async function loggedIn(setup: Setup): Promise<World> {
  const w = await worlds.loggedIn(setup);
  await expireCache(w);
  return w;
}

function secretsFile(w: World): string {
  return join(w.sandbox.home, '.local', 'share', 'tokens', 'secrets.enc');
}

/** The refresh tokens the server would accept now (none for Soundcharts: client credentials). */
function liveRefreshTokens(w: World): string[] {
  return w.provider === 'soundcharts' ? [] : w.server.liveRefreshTokens(w.provider);
}

/** After the fault: the stored credentials still work, with no new login. */
async function expectStoreIntact(w: World, liveBefore: string[]): Promise<void> {
  w.server.clearFaults();
  w.server.delayMs = 0;
  // Nothing was spent: every refresh token the server accepted before the fault still works.
  expect(liveRefreshTokens(w)).toEqual(liveBefore);
  const since = Date.now();
  const next = await w.run(['get', w.provider]);
  expect(next.code, next.stderr).toBe(0);
  expect(next.stdout).toMatch(/^\S+\n$/);
  expect(tokenRequests(w, since).map((r) => r.status)).toEqual([200]);
  expect(w.server.violations).toEqual([]);
  expect(JSON.parse(await readFile(cachePath(w), 'utf8'))).toMatchObject({ access_token: next.stdout.trim() });
}

/** Holds the provider's lock the way a tokens process does (a directory, touched every second). */
async function holdLock(w: World): Promise<() => Promise<void>> {
  const dir = join(w.sandbox.home, '.local', 'state', 'tokens', 'default', `${w.provider}.lock`);
  await mkdir(dirname(dir), { recursive: true, mode: 0o700 });
  await mkdir(dir);
  const timer = setInterval(() => {
    const now = new Date();
    utimes(dir, now, now).catch(() => undefined);
  }, 1000);
  return async () => {
    clearInterval(timer);
    await rm(dir, { recursive: true, force: true });
  };
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const N = 10;

const PERSISTENT_FAULTS: Array<{
  name: string;
  fault: Fault;
  env?: Record<string, string>;
  attempts: number;
  withinMs: number;
  says: RegExp;
  /**
   * What a request spending a single-use refresh token (SoundCloud's) says instead: it is not
   * repeated after this fault, which may come after the server processed it. Absent: repeated.
   */
  saysOnce?: RegExp;
}> = [
  {
    name: '500 on every attempt',
    fault: { status: 500 },
    attempts: 3,
    withinMs: 15_000,
    says: /unavailable after 3 attempts \(HTTP 500\)/,
    saysOnce:
      /unavailable \(HTTP 500\); the request was sent once, not repeated, because it spends a single-use refresh token/,
  },
  {
    name: '503 on every attempt',
    fault: { status: 503 },
    attempts: 3,
    withinMs: 15_000,
    says: /unavailable after 3 attempts \(HTTP 503\)/,
  },
  {
    name: '429 with Retry-After 120 (past the 30 s cap)',
    fault: { status: 429, retryAfter: 120 },
    attempts: 1,
    withinMs: 10_000,
    says: /rate limiting token requests for 120 s/,
  },
  {
    name: 'no answer at all (TOKENS_HTTP_TIMEOUT=2)',
    fault: { kind: 'hang' },
    env: { TOKENS_HTTP_TIMEOUT: '2' },
    attempts: 3,
    withinMs: 20_000,
    says: /no answer within 2 s/,
    saysOnce: /unavailable \(no answer within 2 s\); the request was sent once, not repeated/,
  },
  {
    name: '200 with malformed JSON',
    fault: { kind: 'malformed' },
    attempts: 1,
    withinMs: 10_000,
    says: /answered 200 with a body that is not JSON/,
  },
];

describe.each(['chartmetric', 'soundcharts', 'soundcloud-user'] as const)(
  `%s: ${N} parallel gets while the refresh fails`,
  (setup) => {
    it.each(PERSISTENT_FAULTS)(
      '$name: every process exits 5, in bounded time, and the store is intact',
      { timeout: 120_000 },
      async (c) => {
        const w = await loggedIn(setup);
        const liveBefore = liveRefreshTokens(w);
        const once = setup === 'soundcloud-user' ? c.saysOnce : undefined;
        w.server.faultAlways(w.provider, c.fault);
        const since = Date.now();

        // All N start together. So that every one of them has asked before the first answer comes back
        // (on a busy machine, starting N node processes can take longer than a failing exchange), the
        // lock is first held here, as another tokens process would hold it, until they all wait.
        const release = await holdLock(w);
        const started = Array.from({ length: N }, () =>
          w.sandbox.start(['get', w.provider, '--verbose'], { env: { ...w.env, ...c.env }, timeoutMs: 100_000 }),
        );
        try {
          await Promise.all(started.map((p) => p.waitForStderr(/waiting for another tokens process/, 60_000)));
        } finally {
          await release();
        }
        const released = Date.now();
        const results = await Promise.all(started.map((p) => p.result));
        const ms = Date.now() - released;

        for (const r of results) {
          expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 5, stdout: '' });
          const message = r.stderr.trim().split('\n').at(-1)!;
          expect(message).toContain(TITLE[w.provider]);
          expect(message).toMatch(once ?? c.says);
        }
        // One process made the exchange (with its retries); the others were given its answer rather
        // than each repeat it, one after the other.
        expect(tokenRequests(w, since)).toHaveLength(once ? 1 : c.attempts);
        expect(results.filter((r) => /as another tokens process found at/.test(r.stderr))).toHaveLength(N - 1);
        expect(ms).toBeLessThan(c.withinMs);
        console.log(`${setup}, ${c.name}: ${N} processes done ${ms} ms after the lock was free`);
        expect(w.server.violations).toEqual([]);
        await expectStoreIntact(w, liveBefore);
      },
    );
  },
);

/** Whether a process is in the fast path's wait (src/files/refresh-claims.ts): it watches the cache directory. */
async function watchesCache(pid: number): Promise<boolean> {
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => []);
  const links = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
  return links.some((l) => l.includes('inotify'));
}

describe(`${N} plain parallel gets (waiting on the fast path) while the refresh fails`, () => {
  it('one exchange (with its retries); the waiters hand over and are given its answer: every process exits 5', {
    timeout: 120_000,
  }, async () => {
    const w = await loggedIn('chartmetric');
    w.server.faultAlways('chartmetric', { status: 500 });
    const since = Date.now();
    // As above, the lock is held here until all N wait; they wait on the fast path, not in the full
    // program (no --verbose), and none of them has claimed the refresh.
    const release = await holdLock(w);
    const started = Array.from({ length: N }, () =>
      w.sandbox.start(['get', 'chartmetric'], { env: w.env, timeoutMs: 100_000 }),
    );
    try {
      for (const p of started) {
        for (let i = 0; i < 3000 && p.child.exitCode === null && !(await watchesCache(p.child.pid!)); i++)
          await new Promise((r) => setTimeout(r, 20));
        expect(await watchesCache(p.child.pid!), 'waiting on the fast path').toBe(true);
      }
    } finally {
      await release();
    }
    const results = await Promise.all(started.map((p) => p.result));
    for (const r of results) {
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 5, stdout: '' });
      expect(r.stderr).toMatch(/Chartmetric token endpoint unavailable after 3 attempts \(HTTP 500\)/);
    }
    expect(tokenRequests(w, since)).toHaveLength(3);
    expect(results.filter((r) => /as another tokens process found at/.test(r.stderr))).toHaveLength(N - 1);
    expect(w.server.violations).toEqual([]);
  });
});

describe('single faults', () => {
  it('one 500, then success: exit 0 after two requests', async () => {
    const w = await loggedIn('chartmetric');
    w.server.fault('chartmetric', { status: 500 });
    const r = await w.run(['get', 'chartmetric']);
    expect(r.code, r.stderr).toBe(0);
    expect(
      tokenRequests(w)
        .slice(-2)
        .map((q) => q.status),
    ).toEqual([500, 200]);
    expect(w.server.violations).toEqual([]);
  });

  it('429 with Retry-After 1: waited out, exit 0', async () => {
    const w = await loggedIn('soundcloud-user');
    w.server.fault('soundcloud', { status: 429, retryAfter: 1 });
    const since = Date.now();
    const r = await w.run(['get', 'soundcloud']);
    expect(r.code, r.stderr).toBe(0);
    const requests = tokenRequests(w, since);
    expect(requests.map((q) => q.status)).toEqual([429, 200]);
    expect(requests[1]!.time - requests[0]!.time).toBeGreaterThanOrEqual(950);
    expect(w.server.violations).toEqual([]);
  });

  it('a redirect from the token endpoint: exit 5, not followed', async () => {
    const w = await loggedIn('chartmetric');
    const liveBefore = liveRefreshTokens(w);
    const total = w.server.requests.length;
    w.server.fault('chartmetric', { kind: 'redirect', status: 307, location: `${w.server.url}/chartmetric/elsewhere` });
    const r = await w.run(['get', 'chartmetric']);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 5, stdout: '' });
    expect(r.stderr).toMatch(/redirect/);
    expect(w.server.requests.slice(total).map((q) => [q.path, q.status])).toEqual([['/chartmetric/api/token', 307]]);
    await expectStoreIntact(w, liveBefore);
  });

  it.each(['chartmetric', 'soundcloud-user'] as const)('401 from %s: exit 4, log in again', async (setup) => {
    const w = await loggedIn(setup);
    w.server.fault(w.provider, { status: 401 });
    const r = await w.run(['get', w.provider]);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 4, stdout: '' });
    expect(r.stderr).toContain(`tokens login ${w.provider}`);
  });

  it('400 invalid_grant from Chartmetric with the stored refresh token unchanged: exit 4, one request', async () => {
    const w = await loggedIn('chartmetric');
    w.server.fault('chartmetric', {
      status: 400,
      body: { error: 'invalid_grant', error_description: 'Refresh token revoked' },
    });
    const since = Date.now();
    const r = await w.run(['get', 'chartmetric']);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 4, stdout: '' });
    expect(r.stderr).toMatch(/invalid_grant/);
    expect(r.stderr).toContain('tokens login chartmetric');
    expect(tokenRequests(w, since)).toHaveLength(1);
  });

  it('invalid_grant after another writer (outside the lock) rotated the stored token: retried with the new one, exit 0', async () => {
    const w = await loggedIn('chartmetric');
    const [old] = liveRefreshTokens(w);
    const rotated = random('cm_rt_outside_');
    w.secrets.push(rotated);
    w.server.delayMs = 1500;
    const since = Date.now();
    const pending = w.run(['get', 'chartmetric']);
    await waitFor(() => tokenRequests(w, since).length === 1, 20_000);
    // Meanwhile an older tokens (which took no lock) spent `old` and saved its successor.
    w.server.delayMs = 0;
    w.server.chartmetric.revokeRefreshToken(old!);
    w.server.chartmetric.addRefreshToken(rotated);
    await new FileStore({ path: secretsFile(w), passphrase: PASSPHRASE }).set(
      'default/chartmetric',
      JSON.stringify({ refresh_token: rotated }),
    );
    const r = await pending;
    expect(r.code, r.stderr).toBe(0);
    const sent = tokenRequests(w, since).map((q) => [(q.json as { refreshtoken: string }).refreshtoken, q.status]);
    expect(sent).toEqual([
      [old, 401],
      [rotated, 200],
    ]);
    expect(w.server.violations).toEqual([]);
    expect(liveRefreshTokens(w)).toHaveLength(1);
  });

  it('403 from Soundcharts for a team the client may not select: exit 4', async () => {
    const w = await world('soundcharts', { teams: ['team-a'] });
    await login(w, { teamId: 'team-a' });
    await expireCache(w);
    // The client loses access to team-a.
    w.server.soundcharts.addClient({ clientId: 'sc-client', clientSecret: w.secrets[1]!, teams: ['team-b'] });
    const r = await w.run(['get', 'soundcharts']);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 4, stdout: '' });
    expect(r.stderr).toMatch(/403/);
    expect(r.stderr).toContain('tokens login soundcharts');
    expect(w.server.violations).toEqual([]);
  });
});

describe('a login the provider refused (first hour 2)', () => {
  const entry = (stdout: string) =>
    (JSON.parse(stdout) as { providers: Array<Record<string, unknown>> }).providers.find(
      (p) => p.provider === 'chartmetric',
    )!;

  it('the cached token is forgotten, get and status say to log in again (both paths), until a login clears it', async () => {
    // Logged in: a token valid for an hour is cached.
    const w = await worlds.loggedIn('chartmetric');
    const cached = JSON.parse(await readFile(cachePath(w), 'utf8')) as { access_token: string };
    w.server.fault('chartmetric', {
      status: 400,
      body: { error: 'invalid_grant', error_description: 'Refresh token revoked' },
    });
    const refused = await w.run(['get', 'chartmetric', '--force-refresh']);
    expect({ code: refused.code, stdout: refused.stdout }).toEqual({ code: 4, stdout: '' });
    w.server.clearFaults();

    const since = Date.now();
    for (const env of [{}, { TOKENS_NO_FAST_PATH: '1' }]) {
      const get = await w.run(['get', 'chartmetric'], { env });
      expect({ code: get.code, stdout: get.stdout }).toEqual({ code: 4, stdout: '' });
      expect(get.stderr).toContain('tokens login chartmetric');
      expect(get.stderr).not.toContain(cached.access_token);
      const exec = await w.run(['exec', '--provider', 'chartmetric', '--', 'true'], { env });
      expect(exec.code).toBe(4);
      const one = await w.run(['status', 'chartmetric'], { env });
      expect(one.code, one.stderr).toBe(4);
      expect(one.stdout).toMatch(/chartmetric .*log in again/);
      const all = await w.run(['status'], { env });
      expect(all.code).toBe(0);
      expect(all.stdout).toMatch(/chartmetric .*log in again/);
      const json = await w.run(['status', '--json'], { env });
      expect(json.code).toBe(0);
      expect(entry(json.stdout)).toMatchObject({ configured: true, needs_login: true, token_expires_at: null });
    }
    // The refusal is not sent again: only a login helps.
    expect(tokenRequests(w, since)).toEqual([]);

    await login(w, { refreshToken: w.server.liveRefreshTokens('chartmetric')[0]! });
    for (const env of [{}, { TOKENS_NO_FAST_PATH: '1' }]) {
      const json = await w.run(['status', '--json'], { env });
      expect(entry(json.stdout)).toMatchObject({ configured: true, needs_login: false, token_expired: false });
      expect((await w.run(['status', 'chartmetric'], { env })).code).toBe(0);
      const get = await w.run(['get', 'chartmetric'], { env });
      expect(get.code, get.stderr).toBe(0);
    }
    expect(w.server.violations).toEqual([]);
  });

  it('exec without --provider leaves the refused provider out (one warning, its variables unset) and runs; with --provider it is fatal (first hour 5)', async () => {
    const w = await worlds.loggedIn('chartmetric');
    const sc = await w.run(['login', 'soundcharts', '--client-id', 'sc-client'], {
      env: { TOKENS_SOUNDCHARTS_CLIENT_SECRET: w.secrets[1]! },
    });
    expect(sc.code, sc.stderr).toBe(0);
    await expireCache(w);
    w.server.faultAlways('chartmetric', {
      status: 400,
      body: { error: 'invalid_grant', error_description: 'Refresh token revoked' },
    });
    const printEnv = ['--', process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.env))'];
    // A variable of the left-out provider inherited from outside is not passed on either.
    const stale = { CHARTMETRIC_ACCESS_TOKEN: 'stale-from-outside', CHARTMETRIC_AUTHORIZATION: 'Bearer stale' };
    for (const env of [{}, { TOKENS_NO_FAST_PATH: '1' }, { TOKENS_EXEC_STAY: '1' }]) {
      const run = await w.run(['exec', ...printEnv], { env: { ...env, ...stale } });
      expect(run.code, run.stderr).toBe(0);
      const child = JSON.parse(run.stdout) as Record<string, string>;
      expect(child.SOUNDCHARTS_ACCESS_TOKEN).toMatch(/\S/);
      expect(child).not.toHaveProperty('CHARTMETRIC_ACCESS_TOKEN');
      expect(child).not.toHaveProperty('CHARTMETRIC_AUTHORIZATION');
      const lines = run.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^tokens: warning: chartmetric left out \(exit 4: Chartmetric rejected .*tokens login chartmetric.*\)/,
      );
    }
    for (const args of [
      ['--provider', 'chartmetric'],
      ['--provider', 'soundcharts', '--provider', 'chartmetric'],
    ]) {
      const fatal = await w.run(['exec', ...args, ...printEnv]);
      expect({ code: fatal.code, stdout: fatal.stdout }).toEqual({ code: 4, stdout: '' });
      expect(fatal.stderr).toContain('tokens login chartmetric');
    }
    expect(w.server.violations).toEqual([]);
  });
});

describe('the lock', () => {
  it.each([
    ['soundcharts', 'a 10 s delay'],
    ['chartmetric', 'a request that is never answered'],
    ['soundcloud-user', 'a request that is never answered'],
  ] as const)(
    '%s: a holder SIGKILLed mid-exchange (%s) is recovered from within seconds',
    { timeout: 120_000 },
    async (setup, _how) => {
      const w = await loggedIn(setup);
      const liveBefore = liveRefreshTokens(w);
      // Chartmetric and SoundCloud: the killed request never reaches processing, so the stored refresh
      // token is still good (had the server spent it, that login would be lost whatever we did).
      if (setup === 'soundcharts') w.server.delayMs = 10_000;
      else w.server.fault(w.provider, { kind: 'hang' });
      const since = Date.now();
      const holder = w.sandbox.start(['get', w.provider], { env: { ...w.env, TOKENS_HTTP_TIMEOUT: '30' } });
      await waitFor(() => tokenRequests(w, since).length === 1, 20_000);
      holder.child.kill('SIGKILL');
      const killed = Date.now();
      expect((await holder.result).signal).toBe('SIGKILL');
      w.server.delayMs = 0;

      const { results } = await parallel(w, 5, ['get', w.provider]);
      const recoveryMs = Date.now() - killed;

      for (const r of results) expect(r.code, r.stderr).toBe(0);
      expect(new Set(results.map((r) => r.stdout)).size).toBe(1);
      // The dead holder's lock went stale (5 s without a touch) and was taken over once.
      expect(tokenRequests(w, since)).toHaveLength(2);
      expect(recoveryMs).toBeGreaterThan(2_000);
      expect(recoveryMs).toBeLessThan(10_000);
      console.log(`${setup}: recovered ${recoveryMs} ms after SIGKILL of the lock holder`);
      expect(w.server.violations).toEqual([]);
      if (setup !== 'soundcharts') expect(liveRefreshTokens(w)).not.toEqual(liveBefore);
      w.server.clearFaults();
      const again = await w.run(['get', w.provider, '--force-refresh']);
      expect(again.code, again.stderr).toBe(0);
      expect(w.server.violations).toEqual([]);
    },
  );

  it('a live holder slower than the stale period keeps its lock: one request, one token', {
    timeout: 60_000,
  }, async () => {
    const w = await loggedIn('chartmetric');
    w.server.delayMs = 8_000;
    const since = Date.now();
    const holder = w.sandbox.start(['get', 'chartmetric'], { env: { ...w.env, TOKENS_HTTP_TIMEOUT: '30' } });
    await waitFor(() => tokenRequests(w, since).length === 1, 20_000);
    const { results } = await parallel(w, 4, ['get', 'chartmetric']);
    const first = await holder.result;
    for (const r of [first, ...results]) expect(r.code, r.stderr).toBe(0);
    expect(new Set([first, ...results].map((r) => r.stdout)).size).toBe(1);
    expect(tokenRequests(w, since)).toHaveLength(1);
    expect(w.server.violations).toEqual([]);
  });

  it.skipIf(process.platform === 'win32')(
    'a waiter gives up with exit 5 after TOKENS_LOCK_TIMEOUT, without spinning',
    { timeout: 60_000 },
    async () => {
      const w = await loggedIn('chartmetric');
      w.server.fault('chartmetric', { kind: 'hang' });
      const since = Date.now();
      const holder = w.sandbox.start(['get', 'chartmetric'], { env: { ...w.env, TOKENS_HTTP_TIMEOUT: '30' } });
      try {
        await waitFor(() => tokenRequests(w, since).length === 1, 20_000);
        // Run the waiter under sh, whose `times` reports the CPU time its child used.
        const waiter = await new Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>(
          (resolve, reject) => {
            const started = Date.now();
            const child = spawn(
              '/bin/sh',
              [
                '-c',
                '"$0" "$@"; code=$?; times >&2; exit $code',
                process.execPath,
                BIN,
                'get',
                'chartmetric',
                '--verbose',
              ],
              {
                env: { ...w.sandbox.baseEnv(), ...w.env, TOKENS_LOCK_TIMEOUT: '3' },
              },
            );
            let stdout = '';
            let stderr = '';
            child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
            child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
            child.on('error', reject);
            child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
          },
        );
        w.sandbox.outputs.push(waiter.stdout, waiter.stderr);
        expect({ code: waiter.code, stdout: waiter.stdout }).toEqual({ code: 5, stdout: '' });
        expect(waiter.stderr).toMatch(/gave up after 3 s waiting for another tokens process/);
        expect(waiter.ms).toBeGreaterThanOrEqual(3_000);
        expect(waiter.ms).toBeLessThan(8_000);
        const times = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(waiter.stderr);
        expect(times).not.toBeNull();
        const cpuSeconds = Number(times![1]) * 60 + Number(times![2]) + Number(times![3]) * 60 + Number(times![4]);
        // Node's own start-up is most of it; polling every 100–300 ms costs next to nothing.
        expect(cpuSeconds).toBeLessThan(1.5);
        expect(tokenRequests(w, since)).toHaveLength(1);
      } finally {
        holder.child.kill('SIGTERM');
        await holder.result;
      }
    },
  );
});

describe('a store that cannot be written after the exchange', () => {
  it.each(['chartmetric', 'soundcloud-user'] as const)(
    '%s: exit 6 saying the new refresh token was lost, nothing printed or cached',
    { timeout: 120_000 },
    async (setup) => {
      const w = await loggedIn(setup);
      const cacheBefore = await readFile(cachePath(w), 'utf8');
      const liveBefore = liveRefreshTokens(w);
      // A real write failure that root cannot bypass (tests may run as root, which ignores permission
      // bits): the file store takes a lock (a directory, `secrets.enc.lock`) before every write; a
      // plain file there, left long ago, can be neither taken over (rmdir: ENOTDIR) nor locked. The
      // store's write is prepared (its lock taken and let go) before the refresh token is sent, so the
      // blocker appears during the exchange, as a disk can fail at any moment: the exchange goes
      // through, and only the write after it fails.
      const blocker = `${secretsFile(w)}.lock`;
      w.server.delayMs = 2_000;
      const since = Date.now();

      const pending = parallel(w, 5, ['get', w.provider]);
      await waitFor(() => tokenRequests(w, since).length === 1, 30_000);
      await writeFile(blocker, 'not a lock directory\n');
      await utimes(blocker, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
      const { results } = await pending;

      for (const r of results) {
        expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 6, stdout: '' });
        expect(r.stderr).toMatch(
          new RegExp(`${TITLE[w.provider]} issued a new refresh token, but it could not be saved`),
        );
        expect(r.stderr).toMatch(/this login is lost/);
        expect(r.stderr).toContain(`tokens login ${w.provider}`);
      }
      // One exchange; the waiters did not send the refresh token it spent.
      expect(tokenRequests(w, since).map((q) => q.status)).toEqual([200]);
      expect(w.server.violations).toEqual([]);
      expect(liveRefreshTokens(w)).not.toEqual(liveBefore);
      expect(await readFile(cachePath(w), 'utf8')).toBe(cacheBefore);

      // A later get does not send the spent refresh token either: it says the same until a login.
      const later = await w.run(['get', w.provider]);
      expect({ code: later.code, stdout: later.stdout }).toEqual({ code: 6, stdout: '' });
      expect(later.stderr).toMatch(/this login is lost/);
      expect(tokenRequests(w, since)).toHaveLength(1);

      // Doing what the message says works.
      await rm(blocker);
      w.server.delayMs = 0;
      const fresh = random('cm_rt_new_');
      w.secrets.push(fresh);
      if (setup === 'chartmetric') w.server.chartmetric.addRefreshToken(fresh);
      await login(w, { refreshToken: fresh });
      const r = await w.run(['get', w.provider, '--force-refresh']);
      expect(r.code, r.stderr).toBe(0);
      expect(w.server.violations).toEqual([]);
    },
  );
});

describe('a damaged cache file', () => {
  it.each([
    ['truncated', '{"access_token":"cm_at_trunc'],
    ['binary garbage', '\u0000\u00ff\u00fe garbage'],
    ['the wrong shape', '{"token":"x","expires":"soon"}'],
    ['empty', ''],
  ])('%s: ignored, reported under --verbose, rebuilt', async (_name, contents) => {
    const w = await loggedIn('chartmetric');
    await writeFile(cachePath(w), contents);
    const r = await w.run(['get', 'chartmetric', '--verbose']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/ignoring damaged chartmetric token cache/);
    const rebuilt = JSON.parse(await readFile(cachePath(w), 'utf8')) as Record<string, unknown>;
    expect(rebuilt).toMatchObject({ access_token: r.stdout.trim() });
    // Quiet without --verbose, and answered from the rebuilt cache.
    const again = await w.run(['get', 'chartmetric']);
    expect(again).toMatchObject({ code: 0, stdout: r.stdout, stderr: '' });
  });

  it(`truncated, with ${N} parallel gets: one request, the same token for all`, { timeout: 60_000 }, async () => {
    const w = await loggedIn('soundcloud-user');
    await mkdir(dirname(cachePath(w)), { recursive: true });
    await writeFile(cachePath(w), '{"access_token":"scl_at_');
    w.server.delayMs = 300;
    const since = Date.now();
    const { results } = await parallel(w, N, ['get', 'soundcloud']);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    expect(new Set(results.map((r) => r.stdout)).size).toBe(1);
    expect(tokenRequests(w, since)).toHaveLength(1);
    expect(w.server.violations).toEqual([]);
    expect(JSON.parse(await readFile(cachePath(w), 'utf8'))).toMatchObject({ access_token: results[0]!.stdout.trim() });
  });
});
