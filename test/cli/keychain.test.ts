// The default store for real: the CLI against gnome-keyring's Secret Service on a private D-Bus
// session (started here, under the test's own HOME), with Chartmetric served by the local server.
import { spawnSync } from 'node:child_process';
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

  it('with no session bus: exit 6 naming TOKENS_STORE=file, before reading any secret', async () => {
    const run = await sandbox.run(['login', 'chartmetric'], {
      env: { ...env, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus' },
      input: `${REFRESH}\n`,
    });
    expect(run.code).toBe(6);
    expect(run.stderr).toContain('TOKENS_STORE=file');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });
});
