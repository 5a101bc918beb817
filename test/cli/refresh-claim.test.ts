// A refresh claim (PROVIDER.lock.refreshing) left by a `get` that was killed while holding it must
// not stall the next runs: a claim counts only while its holder is provably the process that made
// it. Its pid may since have been given to another process (always so in containers, where every
// run is pid 1): that one is not the holder.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { BIN, Sandbox } from '../support/cli.js';
import { startProviderServer, type ProviderServer } from '../support/servers.js';

const PASSPHRASE = 'refresh claim test passphrase 3e9d';
const CM_REFRESH = 'cm_refresh_claim_5f4e3d2c1b';
/** Long enough that a run waiting for it stands out from one that does not wait at all. */
const LOCK_TIMEOUT_S = 20;

let server: ProviderServer;
let sandbox: Sandbox;
let env: Record<string, string>;
let claim: string;

beforeEach(async () => {
  server = await startProviderServer({ chartmetric: { refreshTokens: [CM_REFRESH] } });
  sandbox = await Sandbox.create();
  env = {
    ...sandbox.baseEnv(),
    ...server.env(),
    TOKENS_STORE: 'file',
    TOKENS_PASSPHRASE: PASSPHRASE,
    TOKENS_LOCK_TIMEOUT: String(LOCK_TIMEOUT_S),
  };
  expect((await sandbox.run(['login', 'chartmetric'], { env, input: `${CM_REFRESH}\n` })).code).toBe(0);
  // The cached token has expired: the next get refreshes, and claims that refresh first.
  const cacheDir = join(sandbox.home, '.cache/tokens/default');
  await mkdir(cacheDir, { recursive: true, mode: 0o700 });
  const expired = { access_token: 'the-expired-token', token_type: 'bearer', expires_at: Date.now() - 1000 };
  await writeFile(join(cacheDir, 'chartmetric.json'), JSON.stringify(expired), { mode: 0o600 });
  const stateDir = join(sandbox.home, '.local/state/tokens/default');
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  claim = join(stateDir, 'chartmetric.lock.refreshing');
});

afterEach(async () => {
  expect(await sandbox.findSecrets([PASSPHRASE, CM_REFRESH, ...server.liveRefreshTokens('chartmetric')])).toEqual([]);
  await server.close();
  await sandbox.dispose();
});

/** Runs `argv` (node and its arguments) in the sandbox's environment, timed. */
function timed(argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      sandbox.outputs.push(stdout, stderr);
      resolve({ code, stdout, stderr, seconds: (Date.now() - started) / 1000 });
    });
  });
}

/** The server answers only token requests: each one is a refresh. */
const tokenRequests = () => server.requests.length;

it('a claim naming a live process that started at another time is stale: the next get refreshes at once', async () => {
  // This test runner is alive, but it is not the process that made a claim with that start time.
  await writeFile(claim, `${process.pid} 1\n`, { mode: 0o600 });
  const before = tokenRequests();
  const run = await timed([process.execPath, BIN, 'get', 'chartmetric']);
  expect(run.code).toBe(0);
  expect(run.stdout).not.toContain('the-expired-token');
  expect(tokenRequests()).toBe(before + 1);
  expect(run.seconds).toBeLessThan(LOCK_TIMEOUT_S / 2);
  // The get replaced the stale claim with its own and removed that once done.
  expect(existsSync(claim)).toBe(false);
});

const canUnsharePid =
  process.platform === 'linux' &&
  spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore' }).status === 0;

it.runIf(canUnsharePid)(
  "in a container (pid 1), a claim naming pid 1 is a dead run's: the next get refreshes at once",
  async () => {
    // What a get killed while holding the claim leaves behind, in a container: its own pid, 1.
    await writeFile(claim, '1\n', { mode: 0o600 });
    const before = tokenRequests();
    const run = await timed([
      'unshare',
      '--pid',
      '--fork',
      '--mount-proc',
      process.execPath,
      BIN,
      'get',
      'chartmetric',
    ]);
    expect(run.code).toBe(0);
    expect(tokenRequests()).toBe(before + 1);
    expect(run.seconds).toBeLessThan(LOCK_TIMEOUT_S / 2);
    expect(existsSync(claim)).toBe(false);
  },
);

it('a claim of a live process that made it is still waited for (until its token lands)', async () => {
  // The claim as a real holder writes it; this runner plays the holder and writes the token itself.
  const stat = readFileSync(`/proc/${process.pid}/stat`, 'utf8');
  const started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  await writeFile(claim, `${process.pid} ${started}\n`, { mode: 0o600 });
  const before = tokenRequests();
  const waiting = timed([process.execPath, BIN, 'get', 'chartmetric']);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const fresh = { access_token: 'the-holders-token', token_type: 'bearer', expires_at: Date.now() + 3600_000 };
  await writeFile(join(sandbox.home, '.cache/tokens/default/chartmetric.json.tmp'), JSON.stringify(fresh), {
    mode: 0o600,
  });
  await rename(
    join(sandbox.home, '.cache/tokens/default/chartmetric.json.tmp'),
    join(sandbox.home, '.cache/tokens/default/chartmetric.json'),
  );
  const run = await waiting;
  expect(run.code).toBe(0);
  expect(run.stdout).toBe('the-holders-token\n');
  expect(tokenRequests()).toBe(before);
  expect(existsSync(claim)).toBe(true);
});
