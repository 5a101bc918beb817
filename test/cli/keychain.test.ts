// The default store for real: the CLI against gnome-keyring's Secret Service on a private D-Bus
// session (started here, under the test's own HOME), with Chartmetric served by the local server.
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox } from '../support/cli.js';
import { startSecretService, type SecretService } from '../support/secret-service.js';
import { startProviderServer, type ProviderServer } from '../support/servers.js';

const REFRESH = 'cm_keychain_refresh_5e6f7a8b9c';
let sandbox: Sandbox;
let secretService: SecretService;
let server: ProviderServer;
let env: Record<string, string>;

beforeAll(async () => {
  sandbox = await Sandbox.create();
  secretService = await startSecretService(sandbox.home);
  server = await startProviderServer({ chartmetric: { refreshTokens: [REFRESH] } });
  env = { ...secretService.env, ...server.env() };
});

afterAll(async () => {
  await secretService?.stop();
  await server?.close();
  await sandbox?.dispose();
});

/** What the Secret Service holds for service "tokens", looked up with the real libsecret client. */
function keyringHas(account: string): boolean {
  // secret-tool ships with libsecret-tools; keytar stores service/account attributes.
  const r = spawnSync('secret-tool', ['lookup', 'service', 'tokens', 'account', account], {
    env: { ...process.env, ...env },
  });
  if (r.error) throw new Error('secret-tool is missing: install the Debian package `libsecret-tools`');
  return r.status === 0 && r.stdout.length > 0;
}

describe('keychain store through the CLI', () => {
  it('login stores in the keychain; a fresh process gets a token; logout removes the item', async () => {
    const login = await sandbox.run(['login', 'chartmetric'], { env, input: `${REFRESH}\n` });
    expect(login.stderr).toContain('OS keychain');
    expect(login.code).toBe(0);
    expect(keyringHas('default/chartmetric')).toBe(true);

    // A fresh process with an expired cache must read the refresh token from the keychain.
    const get = await sandbox.run(['get', 'chartmetric', '--force-refresh'], { env });
    expect(get.code).toBe(0);
    expect(get.stdout).toBe(`${server.issued.at(-1)!.accessToken}\n`);
    expect(server.requests.at(-1)!.json).toEqual({ refreshtoken: REFRESH });

    const status = await sandbox.run(['status', 'chartmetric', '--json'], { env });
    expect(JSON.parse(status.stdout).providers[0]).toMatchObject({ store: 'keychain', refresh_token: true });

    expect((await sandbox.run(['logout', 'chartmetric'], { env })).code).toBe(0);
    expect(keyringHas('default/chartmetric')).toBe(false);
    expect((await sandbox.run(['get', 'chartmetric'], { env })).code).toBe(3);

    // The keyring's own files live under HOME; none holds the secret in plain text.
    expect(await sandbox.findSecrets([REFRESH], [get.stdout])).toEqual([]);
  });

  it('a locked keyring is exit 6 saying so, not "not logged in"', async () => {
    // A keyring of its own: once locked, it cannot be unlocked without a prompt nobody can see here.
    const own = await Sandbox.create();
    const service = await startSecretService(own.home);
    try {
      const ownEnv = { ...service.env, ...server.env() };
      expect((await own.run(['login', 'chartmetric'], { env: ownEnv, input: `${REFRESH}\n` })).code).toBe(0);
      const lock = spawnSync(
        'dbus-send',
        [
          '--session',
          '--print-reply',
          '--dest=org.freedesktop.secrets',
          '/org/freedesktop/secrets',
          'org.freedesktop.Secret.Service.Lock',
          'array:objpath:/org/freedesktop/secrets/collection/login',
        ],
        { env: { ...process.env, ...ownEnv } },
      );
      expect(lock.status).toBe(0);
      const requestsBefore = server.requests.length;
      const locked = await own.run(['get', 'chartmetric', '--force-refresh'], { env: ownEnv });
      expect(locked.code).toBe(6);
      expect(locked.stderr).toContain('keychain is locked');
      expect(locked.stderr).not.toContain('not logged in');
      expect(server.requests.length).toBe(requestsBefore);
      // A key that was never stored is still "not logged in" (3), locked keyring or not.
      const other = await own.run(['get', 'chartmetric', '--profile', 'never-used'], { env: ownEnv });
      expect(other.code).toBe(3);
      expect(await own.findSecrets([REFRESH])).toEqual([]);
    } finally {
      await service.stop();
      await own.dispose();
    }
  });

  it('with no session bus: exit 6 naming TOKENS_STORE=file, before reading any secret', async () => {
    const run = await sandbox.run(['login', 'chartmetric'], {
      env: { ...env, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' },
      input: `${REFRESH}\n`,
    });
    expect(run.code).toBe(6);
    expect(run.stderr).toContain('TOKENS_STORE=file');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a cold get starts its one keychain helper early, from the fast path, without the withheld variables', async () => {
    expect((await sandbox.run(['login', 'chartmetric'], { env, input: `${REFRESH}\n` })).code).toBe(0);
    // A preload (NODE_OPTIONS; the helper itself is started without it) records every Node child
    // the run starts, with the file that started it and whether its environment held a secret.
    const preload = join(sandbox.home, 'spawn-trace.cjs');
    const trace = join(sandbox.home, 'spawns.json');
    await writeFile(
      preload,
      [
        "const cp = require('node:child_process'); const { writeFileSync } = require('node:fs');",
        'const spawns = []; const spawn = cp.spawn;',
        'cp.spawn = function (file, args, options) {',
        "  if (file === process.execPath) { const from = (new Error().stack ?? '').split('\\n').slice(2).find((l) => !l.includes('node:')) ?? '';",
        "    spawns.push({ from: /fast\\.cjs/.test(from) ? 'fast.cjs' : 'full program', secret: Object.keys(options?.env ?? {}).some((k) => k === 'TOKENS_CHARTMETRIC_REFRESH_TOKEN') }); }",
        '  return spawn.apply(this, arguments); };',
        "process.on('exit', () => writeFileSync(process.env.TRACE_FILE, JSON.stringify(spawns)));",
      ].join('\n'),
    );
    const traced = { ...env, NODE_OPTIONS: `--require=${preload}`, TRACE_FILE: trace };
    const get = await sandbox.run(['get', 'chartmetric', '--force-refresh'], {
      env: { ...traced, TOKENS_CHARTMETRIC_REFRESH_TOKEN: undefined },
    });
    expect(get.code).toBe(0);
    expect(get.stdout).toBe(`${server.issued.at(-1)!.accessToken}\n`);
    expect(JSON.parse(await readFile(trace, 'utf8'))).toEqual([{ from: 'fast.cjs', secret: false }]);
    // With the variable set (a secret tokens withholds from every child), the early helper gets none.
    const withVariable = await sandbox.run(['get', 'chartmetric', '--force-refresh'], {
      env: { ...traced, TOKENS_CHARTMETRIC_REFRESH_TOKEN: REFRESH },
    });
    expect(withVariable.code).toBe(0);
    const spawns = JSON.parse(await readFile(trace, 'utf8')) as Array<{ from: string; secret: boolean }>;
    expect(spawns[0]).toEqual({ from: 'fast.cjs', secret: false });
    expect(spawns.every((spawned) => !spawned.secret)).toBe(true);
    const warm = await sandbox.run(['get', 'chartmetric'], { env: traced });
    expect([warm.code, JSON.parse(await readFile(trace, 'utf8'))]).toEqual([0, []]);
  });
});
