// Many machines, one login: `tokens` processes on several "machines" (each its own HOME and XDG
// directories) sharing one real redis-server. One login anywhere serves all; at expiry one token
// request for the whole fleet; faults (a lease holder killed or paused, Redis stopped and restarted,
// a wrong passphrase) end in the contract's exit codes with the chain intact; Redis never holds a
// secret or token in the clear, and the Redis URL never shows up in output, argv or a child's environment.
import { readFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useFleets, type Fleet } from '../support/fleet.js';
import { Gate } from '../support/gate.js';
import { Sandbox } from '../support/cli.js';
import { RedisServer, startErrorRedis } from '../support/redis.js';
import {
  ageLoginCheck,
  cachePath,
  expireCache,
  login,
  random,
  tokenRequests,
  type Setup,
  type World,
} from '../support/worlds.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis?.dispose();
});
const fleet = useFleets(() => redis);

/** At expiry on every machine: the shared token gone, every local cache expired. */
async function atExpiry(f: Fleet): Promise<void> {
  const c = redis.client();
  await c.del(f.key('token'));
  c.disconnect();
  for (const m of f.machines) await expireCache(m, { ifCached: true });
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function leaseHeld(f: Fleet): Promise<boolean> {
  const c = redis.client();
  try {
    return (await c.exists(f.key('lease'))) === 1;
  } finally {
    c.disconnect();
  }
}

async function bundle(f: Fleet): Promise<Record<string, string>> {
  const c = redis.client();
  try {
    return await c.hgetall(f.key('secrets'));
  } finally {
    c.disconnect();
  }
}

/** Neither Redis nor any output or file of any machine holds a secret (printed tokens allowed on stdout of get). */
async function expectNoLeaks(f: Fleet, printed: string[], allowedOutputs: string[] = []): Promise<void> {
  const dump = await redis.dump();
  for (const s of [...f.secrets(), ...printed]) {
    expect(dump.includes(s), `Redis holds ${s.slice(0, 6)}…`).toBe(false);
    expect(dump.includes(Buffer.from(s).toString('base64')), `Redis holds ${s.slice(0, 6)}… (base64)`).toBe(false);
  }
  for (const m of f.machines) expect(await m.sandbox.findSecrets(f.secrets(), allowedOutputs)).toEqual([]);
}

const SETUPS: Array<{ setup: Setup; grant: string }> = [
  { setup: 'soundcloud-user', grant: 'refresh_token' },
  { setup: 'soundcloud-app', grant: 'client_credentials' },
  { setup: 'soundcharts', grant: 'client_credentials' },
  { setup: 'chartmetric', grant: 'refresh_token' },
];

describe('5 machines × 10 parallel `tokens get` at expiry', () => {
  it.each(SETUPS)(
    '$setup: one token request, one token everywhere, the chain alive',
    { timeout: 300_000 },
    async ({ setup, grant }) => {
      const f = await fleet(setup, 5);
      await atExpiry(f);
      const since = Date.now();
      f.server.delayMs = 300;

      const started = Date.now();
      const results = await Promise.all(
        f.machines.flatMap((m) => Array.from({ length: 10 }, () => m.run(['get', m.provider]))),
      );
      console.log(`${setup}: 50 gets on 5 machines in ${Date.now() - started} ms`);

      for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      const printed = new Set(results.map((r) => r.stdout));
      expect(printed.size).toBe(1);
      const token = [...printed][0]!.trim();
      expect(tokenRequests(f.machines[0]!, since)).toHaveLength(1);
      expect(f.server.issued.at(-1)).toMatchObject({ grantType: grant, accessToken: token });
      expect(f.server.violations).toEqual([]);
      for (const m of f.machines)
        expect(JSON.parse(await readFile(cachePath(m), 'utf8'))).toMatchObject({ access_token: token });

      // The chain is alive, from a machine that never logged in.
      f.server.delayMs = 0;
      const again = await f.machines[3]!.run(['get', f.machines[3]!.provider, '--force-refresh']);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout.trim()).not.toBe(token);
      expect(tokenRequests(f.machines[0]!, since)).toHaveLength(2);
      expect(f.server.violations).toEqual([]);
      await expectNoLeaks(f, [token, again.stdout.trim()], [...results.map((r) => r.stdout), again.stdout]);
    },
  );
});

describe('faults', () => {
  it('the lease holder SIGKILLed mid-refresh: the others finish after its lease runs out, with one more request', {
    timeout: 120_000,
  }, async () => {
    const f = await fleet('soundcloud-user', 3);
    await atExpiry(f);
    const since = Date.now();
    f.server.fault('soundcloud', { kind: 'hang' });
    const [a, ...others] = f.machines;
    const holder = a!.sandbox.start(['get', 'soundcloud'], { env: a!.env, timeoutMs: 100_000 });
    await waitFor(() => tokenRequests(a!, since).length === 1, 30_000, "the holder's request");
    const waiting = others.flatMap((m) => [m.run(['get', 'soundcloud']), m.run(['get', 'soundcloud'])]);
    await waitFor(() => leaseHeld(f), 5_000, 'the lease');
    const killedAt = Date.now();
    holder.child.kill('SIGKILL');
    const results = await Promise.all(waiting);
    console.log(`soundcloud-user: the others done ${Date.now() - killedAt} ms after SIGKILL of the lease holder`);
    for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(new Set(results.map((r) => r.stdout)).size).toBe(1);
    // The hung request was never processed: the one after it spent the refresh token, once.
    expect(tokenRequests(a!, since)).toHaveLength(2);
    expect(f.server.violations).toEqual([]);
  });

  describe('a holder SIGSTOPped past its lease while another machine rotates, then resumed', () => {
    /** Machine A's get, its request held at a gate; A stopped; its lease run out; B refreshed. */
    async function pausedHolder(f: Fleet) {
      const [a, b] = f.machines as [World, World];
      await atExpiry(f);
      const gate = await Gate.start(f.server.url);
      const tokenUrl = a.provider === 'chartmetric' ? 'TOKENS_CHARTMETRIC_TOKEN_URL' : 'TOKENS_SOUNDCLOUD_TOKEN_URL';
      const path = new URL(a.env[tokenUrl]!).pathname;
      // A long HTTP timeout: the pause must not turn into a timeout and a retry when A resumes.
      const paused = a.sandbox.start(['get', a.provider], {
        env: { ...a.env, [tokenUrl]: `${gate.url}${path}`, TOKENS_HTTP_TIMEOUT: '60' },
        timeoutMs: 100_000,
      });
      await waitFor(() => gate.waiting === 1, 30_000, "A's request at the gate");
      process.kill(paused.child.pid!, 'SIGSTOP');
      await waitFor(async () => !(await leaseHeld(f)), 30_000, "A's lease to run out");
      const since = Date.now();
      const other = await b.run(['get', b.provider]);
      expect(other.code, other.stderr).toBe(0);
      const spent = tokenRequests(b, since)[0]!;
      return { a, b, gate, paused, other, spent, newer: await bundle(f) };
    }

    it('chartmetric keeping the old refresh token usable: the late exchange succeeds, its compare-and-set fails (exit 6), the newer bundle stays', {
      timeout: 120_000,
    }, async () => {
      const f = await fleet('chartmetric', 3);
      const { gate, paused, other, spent, newer } = await pausedHolder(f);
      // Like a provider with a grace period for the previous refresh token.
      const old = (spent.json as { refreshtoken: string }).refreshtoken;
      f.server.chartmetric.addRefreshToken(old);
      const since = Date.now();
      await gate.open();
      expect(tokenRequests(f.machines[0]!, since).map((r) => r.status)).toEqual([200]);
      process.kill(paused.child.pid!, 'SIGCONT');
      const late = await paused.result;
      await gate.close();
      expect(late.code).toBe(6);
      expect(late.stderr).toMatch(
        /answered this process's refresh after it had lost the refresh lock .* another process has rotated the credentials since; the newer ones were kept/,
      );
      expect(late.stdout).toBe('');
      expect(await bundle(f)).toEqual(newer);
      // The chain is alive: the next refresh, anywhere, uses the newer bundle.
      const next = await f.machines[2]!.run(['get', 'chartmetric', '--force-refresh']);
      expect(next.code, next.stderr).toBe(0);
      expect(next.stdout).not.toBe(other.stdout);
      expect(f.server.violations).toEqual([]);
    });

    it('soundcloud (single-use): the late exchange is refused, a clear exit 6, nothing overwritten', {
      timeout: 120_000,
    }, async () => {
      const f = await fleet('soundcloud-user', 2);
      const { gate, paused, newer } = await pausedHolder(f);
      const since = Date.now();
      await gate.open();
      expect(tokenRequests(f.machines[0]!, since).map((r) => r.status)).toEqual([400]);
      process.kill(paused.child.pid!, 'SIGCONT');
      const late = await paused.result;
      await gate.close();
      expect(late.code).toBe(6);
      expect(late.stderr).toMatch(
        /lost the refresh lock for soundcloud .* SoundCloud refused the refresh token it sent, which another process had already used; nothing was written/,
      );
      expect(await bundle(f)).toEqual(newer);
      // What no lock can prevent: the provider saw a spent single-use token (and, by RFC 9700, revoked the family).
      expect(f.server.violations.join('\n')).toMatch(/reuse|spent|rotated/i);
    });
  });

  it('Redis stopped: warm caches still answer, a refresh is a bounded exit 6 naming HOST:PORT; restarted from its AOF: works again, no new login', {
    timeout: 120_000,
  }, async () => {
    const own = await RedisServer.start();
    const f = await useOwn(own, 'chartmetric');
    try {
      const [a, b, c] = f.machines as [World, World, World];
      const before = await a.run(['get', 'chartmetric']);
      expect(before.code, before.stderr).toBe(0);
      expect((await b.run(['get', 'chartmetric'])).stdout).toBe(before.stdout);
      await own.stop();
      // Warm local caches answer without Redis.
      for (const m of [a, b]) {
        const warm = await m.run(['get', 'chartmetric']);
        expect({ code: warm.code, stderr: warm.stderr }).toEqual({ code: 0, stderr: '' });
      }
      // A machine that needs Redis: exit 6 naming HOST:PORT and nothing else of the URL.
      const cold = await c.run(['get', 'chartmetric'], { env: { TOKENS_REDIS_TIMEOUT: '2' } });
      expect(cold.code).toBe(6);
      expect(cold.stderr).toContain(`Redis at ${own.address}`);
      expect(cold.stderr).not.toContain(own.password);
      await expireCache(a);
      const expired = await a.run(['get', 'chartmetric'], { env: { TOKENS_REDIS_TIMEOUT: '2' } });
      expect(expired.code).toBe(6);
      expect(expired.stderr).toContain(own.address);

      await own.restart();
      const since = Date.now();
      // The shared token came back from the AOF: no request, no login.
      const back = await a.run(['get', 'chartmetric']);
      expect(back.code, back.stderr).toBe(0);
      expect(back.stdout).toBe(before.stdout);
      expect((await c.run(['get', 'chartmetric'])).stdout).toBe(before.stdout);
      expect(tokenRequests(a, since)).toEqual([]);
      // And so did the refresh token (rotated at login): a forced refresh works.
      const forced = await c.run(['get', 'chartmetric', '--force-refresh']);
      expect(forced.code, forced.stderr).toBe(0);
      expect(tokenRequests(a, since).map((r) => r.status)).toEqual([200]);
      expect(f.server.violations).toEqual([]);
    } finally {
      await own.dispose();
    }
  });

  it('a wrong passphrase on one machine: exit 6, nothing overwritten for the others', {
    timeout: 120_000,
  }, async () => {
    const f = await fleet('soundcloud-user', 2);
    await atExpiry(f);
    const before = await redis.dump();
    const wrong = await f.machines[1]!.run(['get', 'soundcloud'], { env: { TOKENS_PASSPHRASE: 'not the passphrase' } });
    expect(wrong.code).toBe(6);
    expect(wrong.stderr).toMatch(/wrong TOKENS_PASSPHRASE/);
    const relogin = await f.machines[1]!.run(['logout', 'soundcloud'], {
      env: { TOKENS_PASSPHRASE: 'not the passphrase' },
    });
    expect(relogin.code).toBe(6);
    // status leads with the cause, and does not send the machine to log in again (first hour 11).
    const status = await f.machines[1]!.run(['status'], { env: { TOKENS_PASSPHRASE: 'not the passphrase' } });
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^The secret store could not be read \(.*wrong TOKENS_PASSPHRASE/);
    expect(status.stdout).not.toMatch(/No provider is configured|tokens login/);
    expect(await redis.dump()).toBe(before);
    const right = await f.machines[1]!.run(['get', 'soundcloud']);
    expect(right.code, right.stderr).toBe(0);
  });
});

describe('status, logout, exec: the shared store as people see it', () => {
  it('status names redis (HOST:PORT); logout logs every machine out; the URL never shows up in output, argv or a child environment', {
    timeout: 120_000,
  }, async () => {
    const f = await fleet('chartmetric', 3);
    const [a, b, c] = f.machines as [World, World, World];
    const status = await b.run(['status']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain(`redis (${redis.address})`);
    expect(status.stderr).toBe('');
    const json = JSON.parse((await b.run(['status', '--json'])).stdout) as {
      store: string;
      providers: Array<{ provider: string; configured: boolean }>;
    };
    expect(json.store).toBe(`redis (${redis.address})`);
    expect(json.providers.find((p) => p.provider === 'chartmetric')?.configured).toBe(true);

    // exec's child sees the token, not the Redis URL or the passphrase; no process's argv holds them.
    await atExpiry(f);
    f.server.delayMs = 1500;
    const argvSeen: string[] = [];
    const running = c.run([
      'exec',
      '--provider',
      'chartmetric',
      '--',
      process.execPath,
      '-e',
      'process.stdout.write(JSON.stringify(process.env))',
    ]);
    let done = false;
    void running.then(() => (done = true));
    while (!done) {
      for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        try {
          argvSeen.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
        } catch {
          // gone
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const exec = await running;
    expect(exec.code, exec.stderr).toBe(0);
    const childEnv = JSON.parse(exec.stdout) as Record<string, string>;
    expect(childEnv.CHARTMETRIC_ACCESS_TOKEN).toBeTruthy();
    expect(childEnv.TOKENS_REDIS_URL).toBeUndefined();
    expect(childEnv.TOKENS_PASSPHRASE).toBeUndefined();
    expect(exec.stdout).not.toContain(redis.password);
    expect(argvSeen.some((cmd) => cmd.includes('tokens.js'))).toBe(true);
    expect(argvSeen.filter((cmd) => cmd.includes(redis.password) || cmd.includes(f.passphrase))).toEqual([]);
    f.server.delayMs = 0;

    const out = await a.run(['logout', 'chartmetric']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toMatch(
      new RegExp(
        `from the shared redis \\(${redis.address.replace(/\./g, '\\.')}\\) store: every machine using it is logged out`,
      ),
    );
    const gone = await b.run(['get', 'chartmetric']);
    expect(gone.code).toBe(3);
    const dump = await redis.dump();
    expect(dump).not.toContain(`${f.prefix}default:chartmetric:secrets`);
    expect(dump).not.toContain(`${f.prefix}default:chartmetric:token`);
    await expectNoLeaks(f, [], [exec.stdout]);
  });

  it('exec without --provider on a machine that never logged in uses the shared settings (first hour 4)', {
    timeout: 120_000,
  }, async () => {
    const f = await fleet('chartmetric', 2);
    const b = f.machines[1]!;
    const printEnv = ['--', process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.env))'];
    // Cold (the shared token), then warm (this machine's cache), then by the full program.
    for (const env of [{}, {}, { TOKENS_NO_FAST_PATH: '1' }]) {
      const run = await b.run(['exec', ...printEnv], { env });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toBe('');
      const child = JSON.parse(run.stdout) as Record<string, string>;
      expect(child.CHARTMETRIC_ACCESS_TOKEN).toMatch(/\S/);
      expect(child).not.toHaveProperty('SOUNDCLOUD_ACCESS_TOKEN');
    }
  });

  it('status warns on stderr when the server keeps no persistence', { timeout: 60_000 }, async () => {
    const bare = await RedisServer.start({ aof: false, save: '' });
    try {
      const f = await useOwn(bare, 'soundcharts');
      const status = await f.machines[1]!.run(['status']);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stderr).toMatch(
        new RegExp(`warning: Redis at ${bare.address.replace(/\./g, '\\.')} keeps no persistence`),
      );
    } finally {
      await bare.dispose();
    }
  });
});

describe('a local cache does not outlive the shared login it came from (hostile 6, first hour 2)', () => {
  const bothPaths = [{}, { TOKENS_NO_FAST_PATH: '1' }];

  it('after a logout on A, a login there, or a refusal seen there, B never prints the old token once its minute is up', {
    timeout: 120_000,
  }, async () => {
    const f = await fleet('chartmetric', 2);
    const [a, b] = f.machines as [World, World];
    const first = await b.run(['get', 'chartmetric']);
    expect(first.code, first.stderr).toBe(0);
    const since = Date.now();
    // Warm on B: both paths answer from B's cache, no request.
    for (const env of bothPaths) expect((await b.run(['get', 'chartmetric'], { env })).stdout).toBe(first.stdout);
    expect(tokenRequests(a, since)).toEqual([]);

    // A logs out: every machine is logged out. Within the minute B's warm get reads its file only
    // (the contract: a warm get never contacts Redis); once the minute is up, B asks and finds it gone.
    expect((await a.run(['logout', 'chartmetric'])).code).toBe(0);
    expect((await b.run(['get', 'chartmetric'])).stdout).toBe(first.stdout);
    await ageLoginCheck(b);
    for (const env of bothPaths) {
      const gone = await b.run(['get', 'chartmetric'], { env });
      expect({ code: gone.code, stdout: gone.stdout }).toEqual({ code: 3, stdout: '' });
    }

    // A logs in again (another refresh token): B gets the new login's token, not its cached one.
    const next = random('cm_rt_next_');
    f.server.chartmetric.addRefreshToken(next);
    await login(a, { refreshToken: next });
    const shared = await a.run(['get', 'chartmetric']);
    expect(shared.stdout).not.toBe(first.stdout);
    for (const env of bothPaths) {
      const fresh = await b.run(['get', 'chartmetric'], { env });
      expect({ code: fresh.code, stdout: fresh.stdout }).toEqual({ code: 0, stdout: shared.stdout });
    }

    // The provider refuses the login on A: B stops using its cached token too, and says so.
    f.server.fault('chartmetric', { status: 400, body: { error: 'invalid_grant' } });
    const refused = await a.run(['get', 'chartmetric', '--force-refresh']);
    expect(refused.code).toBe(4);
    await ageLoginCheck(b);
    for (const env of bothPaths) {
      const stale = await b.run(['get', 'chartmetric'], { env });
      expect({ code: stale.code, stdout: stale.stdout }).toEqual({ code: 4, stdout: '' });
      expect(stale.stderr).toContain('tokens login chartmetric');
      expect((await b.run(['status', 'chartmetric'], { env })).code).toBe(4);
    }
    expect(f.server.violations).toEqual([]);
  });

  it('a confirmed login is asked about at most once a minute: the confirmation is recorded in the entry', {
    timeout: 120_000,
  }, async () => {
    const f = await fleet('chartmetric', 2);
    const [, b] = f.machines as [World, World];
    const first = await b.run(['get', 'chartmetric']);
    expect(first.code, first.stderr).toBe(0);
    const checked = JSON.parse(await readFile(cachePath(b), 'utf8')) as { login?: string; login_checked_at?: number };
    expect(checked.login).toMatch(/^[0-9a-f]{32}$/);
    expect(Math.abs(Date.now() - checked.login_checked_at!)).toBeLessThan(60_000);
    // Past the minute, the full program asks and records the confirmation in the entry.
    await ageLoginCheck(b);
    const aged = JSON.parse(await readFile(cachePath(b), 'utf8')) as { login_checked_at: number };
    const again = await b.run(['get', 'chartmetric']);
    expect(again.stdout).toBe(first.stdout);
    const confirmed = JSON.parse(await readFile(cachePath(b), 'utf8')) as { login_checked_at: number };
    expect(confirmed.login_checked_at).toBeGreaterThan(aged.login_checked_at);
  });
});

/** A fleet on a Redis server of the test's own (one it stops, or one without persistence). */
const ownFleet = useFleets(() => currentOwn!);
let currentOwn: RedisServer | undefined;
async function useOwn(server: RedisServer, setup: Setup): Promise<Fleet> {
  currentOwn = server;
  return ownFleet(setup, 3);
}

describe('a hostile Redis server', () => {
  it('its error text reaches get, status and logout cleaned: no escape sequences, no forged line, no passphrase', async () => {
    const passphrase = 'hostile redis passphrase 4f1c';
    const hostile = await startErrorRedis(
      `ERR \u001b]0;pwned\u0007\u001b[2K\u001b[1Gtokens: forged, passphrase ${passphrase}`,
    );
    const sandbox = await Sandbox.create();
    try {
      const env = { TOKENS_STORE: 'redis', TOKENS_REDIS_URL: hostile.url, TOKENS_PASSPHRASE: passphrase };
      const runs = [
        await sandbox.run(['get', 'chartmetric'], { env }),
        await sandbox.run(['status'], { env }),
        await sandbox.run(['logout', 'chartmetric'], { env }),
      ];
      expect(runs.map((r) => r.code)).toEqual([6, 0, 6]);
      const says = `Redis at ${hostile.address} answered with an error (ERR ]0;pwned [2K [1Gtokens: forged, passphrase [redacted])`;
      for (const r of runs) {
        expect(r.stderr).toContain(says);
        expect(r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
        // Every line on stderr is one of ours, from its start.
        for (const line of r.stderr.trimEnd().split('\n')) expect(line).toMatch(/^(tokens|note): /);
      }
      expect(await sandbox.findSecrets([passphrase])).toEqual([]);
      expect(hostile.commands()).toBeGreaterThan(0);
    } finally {
      await hostile.close();
      await sandbox.dispose();
    }
  });
});
