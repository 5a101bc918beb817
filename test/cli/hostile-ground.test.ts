// Hostile ground through the real CLI: a hostile local user (links, loose modes, FIFOs), a broken disk (an
// unwritable store or state directory), a misbehaving provider (echoed secrets, injected headers, huge
// answers and lifetimes) and a wrong clock (faketime). Every world ends with a scan for every secret
// the CLI held, in every output and file.
import { execFileSync, spawn } from 'node:child_process';
import { chmod, lstat, mkdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, type CliResult } from '../support/cli.js';
import { cachePath, expireCache, tokenRequests, secretsSeen, useWorlds, type World } from '../support/worlds.js';

const PASSPHRASE = 'hardening passphrase 13';
const worlds = useWorlds({
  passphrase: PASSPHRASE,
  beforeDispose: async (w) => expect(await w.sandbox.findSecrets(secretsSeen(w))).toEqual([]),
});

const home = (w: World, ...parts: string[]) => join(w.sandbox.home, ...parts);
const mode = async (path: string) => (await stat(path)).mode & 0o777;
const liveChartmetric = (w: World) => w.server.liveRefreshTokens('chartmetric');

/** Runs `command` (then `node BIN args`) and records its output in the sandbox like a normal run. */
function runWrapped(w: World, command: string[], args: string[], what: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = { ...w.sandbox.baseEnv(), ...w.env };
    const child = spawn(command[0]!, [...command.slice(1), process.execPath, BIN, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', () => reject(new Error(what)));
    child.on('close', (code, signal) => {
      w.sandbox.outputs.push(stdout, stderr);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The CLI under faketime (libfaketime: the process's clock `offset` off, e.g. '+1h'). */
const runFaked = (w: World, offset: string, args: string[]) =>
  runWrapped(w, ['faketime', '-f', offset], args, 'faketime is needed for the clock tests (Debian: faketime)');

/**
 * The CLI in a mount namespace of its own (unshare, as root) where `setup` (a shell script, with the
 * data directory as $D) has changed the mounts first: a read-only or a full file system for real.
 */
const runWithMounts = (w: World, setup: string, args: string[]) =>
  runWrapped(
    w,
    ['unshare', '-m', 'sh', '-c', `set -e; D='${home(w, '.local/share/tokens')}'; ${setup}; exec "$@"`, 'sh'],
    args,
    'unshare (util-linux) is needed',
  );

describe('a hostile local user', () => {
  it('a link planted at the cache path is replaced, its target untouched', async () => {
    const w = await worlds.loggedIn('chartmetric');
    const victim = home(w, 'victim.txt');
    await writeFile(victim, 'do not overwrite\n', { mode: 0o644 });
    await rm(cachePath(w));
    await symlink(victim, cachePath(w));
    const r = await w.run(['get', 'chartmetric']);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(victim, 'utf8')).toBe('do not overwrite\n');
    const info = await lstat(cachePath(w));
    expect({ file: info.isFile(), mode: info.mode & 0o777 }).toEqual({ file: true, mode: 0o600 });
    expect(JSON.parse(await readFile(cachePath(w), 'utf8'))).toMatchObject({ access_token: r.stdout.trim() });
  });

  it('loose directories are tightened, a group/other-writable cache file is never served', async () => {
    const w = await worlds.loggedIn('chartmetric');
    const dirs = [
      home(w, '.cache/tokens'),
      home(w, '.cache/tokens/default'),
      home(w, '.local/state/tokens'),
      home(w, '.local/state/tokens/default'),
      home(w, '.config/tokens'),
      home(w, '.local/share/tokens'),
    ];
    for (const d of dirs) await chmod(d, 0o777);
    await chmod(home(w, '.config/tokens/config.json'), 0o644);
    await chmod(cachePath(w), 0o666);
    const cached = JSON.parse(await readFile(cachePath(w), 'utf8')) as { access_token: string };
    const since = Date.now();
    // Warm: the fast path must not serve it; the full program mints afresh and replaces the file.
    const r = await w.run(['get', 'chartmetric']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).not.toBe(cached.access_token);
    expect(tokenRequests(w, since)).toHaveLength(1);
    for (const d of dirs) expect([d, await mode(d)]).toEqual([d, 0o700]);
    expect(await mode(home(w, '.config/tokens/config.json'))).toBe(0o600);
    expect(await mode(cachePath(w))).toBe(0o600);
    // A config writable by others is refused, naming it; never exit 1.
    await chmod(home(w, '.config/tokens/config.json'), 0o666);
    const refused = await w.run(['status']);
    expect(refused.code).toBe(6);
    expect(refused.stderr).toContain(
      `refusing to use ${home(w, '.config/tokens/config.json')}: it is writable by group or others`,
    );
  });

  it('a directory of ours that is a symbolic link is refused with exit 6', async () => {
    const w = await worlds.loggedIn('chartmetric');
    await expireCache(w);
    const elsewhere = home(w, 'elsewhere');
    await mkdir(elsewhere);
    await rm(home(w, '.local/state/tokens'), { recursive: true });
    await symlink(elsewhere, home(w, '.local/state/tokens'));
    const r = await w.run(['get', 'chartmetric']);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 6, stdout: '' });
    expect(r.stderr).toContain(`refusing to use ${home(w, '.local/state/tokens')}: it is a symbolic link`);
  });

  it('a FIFO at the cache path hangs nothing: get, get --force-refresh and status', async () => {
    const w = await worlds.loggedIn('chartmetric');
    await rm(cachePath(w));
    execFileSync('mkfifo', ['-m', '600', cachePath(w)]);
    const status = await w.run(['status', '--json'], { timeoutMs: 30_000 });
    expect(status.code, status.stderr).toBe(0);
    expect(
      JSON.parse(status.stdout).providers.find((p: { provider: string }) => p.provider === 'chartmetric'),
    ).toMatchObject({ token_expires_at: null });
    execFileSync('mkfifo', ['-m', '600', `${home(w, '.local/state/tokens/default/chartmetric.lock')}.failure.json`]);
    for (const args of [
      ['get', 'chartmetric', '--force-refresh'],
      ['get', 'chartmetric'],
    ]) {
      const r = await w.run(args, { timeoutMs: 30_000 });
      expect(r.code, r.stderr).toBe(0);
      expect((await lstat(cachePath(w))).isFile()).toBe(true);
    }
  });
});

describe('a broken disk', () => {
  it('an unwritable file store is found before the rotating refresh token is sent', async () => {
    const w = await worlds.loggedIn('chartmetric');
    const liveBefore = liveChartmetric(w);
    const blocker = home(w, '.local/share/tokens/secrets.enc.lock');
    await writeFile(blocker, 'not a lock directory\n');
    await utimes(blocker, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    const since = Date.now();
    const r = await w.run(['get', 'chartmetric', '--force-refresh']);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 6, stdout: '' });
    expect(r.stderr).toContain('secrets.enc');
    expect(tokenRequests(w, since)).toEqual([]);
    expect(liveChartmetric(w)).toEqual(liveBefore);
    await rm(blocker);
    const again = await w.run(['get', 'chartmetric', '--force-refresh']);
    expect(again.code, again.stderr).toBe(0);
    expect(w.server.violations).toEqual([]);
  });

  it.each([
    [
      'read-only',
      'mount --bind "$D" "$D"; mount -o remount,bind,ro "$D"',
      /secrets\.enc.*: read-only file system \(EROFS\)/,
    ],
    [
      'full',
      'cp "$D/secrets.enc" /tmp/tokens-secrets.$$; mount -t tmpfs -o size=512k,mode=700 tmpfs "$D"; cp /tmp/tokens-secrets.$$ "$D/secrets.enc"; rm /tmp/tokens-secrets.$$; dd if=/dev/zero of="$D/filler" bs=4k 2>/dev/null || true',
      /secrets\.enc.*no space left on the device|tokens: no space left on the device/,
    ],
  ] as const)(
    'a %s data directory is found before the single-use SoundCloud token is sent',
    async (_name, setup, says) => {
      const w = await worlds.loggedIn('soundcloud-user');
      const liveBefore = w.server.liveRefreshTokens('soundcloud');
      const since = Date.now();
      const r = await runWithMounts(w, setup, ['get', 'soundcloud', '--force-refresh']);
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 6, stdout: '' });
      expect(r.stderr).toMatch(says);
      expect(tokenRequests(w, since)).toEqual([]);
      expect(w.server.liveRefreshTokens('soundcloud')).toEqual(liveBefore);
    },
  );

  it('a state directory that is not a directory: get, login and logout exit 6 naming it', async () => {
    const w = await worlds.loggedIn('chartmetric');
    await expireCache(w);
    const state = home(w, '.local/state/tokens');
    await rm(state, { recursive: true });
    await writeFile(state, 'not a directory\n');
    const runs = [
      await w.run(['get', 'chartmetric']),
      await w.run(['login', 'chartmetric'], { env: { TOKENS_CHARTMETRIC_REFRESH_TOKEN: liveChartmetric(w)[0]! } }),
      await w.run(['logout', 'chartmetric']),
    ];
    for (const r of runs) {
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 6, stdout: '' });
      expect(r.stderr).toContain(`refusing to use ${state}: it is not a directory`);
    }
    // Its parent not a directory either: still 6, naming the directory.
    await rm(state);
    await rm(home(w, '.local/state'), { recursive: true });
    await writeFile(home(w, '.local/state'), 'x');
    const r = await w.run(['get', 'chartmetric']);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain(`cannot use the directory ${state}`);
    expect(r.stderr).toContain('ENOTDIR');
  });
});

describe('a misbehaving provider', () => {
  it('an error description echoing the refresh token that was sent is printed redacted', async () => {
    const w = await worlds.loggedIn('chartmetric');
    await expireCache(w);
    const [refresh] = liveChartmetric(w);
    w.server.fault('chartmetric', {
      status: 401,
      body: { error: 'invalid_grant', error_description: `refresh token ${refresh} was revoked` },
    });
    const r = await w.run(['get', 'chartmetric']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('refresh token [redacted] was revoked');
  });

  it('Soundcharts echoing the client secret (and its Basic credential)', async () => {
    const w = await worlds.loggedIn('soundcharts');
    await expireCache(w);
    const secret = w.secrets[1]!;
    const basic = Buffer.from(`sc-client:${secret}`).toString('base64');
    w.server.fault('soundcharts', {
      status: 401,
      body: { error: 'invalid_client', error_description: `secret ${secret} / Basic ${basic} refused` },
    });
    const r = await w.run(['get', 'soundcharts']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('secret [redacted] / Basic [redacted] refused');
  });

  it('a token with a header injected: exit 5, nothing printed or cached', async () => {
    const w = await worlds.loggedIn('chartmetric');
    await expireCache(w);
    const before = await readFile(cachePath(w), 'utf8');
    w.server.fault('chartmetric', {
      status: 200,
      body: { token: 'abc\nX-Injected: yes\r\n\u001b[2J', expires_in: 3600 },
    });
    const r = await w.run(['get', 'chartmetric', '--format', 'header']);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 5, stdout: '' });
    expect(r.stderr).toMatch(
      /Chartmetric answered an access token with characters a bearer token cannot have \(RFC 6750\)/,
    );
    expect(r.stderr).not.toContain('Injected');
    expect(await readFile(cachePath(w), 'utf8')).toBe(before);
  });

  it('a huge expires_in is exit 5, and the refresh token it rotated is kept', async () => {
    const w = await worlds.loggedIn('chartmetric');
    w.server.chartmetric.expiresIn = 1e13;
    const r = await w.run(['get', 'chartmetric', '--force-refresh']);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 5, stdout: '' });
    expect(r.stderr).toContain('expires_in');
    w.server.chartmetric.expiresIn = 3600;
    const again = await w.run(['get', 'chartmetric', '--force-refresh']);
    expect(again.code, again.stderr).toBe(0);
    expect(w.server.violations).toEqual([]);
  });

  it('a cache with an expiry of 1e300 does not break status or --format json', async () => {
    const w = await worlds.loggedIn('chartmetric');
    const cached = JSON.parse(await readFile(cachePath(w), 'utf8')) as Record<string, unknown>;
    await writeFile(cachePath(w), JSON.stringify({ ...cached, expires_at: 1e300, obtained_at: undefined }), {
      mode: 0o600,
    });
    const status = await w.run(['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    const json = await w.run(['get', 'chartmetric', '--format', 'json']);
    expect(json.code, json.stderr).toBe(0);
    expect(new Date(JSON.parse(json.stdout).expires_at).getFullYear()).toBeLessThan(3000);
  });

  it('a 2 MB answer and a 50 KB token are exit 5', async () => {
    const w = await worlds.loggedIn('chartmetric');
    await expireCache(w);
    w.server.fault('chartmetric', { status: 200, body: `{"token":"${'a'.repeat(2_000_000)}","expires_in":3600}` });
    const big = await w.run(['get', 'chartmetric']);
    expect({ code: big.code, stdout: big.stdout }).toEqual({ code: 5, stdout: '' });
    expect(big.stderr).toContain('body over 1 MB');
    w.server.fault('chartmetric', { status: 200, body: { token: 'a'.repeat(50_000), expires_in: 3600 } });
    const long = await w.run(['get', 'chartmetric']);
    expect({ code: long.code, stdout: long.stdout }).toEqual({ code: 5, stdout: '' });
    expect(long.stderr).toContain('longer than 16384 characters');
  });

  it('"mode":"banana" for Soundcharts is exit 2 naming the field', async () => {
    const w = await worlds.loggedIn('soundcharts');
    const file = home(w, '.config/tokens/config.json');
    const config = JSON.parse(await readFile(file, 'utf8'));
    config.profiles.default.soundcharts.mode = 'banana';
    await writeFile(file, JSON.stringify(config), { mode: 0o600 });
    await expireCache(w);
    const r = await w.run(['get', 'soundcharts']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('field "profiles.default.soundcharts.mode"');
  });
});

describe('time', () => {
  it('--min-ttl longer than the lifetime is exit 2 every time, with no mint', async () => {
    const w = await worlds.loggedIn('chartmetric');
    const since = Date.now();
    for (let i = 0; i < 3; i++) {
      const r = await w.run(['get', 'chartmetric', '--min-ttl', '7200']);
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
      expect(r.stderr).toContain('--min-ttl 7200 is longer than the lifetime of Chartmetric tokens (3600 s)');
    }
    expect(tokenRequests(w, since)).toEqual([]);
  });

  it('30-second tokens without --min-ttl are served from the cache, not minted on every get', async () => {
    const w = await worlds.loggedIn('chartmetric');
    w.server.chartmetric.expiresIn = 30;
    const first = await w.run(['get', 'chartmetric', '--force-refresh']);
    expect(first.code, first.stderr).toBe(0);
    const since = Date.now();
    const next = await w.run(['get', 'chartmetric']);
    expect(next).toMatchObject({ code: 0, stdout: first.stdout });
    expect(tokenRequests(w, since)).toEqual([]);
  });

  it('a token minted while the clock was an hour ahead is stale once the clock is right', async () => {
    const w = await worlds.loggedIn('chartmetric');
    const ahead = await runFaked(w, '+1h', ['get', 'chartmetric', '--force-refresh']);
    expect(ahead.code, ahead.stderr).toBe(0);
    const status = await w.run(['status', 'chartmetric', '--json']);
    expect(JSON.parse(status.stdout).providers[0]).toMatchObject({ token_expired: true });
    const since = Date.now();
    const r = await w.run(['get', 'chartmetric']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toBe(ahead.stdout);
    expect(tokenRequests(w, since)).toHaveLength(1);
  });

  it('a failure recorded while the clock was ahead does not block later refreshes', async () => {
    const w = await worlds.loggedIn('chartmetric');
    w.server.faultAlways('chartmetric', { status: 503 });
    const failed = await runFaked(w, '+1h', ['get', 'chartmetric', '--force-refresh']);
    expect(failed.code).toBe(5);
    w.server.clearFaults();
    const since = Date.now();
    const r = await w.run(['get', 'chartmetric', '--force-refresh']);
    expect(r.code, r.stderr).toBe(0);
    expect(tokenRequests(w, since).map((q) => q.status)).toEqual([200]);
  });
});
