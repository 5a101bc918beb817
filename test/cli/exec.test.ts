// `tokens exec`: environment, exit status passthrough, signals forwarded, secrets withheld.
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, Sandbox } from '../support/cli.js';

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

describe('tokens exec', () => {
  it('sets P_ACCESS_TOKEN, P_AUTHORIZATION and TOKENS_PROFILE; withholds the passphrase and secret variables', async () => {
    await warmCache('soundcloud', 'scl_tok_1');
    await warmCache('chartmetric', 'cm_tok_1');
    const run = await sandbox.run(
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
    const run = await sandbox.run([
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
    expect((await sandbox.run(['exec', '--provider', 'chartmetric', '--', 'sh', '-c', 'exit 42'])).code).toBe(42);
    expect((await sandbox.run(['exec', '--provider', 'chartmetric', '--', 'true'])).code).toBe(0);
  });

  it('a child killed by a signal → 128 + N', async () => {
    await warmCache('chartmetric', 't');
    expect((await sandbox.run(['exec', '--provider', 'chartmetric', '--', 'sh', '-c', 'kill -KILL $$'])).code).toBe(
      137,
    );
    expect((await sandbox.run(['exec', '--provider', 'chartmetric', '--', 'sh', '-c', 'kill -TERM $$'])).code).toBe(
      143,
    );
  });

  it('stdin is inherited', async () => {
    await warmCache('chartmetric', 't');
    const run = await sandbox.run(['exec', '--provider', 'chartmetric', '--', 'cat'], { input: 'piped through\n' });
    expect(run).toMatchObject({ code: 0, stdout: 'piped through\n' });
  });

  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)(
    'forwards %s to the child and exits with its status',
    async (signal) => {
      await warmCache('chartmetric', 't');
      const marker = join(sandbox.home, 'got-signal');
      const script = `trap 'echo ${signal} > ${marker}; exit 3' ${signal.slice(3)}; echo ready; while :; do sleep 0.05; done`;
      const child = spawn(process.execPath, [BIN, 'exec', '--provider', 'chartmetric', '--', 'sh', '-c', script], {
        env: sandbox.baseEnv(),
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
    const missing = await sandbox.run(['exec', '--provider', 'chartmetric', '--', 'no-such-command-xyz']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain('no-such-command-xyz');
    expect((await sandbox.run(['exec', '--provider', 'chartmetric'])).code).toBe(2);
    expect((await sandbox.run(['exec', '--provider', 'nope', '--', 'true'])).code).toBe(2);
  });

  it('without --provider and nothing configured → exit 3', async () => {
    expect((await sandbox.run(['exec', '--', 'true'])).code).toBe(3);
  });
});
