// `tokens exec`: environment, exit status passthrough, signals forwarded, secrets withheld.
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { constants } from 'node:os';
import { BIN, type CliResult, type RunOptions, Sandbox } from '../support/cli.js';

let sandbox: Sandbox;

/** A warm cache is all exec needs for a provider given with --provider. */
async function warmCache(provider: string, token: string, profile = 'default') {
  const dir = join(sandbox.home, '.cache/tokens', profile);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(
    join(dir, `${provider}.json`),
    JSON.stringify({ access_token: token, token_type: 'bearer', expires_at: Date.now() + 3600_000 }),
    { mode: 0o600 },
  );
}

beforeEach(async () => {
  sandbox = await Sandbox.create();
});
afterEach(async () => sandbox.dispose());

/** Both ways exec runs its command: replacing tokens (where Node has execve), and as its child. */
const MODES: Array<[string, Record<string, string>]> = [
  ['tokens becomes the command', {}],
  ['tokens stays as the parent', { TOKENS_EXEC_STAY: '1' }],
];

describe.each(MODES)('tokens exec: %s', (_, modeEnv) => {
  const tokens = (args: string[], options: RunOptions = {}) =>
    sandbox.run(args, { ...options, env: { ...modeEnv, ...options.env } });
  it('sets P_ACCESS_TOKEN, P_AUTHORIZATION and TOKENS_PROFILE; withholds the passphrase and secret variables', async () => {
    await warmCache('soundcloud', 'scl_tok_1');
    await warmCache('chartmetric', 'cm_tok_1');
    const run = await tokens(
      [
        'exec',
        '--provider',
        'soundcloud',
        '--provider',
        'chartmetric',
        '--',
        process.execPath,
        '-e',
        'console.log(JSON.stringify(process.env))',
      ],
      {
        env: {
          TOKENS_PASSPHRASE: 'pass-never-seen',
          TOKENS_SOUNDCLOUD_CLIENT_SECRET: 'cs-never-seen',
          TOKENS_CHARTMETRIC_REFRESH_TOKEN: 'rt-never-seen',
          KEEP_ME: 'yes',
        },
      },
    );
    expect(run.code).toBe(0);
    const childEnv = JSON.parse(run.stdout);
    expect(childEnv).toMatchObject({
      SOUNDCLOUD_ACCESS_TOKEN: 'scl_tok_1',
      SOUNDCLOUD_AUTHORIZATION: 'OAuth scl_tok_1',
      CHARTMETRIC_ACCESS_TOKEN: 'cm_tok_1',
      CHARTMETRIC_AUTHORIZATION: 'Bearer cm_tok_1',
      TOKENS_PROFILE: 'default',
      KEEP_ME: 'yes',
    });
    for (const name of ['TOKENS_PASSPHRASE', 'TOKENS_SOUNDCLOUD_CLIENT_SECRET', 'TOKENS_CHARTMETRIC_REFRESH_TOKEN'])
      expect(childEnv).not.toHaveProperty(name);
    expect(run.stdout).not.toContain('never-seen');
  });

  it('passes TOKENS_PROFILE on, so a nested get uses the same profile', async () => {
    await warmCache('chartmetric', 'cm_staging', 'staging');
    const run = await tokens([
      'exec',
      '--profile',
      'staging',
      '--provider',
      'chartmetric',
      '--',
      process.execPath,
      BIN,
      'get',
      'chartmetric',
    ]);
    expect(run).toMatchObject({ code: 0, stdout: 'cm_staging\n' });
  });

  it('returns the child exit code', async () => {
    await warmCache('chartmetric', 't');
    expect((await tokens(['exec', '--provider', 'chartmetric', '--', 'sh', '-c', 'exit 42'])).code).toBe(42);
    expect((await tokens(['exec', '--provider', 'chartmetric', '--', 'true'])).code).toBe(0);
  });

  it('a child killed by a signal → 128 + N', async () => {
    await warmCache('chartmetric', 't');
    // As a shell reports it: tokens exits 128 + N, or (where it became the command) dies of the signal.
    const status = ({ code, signal }: CliResult) => code ?? 128 + constants.signals[signal!];
    expect(status(await tokens(['exec', '--provider', 'chartmetric', '--', 'sh', '-c', 'kill -KILL $$']))).toBe(137);
    expect(status(await tokens(['exec', '--provider', 'chartmetric', '--', 'sh', '-c', 'kill -TERM $$']))).toBe(143);
  });

  it('stdin is inherited', async () => {
    await warmCache('chartmetric', 't');
    const run = await tokens(['exec', '--provider', 'chartmetric', '--', 'cat'], { input: 'piped through\n' });
    expect(run).toMatchObject({ code: 0, stdout: 'piped through\n' });
  });

  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)(
    'forwards %s to the child and exits with its status',
    async (signal) => {
      await warmCache('chartmetric', 't');
      const marker = join(sandbox.home, 'got-signal');
      const script = `trap 'echo ${signal} > ${marker}; exit 3' ${signal.slice(3)}; echo ready; while :; do sleep 0.05; done`;
      const child = spawn(process.execPath, [BIN, 'exec', '--provider', 'chartmetric', '--', 'sh', '-c', script], {
        env: { ...sandbox.baseEnv(), ...modeEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      await new Promise<void>((resolve) =>
        child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()),
      );
      child.kill(signal);
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      expect(code).toBe(3);
      const { readFile } = await import('node:fs/promises');
      expect((await readFile(marker, 'utf8')).trim()).toBe(signal);
    },
  );

  it('an unknown command is 127, a missing one a usage error', async () => {
    await warmCache('chartmetric', 't');
    const missing = await tokens(['exec', '--provider', 'chartmetric', '--', 'no-such-command-xyz']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain('no-such-command-xyz');
    expect((await tokens(['exec', '--provider', 'chartmetric'])).code).toBe(2);
    expect((await tokens(['exec', '--provider', 'nope', '--', 'true'])).code).toBe(2);
  });

  it('a command that cannot start is 127 or 126 with one line, as a shell says', async () => {
    await warmCache('chartmetric', 't');
    await mkdir(join(sandbox.home, 'a-directory'));
    await writeFile(join(sandbox.home, 'not-executable'), 'echo hi\n', { mode: 0o644 });
    const cases: Array<[string[], number, string]> = [
      [[''], 127, 'command not found'],
      [[join(sandbox.home, 'a-directory')], 126, 'cannot run (EACCES)'],
      [[join(sandbox.home, 'not-executable')], 126, 'cannot run (EACCES)'],
    ];
    for (const [command, code, message] of cases) {
      const run = await tokens(['exec', '--provider', 'chartmetric', '--', ...command]);
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code, stderr: expect.stringContaining(message) });
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('an argument list that the token variables push past the system limit is 126 (E2BIG), one line', async () => {
    const token = 'T'.repeat(16 * 1024);
    await warmCache('chartmetric', token);
    // A 2 MiB stack makes the limit on arguments and environment a quarter of it (Linux); tokens is
    // started just under it, and the token's two variables (32 KiB) take its command over.
    const limit = (2048 * 1024) / 4;
    const env = { ...sandbox.baseEnv(), ...modeEnv };
    const size = (texts: string[]) => texts.reduce((sum, text) => sum + Buffer.byteLength(text) + 1 + 8, 0);
    const fixed = [
      ...Object.entries(env).map(([name, value]) => `${name}=${value}`),
      process.execPath,
      BIN,
      ...['exec', '--provider', 'chartmetric', '--', 'echo'],
    ];
    const filler: string[] = [];
    let room = limit - size(fixed) - 16 * 1024;
    while (room > 1024) {
      const piece = Math.min(room - 64, 100 * 1024);
      filler.push('x'.repeat(piece));
      room -= piece + 1 + 8;
    }
    const run = spawnSync(
      'sh',
      [
        '-c',
        'ulimit -s 2048 && exec "$@"',
        'sh',
        process.execPath,
        BIN,
        'exec',
        '--provider',
        'chartmetric',
        '--',
        'echo',
        ...filler,
      ],
      { env, encoding: 'utf8', timeout: 30_000 },
    );
    expect({ code: run.status, stderr: run.stderr }).toEqual({
      code: 126,
      stderr: 'tokens: argument list too long: echo\n',
    });
  });

  it('the command gets SIGPIPE as without tokens: `yes | head -1` ends quietly', async () => {
    await warmCache('chartmetric', 't');
    const inside = await tokens(['exec', '--provider', 'chartmetric', '--', 'sh', '-c', 'yes | head -1']);
    expect(inside).toMatchObject({ code: 0, stdout: 'y\n', stderr: '' });
    const outside = spawnSync(
      'bash',
      ['-c', `"$NODE" "$BIN" exec --provider chartmetric -- yes | head -1; echo "\${PIPESTATUS[0]}"`],
      { env: { ...sandbox.baseEnv(), ...modeEnv, NODE: process.execPath, BIN }, encoding: 'utf8', timeout: 30_000 },
    );
    expect({ stdout: outside.stdout, stderr: outside.stderr }).toEqual({ stdout: 'y\n141\n', stderr: '' });
  });

  it('without --provider and nothing configured → exit 3', async () => {
    expect((await tokens(['exec', '--', 'true'])).code).toBe(3);
  });
});
