// Where the encrypted stores' passphrase comes from: TOKENS_PASSPHRASE, else the file
// TOKENS_PASSPHRASE_FILE names (owner-only, not a link, its first line), else a hidden prompt on a
// terminal, else exit 6 naming both. Blank ones are refused, short ones warned about, none echoed.
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ANSWERING_PTY } from '../support/pty.js';
import { BIN, Sandbox } from '../support/cli.js';
import { RedisServer } from '../support/redis.js';
import { startProviderServer, type ProviderServer } from '../support/servers.js';

const PASSPHRASE = 'a passphrase kept in a file 5d2e';
const CM_REFRESH = 'cm_refresh_passphrase_8a7b6c';

let server: ProviderServer;
let sandbox: Sandbox;
/** Outside the sandbox's HOME, whose files are scanned for secrets: the passphrase file lives here. */
let secretsDir: string;
let passphraseFile: string;
let env: Record<string, string | undefined>;

beforeEach(async () => {
  server = await startProviderServer({ chartmetric: { refreshTokens: [CM_REFRESH] } });
  sandbox = await Sandbox.create();
  secretsDir = await mkdtemp(join(tmpdir(), 'tokens-passphrase-'));
  passphraseFile = join(secretsDir, 'passphrase');
  await writeFile(passphraseFile, `${PASSPHRASE}\nsecond line is not part of it\n`, { mode: 0o600 });
  env = { ...server.env(), TOKENS_STORE: 'file', TOKENS_PASSPHRASE: undefined };
});

afterEach(async () => {
  expect(await sandbox.findSecrets([PASSPHRASE, CM_REFRESH, ...server.liveRefreshTokens('chartmetric')])).toEqual([]);
  await server.close();
  await sandbox.dispose();
  await rm(secretsDir, { recursive: true, force: true });
});

const login = (extra: Record<string, string | undefined>) =>
  sandbox.run(['login', 'chartmetric'], { env: { ...env, ...extra }, input: `${CM_REFRESH}\n` });
const refresh = (extra: Record<string, string | undefined>) =>
  sandbox.run(['get', 'chartmetric', '--force-refresh', '--format', 'header'], { env: { ...env, ...extra } });

describe('the passphrase file', () => {
  it('serves login and refresh without the passphrase in the environment; its first line is the passphrase', async () => {
    expect((await login({ TOKENS_PASSPHRASE_FILE: passphraseFile })).code).toBe(0);
    const get = await refresh({ TOKENS_PASSPHRASE_FILE: passphraseFile });
    expect(get.code).toBe(0);
    expect(get.stderr).toBe('');
    // The same store opens with the first line given as the variable, and not with the whole file.
    expect((await refresh({ TOKENS_PASSPHRASE: PASSPHRASE })).code).toBe(0);
    const whole = await refresh({ TOKENS_PASSPHRASE: `${PASSPHRASE}\nsecond line is not part of it` });
    expect(whole.code).toBe(6);
  });

  it('TOKENS_PASSPHRASE wins over the file', async () => {
    expect((await login({ TOKENS_PASSPHRASE: PASSPHRASE })).code).toBe(0);
    await writeFile(passphraseFile, 'another passphrase entirely\n');
    expect((await refresh({ TOKENS_PASSPHRASE: PASSPHRASE, TOKENS_PASSPHRASE_FILE: passphraseFile })).code).toBe(0);
    expect((await refresh({ TOKENS_PASSPHRASE_FILE: passphraseFile })).code).toBe(6);
  });

  it('is refused when group or others have access, when it is a link, or missing: exit 6 naming it', async () => {
    expect((await login({ TOKENS_PASSPHRASE: PASSPHRASE })).code).toBe(0);
    const requestsBefore = server.requests.length;
    await chmod(passphraseFile, 0o640);
    const readable = await refresh({ TOKENS_PASSPHRASE_FILE: passphraseFile });
    expect(readable.code).toBe(6);
    expect(readable.stderr).toContain(passphraseFile);
    expect(readable.stderr).toContain('mode 0640');
    await chmod(passphraseFile, 0o600);
    const link = join(secretsDir, 'link');
    await symlink(passphraseFile, link);
    const linked = await refresh({ TOKENS_PASSPHRASE_FILE: link });
    expect(linked.code).toBe(6);
    expect(linked.stderr).toContain('symbolic link');
    const missing = await refresh({ TOKENS_PASSPHRASE_FILE: join(secretsDir, 'absent') });
    expect(missing.code).toBe(6);
    expect(missing.stderr).toContain(join(secretsDir, 'absent'));
    // Nothing was sent with a store that could not be opened.
    expect(server.requests.length).toBe(requestsBefore);
  });

  it('a relative path is a usage error (exit 2) naming the variable', async () => {
    const run = await refresh({ TOKENS_PASSPHRASE_FILE: 'passphrase' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('TOKENS_PASSPHRASE_FILE');
  });

  it('is not read by a warm get', async () => {
    expect((await login({ TOKENS_PASSPHRASE_FILE: passphraseFile })).code).toBe(0);
    await chmod(passphraseFile, 0o000);
    await rm(passphraseFile);
    const warm = await sandbox.run(['get', 'chartmetric', '--format', 'header'], {
      env: { ...env, TOKENS_PASSPHRASE_FILE: passphraseFile },
    });
    expect(warm.code).toBe(0);
    expect(warm.stderr).toBe('');
  });

  it("exec's command is given the file's path, never the passphrase", async () => {
    expect((await login({ TOKENS_PASSPHRASE_FILE: passphraseFile })).code).toBe(0);
    const run = await sandbox.run(
      [
        'exec',
        '--provider',
        'chartmetric',
        '--',
        process.execPath,
        '-e',
        'console.log(JSON.stringify([process.env.TOKENS_PASSPHRASE_FILE, process.env.TOKENS_PASSPHRASE ?? null]))',
      ],
      { env: { ...env, TOKENS_PASSPHRASE_FILE: passphraseFile } },
    );
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([passphraseFile, null]);
  });
});

describe('the Redis store', () => {
  it('takes the passphrase from the file too, and without one is exit 6 naming both variables', async () => {
    const redis = await RedisServer.start();
    try {
      const redisEnv = { TOKENS_STORE: 'redis', TOKENS_REDIS_URL: redis.url };
      expect((await login({ ...redisEnv, TOKENS_PASSPHRASE_FILE: passphraseFile })).code).toBe(0);
      expect((await refresh({ ...redisEnv, TOKENS_PASSPHRASE_FILE: passphraseFile })).code).toBe(0);
      // The same key as from the variable: the store opens with either.
      expect((await refresh({ ...redisEnv, TOKENS_PASSPHRASE: PASSPHRASE })).code).toBe(0);
      const none = await refresh(redisEnv);
      expect(none.code).toBe(6);
      expect(none.stderr).toContain('TOKENS_PASSPHRASE ');
      expect(none.stderr).toContain('TOKENS_PASSPHRASE_FILE');
      expect(none.stderr).not.toContain(redis.password);
    } finally {
      await redis.stop();
    }
  });
});

describe('no passphrase anywhere', () => {
  it('without a terminal: exit 6 naming both variables, before any request', async () => {
    const run = await login({});
    expect(run.code).toBe(6);
    expect(run.stderr).toContain('TOKENS_PASSPHRASE ');
    expect(run.stderr).toContain('TOKENS_PASSPHRASE_FILE');
    expect(server.requests).toEqual([]);
  });
});

describe('trivial passphrases', () => {
  it('a blank TOKENS_PASSPHRASE is a usage error (exit 2) naming it, before anything is looked at', async () => {
    for (const blank of [' ', '\t  ']) {
      const run = await login({ TOKENS_PASSPHRASE: blank });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('TOKENS_PASSPHRASE');
    }
    expect(server.requests).toEqual([]);
  });

  it('a blank first line in the passphrase file is refused (exit 6), naming the file', async () => {
    for (const content of ['\n', '   \nthe passphrase on line two\n', '']) {
      await writeFile(passphraseFile, content);
      const run = await login({ TOKENS_PASSPHRASE_FILE: passphraseFile });
      expect(run.code).toBe(6);
      expect(run.stderr).toContain(passphraseFile);
    }
    expect(server.requests).toEqual([]);
  });

  it('a short passphrase works with one warning line that does not echo it', async () => {
    const short = 'x7Qz#1';
    const first = await login({ TOKENS_PASSPHRASE: short });
    expect(first.code).toBe(0);
    const warnings = first.stderr.split('\n').filter((line) => line.startsWith('warning:'));
    expect(warnings).toEqual([
      'warning: the passphrase from TOKENS_PASSPHRASE is shorter than 12 characters, so it is easy to guess',
    ]);
    const get = await refresh({ TOKENS_PASSPHRASE: short });
    expect(get.code).toBe(0);
    expect(get.stderr).toContain('shorter than 12 characters');
    expect(await sandbox.findSecrets([short])).toEqual([]);
    // Twelve characters are enough.
    await rm(join(sandbox.home, '.local/share/tokens/secrets.enc'));
    expect((await login({ TOKENS_PASSPHRASE: 'twelve chars' })).stderr).not.toContain('warning');
  });
});

/** Runs tokens in a pseudo-terminal and types `answer` when `prompt` shows. */
function inTerminal(
  answer: string,
  prompt: string,
  args: string[],
  extra: Record<string, string | undefined>,
): Promise<{ code: number | null; screen: string }> {
  const runEnv: Record<string, string> = { ...sandbox.baseEnv(), TERM: 'xterm' };
  for (const [k, v] of Object.entries({ ...env, ...extra }))
    if (v === undefined) delete runEnv[k];
    else runEnv[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', ANSWERING_PTY, answer, prompt, process.execPath, BIN, ...args], {
      env: runEnv,
    });
    let screen = '';
    child.stdout.on('data', (d: Buffer) => (screen += d.toString()));
    child.on('error', () => reject(new Error('python3 is needed for the terminal test (Debian: python3)')));
    child.on('close', (code) => {
      sandbox.outputs.push(screen);
      resolve({ code, screen });
    });
  });
}

describe('the prompt', () => {
  it('on a terminal, asks for the passphrase with echo off, and opens the store with it', async () => {
    expect((await login({ TOKENS_PASSPHRASE: PASSPHRASE })).code).toBe(0);
    const prompt = 'Passphrase of the file store: ';
    const { code, screen } = await inTerminal(PASSPHRASE, prompt, ['get', 'chartmetric', '--force-refresh'], {});
    expect(screen).toContain(prompt);
    expect(screen).not.toContain(PASSPHRASE);
    expect(code).toBe(0);
    // A wrong one typed there is the store's wrong passphrase: exit 6.
    const wrong = await inTerminal('not the passphrase at all', prompt, ['get', 'chartmetric', '--force-refresh'], {});
    expect(wrong.code).toBe(6);
    expect(wrong.screen).toContain('cannot decrypt');
  });
});
