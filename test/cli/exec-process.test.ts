// What the command of `tokens exec` inherits from tokens, after a run that had work to do first: the
// cached token expired, so the fast path claimed the refresh and handed over to the full program,
// which opened the store, took the lock, refreshed and wrote --verbose lines to stderr. None of that
// may follow the command: no descriptor, no lock or claim left behind, the standard streams as they
// were (blocking), and — where tokens becomes the command — the same PID.
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN } from '../support/cli.js';
import { cachePath, expireCache, tokenRequests, useWorlds } from '../support/worlds.js';

const { loggedIn } = useWorlds({ passphrase: 'correct horse battery staple (exec process)' });

const MODES: Array<[string, Record<string, string>]> = [
  ['tokens becomes the command', {}],
  ['tokens stays as the parent', { TOKENS_EXEC_STAY: '1' }],
];

const O_NONBLOCK = 0o4000;

/**
 * Runs argv; its pid, outputs and exit code. `pipes`: with stdin, stdout and stderr on real pipes
 * (Node's own are socket pairs, which setting up process.stderr leaves alone), stdout and stderr on
 * one, so what Node does to a pipe shows.
 */
function run(
  argv: string[],
  env: Record<string, string>,
  pipes = false,
): Promise<{ pid: number; stdout: string; stderr: string; code: number | null }> {
  const [file, ...args] = pipes ? ['sh', '-c', ': | "$@" 2>&1 | cat', 'sh', ...argv] : argv;
  const child = spawn(file!, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ pid: child.pid!, stdout, stderr, code })));
}

const REPORT = [
  'echo "pid $$"',
  'echo "fds $(ls /proc/$$/fd | sort | tr "\\n" " ")"',
  'for fd in 0 1 2; do echo "flags $fd $(sed -n "s/^flags:[[:space:]]*//p" /proc/$$/fdinfo/$fd)"; done',
  'echo "cache $(ls -a "$CACHE_DIR" | tr "\\n" " ")"',
  'echo "token ${#CHARTMETRIC_ACCESS_TOKEN}"',
].join('; ');

function parse(stdout: string): Record<string, string> {
  return Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1).trim()]),
  );
}

describe.each(MODES)('exec after a refresh: %s', (_, modeEnv) => {
  it('the command holds nothing of ours: descriptors, lock, claim, non-blocking streams; our PID where it replaced us', async () => {
    const w = await loggedIn('chartmetric');
    await expireCache(w);
    const env = { ...w.sandbox.baseEnv(), ...w.env, ...modeEnv, CACHE_DIR: dirname(cachePath(w)) };
    const before = tokenRequests(w).length;
    const baseline = parse((await run(['sh', '-c', REPORT], env)).stdout);
    const argv = [process.execPath, BIN, 'exec', '--verbose', '--provider', 'chartmetric', '--', 'sh', '-c', REPORT];
    const viaTokens = await run(argv, env);
    expect(viaTokens.code, viaTokens.stderr).toBe(0);
    // It did have work to do: one refresh, told about on stderr.
    expect(tokenRequests(w).length).toBe(before + 1);
    expect(viaTokens.stderr).not.toBe('');
    const seen = parse(viaTokens.stdout);
    expect(Number(seen.token)).toBeGreaterThan(0);
    expect(seen.fds).toBe(baseline.fds);
    await expireCache(w);
    const throughPipes = await run(argv, env, true);
    expect(throughPipes.code).toBe(0);
    expect(throughPipes.stdout).toMatch(/^tokens: /m);
    const flags = throughPipes.stdout.split('\n').filter((line) => line.startsWith('flags '));
    expect(flags).toHaveLength(3);
    for (const line of flags) expect(Number.parseInt(line.split(' ')[2]!, 8) & O_NONBLOCK, line).toBe(0);
    const left = (seen.cache ?? '').split(' ').filter((name) => /\.lock$|\.refreshing$/.test(name));
    expect(left).toEqual([]);
    const replaces = Object.keys(modeEnv).length === 0 && typeof process.execve === 'function';
    expect(Number(seen.pid) === viaTokens.pid).toBe(replaces);
  });
});

describe('exec --min-ttl', () => {
  it('asks each token for that much validity, as get does: refreshed when the cached one has less, exit 2 past a lifetime', async () => {
    const w = await loggedIn('chartmetric');
    // The fake's tokens live 120 s. One with 100 s left: enough for the default margin (60 s), not for 110.
    const cached = JSON.parse(await readFile(cachePath(w), 'utf8')) as object;
    const ageCache = () =>
      writeFile(
        cachePath(w),
        JSON.stringify({ ...cached, obtained_at: Date.now() - 20_000, expires_at: Date.now() + 100_000 }),
        { mode: 0o600 },
      );
    await ageCache();
    const before = tokenRequests(w).length;
    const print = ['--', 'sh', '-c', 'printf %s "$CHARTMETRIC_ACCESS_TOKEN"'];
    const plain = await w.run(['exec', '--provider', 'chartmetric', ...print]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(tokenRequests(w).length).toBe(before);
    for (const extra of [['--min-ttl', '110'], ['--min-ttl=110']]) {
      await ageCache();
      const asked = await w.run(['exec', '--provider', 'chartmetric', ...extra, ...print]);
      expect(asked.code, asked.stderr).toBe(0);
      expect(asked.stdout).not.toBe(plain.stdout);
    }
    expect(tokenRequests(w).length).toBe(before + 2);
    const tooLong = await w.run(['exec', '--provider', 'chartmetric', '--min-ttl', '999999', ...print]);
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toMatch(/--min-ttl 999999 is longer than the lifetime/);
    expect((await w.run(['exec', '--min-ttl', 'soon', ...print])).code).toBe(2);
  });
});
