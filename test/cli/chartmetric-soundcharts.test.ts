// Chartmetric and Soundcharts end to end: the built CLI as a child process against a local server
// that behaves like the documented token endpoints, errors and faults included.
import { mkdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Sandbox } from '../support/cli.js';
import { startProviderServer, type ProviderServer } from '../support/servers.js';

const PASSPHRASE = 'correct horse battery staple 42';
const CM_REFRESH = 'cm_refresh_d4f1c2a9e8b7';
const SC_ID = 'sc-client-7f3a';
const SC_SECRET = 'sc_secret_91b2c3d4e5f6';
const SC_API_KEY = 'legacy_api_key_0a1b2c3d4e';

let server: ProviderServer;
let sandbox: Sandbox;
let env: Record<string, string>;

beforeEach(async () => {
  server = await startProviderServer({
    chartmetric: { refreshTokens: [CM_REFRESH] },
    soundcharts: { clients: [{ clientId: SC_ID, clientSecret: SC_SECRET, teams: ['team-a'] }] },
  });
  sandbox = await Sandbox.create();
  env = { ...server.env(), TOKENS_STORE: 'file', TOKENS_PASSPHRASE: PASSPHRASE };
});

afterEach(async () => {
  expect(server.violations).toEqual([]);
  await server.close();
  await sandbox.dispose();
});

/** Outputs in which an access token may appear: the stdout of the gets we asked for. */
const asked: string[] = [];
async function secretsLeaked(extra: string[] = []) {
  return sandbox.findSecrets(
    [CM_REFRESH, SC_SECRET, SC_API_KEY, PASSPHRASE, ...server.liveRefreshTokens('chartmetric'), ...extra],
    asked,
  );
}

describe('chartmetric', () => {
  it('login from stdin mints once; get is served from the cache; formats; status; logout', async () => {
    const login = await sandbox.run(['login', 'chartmetric'], { env, input: `${CM_REFRESH}\n` });
    expect(login).toMatchObject({ code: 0, stdout: '' });
    expect(login.stderr).toContain('Logged in to Chartmetric');
    expect(server.mints('chartmetric')).toBe(1);
    const body = server.requests.at(-1)!;
    expect(body.headers['content-type']).toContain('application/json');
    expect(body.json).toEqual({ refreshtoken: CM_REFRESH });

    const token = server.issued.at(-1)!.accessToken;
    for (let i = 0; i < 3; i++) {
      const get = await sandbox.run(['get', 'chartmetric'], { env });
      asked.push(get.stdout);
      expect(get).toMatchObject({ code: 0, stdout: `${token}\n`, stderr: '' });
    }
    expect(server.mints('chartmetric')).toBe(1);

    const header = await sandbox.run(['get', 'chartmetric', '--format', 'header'], { env });
    asked.push(header.stdout);
    expect(header.stdout).toBe(`Authorization: Bearer ${token}\n`);
    const json = await sandbox.run(['get', 'chartmetric', '--format', 'json'], { env });
    asked.push(json.stdout);
    expect(JSON.parse(json.stdout)).toMatchObject({
      provider: 'chartmetric',
      profile: 'default',
      access_token: token,
      token_type: 'Bearer',
    });
    expect(Date.parse(JSON.parse(json.stdout).expires_at)).toBeGreaterThan(Date.now() + 3500_000);
    const envOut = await sandbox.run(['get', 'chartmetric', '--format', 'env'], { env });
    asked.push(envOut.stdout);
    expect(envOut.stdout).toBe(
      `export CHARTMETRIC_ACCESS_TOKEN='${token}'\nexport CHARTMETRIC_AUTHORIZATION='Bearer ${token}'\n`,
    );

    // --min-ttl beyond what the token has left (but within its lifetime) forces a refresh; so does
    // --force-refresh. (Beyond the lifetime itself it is exit 2: test/cli/hostile-ground.test.ts.)
    const fresher = await sandbox.run(['get', 'chartmetric', '--min-ttl', '3600'], { env });
    asked.push(fresher.stdout);
    expect(fresher.code).toBe(0);
    expect(server.mints('chartmetric')).toBe(2);
    const forced = await sandbox.run(['get', 'chartmetric', '--force-refresh'], { env });
    asked.push(forced.stdout);
    expect(server.mints('chartmetric')).toBe(3);
    expect(forced.stdout).toBe(`${server.issued.at(-1)!.accessToken}\n`);

    const status = await sandbox.run(['status', 'chartmetric', '--json'], { env });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).providers[0]).toMatchObject({
      provider: 'chartmetric',
      configured: true,
      mode: 'refresh_token',
      store: 'file',
      refresh_token: true,
      token_expired: false,
    });

    expect((await sandbox.run(['logout', 'chartmetric'], { env })).code).toBe(0);
    expect((await sandbox.run(['status', 'chartmetric'], { env })).code).toBe(3);
    expect((await sandbox.run(['get', 'chartmetric'], { env })).code).toBe(3);
    expect(await secretsLeaked()).toEqual([]);
  });

  it('a rotated refresh token is stored and used next time', async () => {
    server.chartmetric.rotate = true;
    expect((await sandbox.run(['login', 'chartmetric'], { env, input: `${CM_REFRESH}\n` })).code).toBe(0);
    expect(server.isRefreshTokenAlive('chartmetric', CM_REFRESH)).toBe(false);
    for (let i = 0; i < 2; i++) {
      const get = await sandbox.run(['get', 'chartmetric', '--force-refresh'], { env });
      asked.push(get.stdout);
      expect(get.code).toBe(0);
    }
    expect(server.mints('chartmetric')).toBe(3);
    expect(await secretsLeaked()).toEqual([]);
  });

  it('the secret comes from TOKENS_CHARTMETRIC_REFRESH_TOKEN when set', async () => {
    const login = await sandbox.run(['login', 'chartmetric'], {
      env: { ...env, TOKENS_CHARTMETRIC_REFRESH_TOKEN: CM_REFRESH },
    });
    expect(login.code).toBe(0);
    expect(await secretsLeaked()).toEqual([]);
  });

  it.each([
    ['401 unknown refresh token', 'cm_not_a_real_token_123', undefined, 4, 'tokens login chartmetric'],
    ['empty stdin', '', undefined, 2, 'TOKENS_CHARTMETRIC_REFRESH_TOKEN'],
    ['503 always', CM_REFRESH, { status: 503 }, 5, 'after 3 attempts'],
    ['malformed JSON', CM_REFRESH, { kind: 'malformed' }, 5, 'not JSON'],
    ['missing token field', CM_REFRESH, { kind: 'missing', field: 'token' }, 5, 'token missing'],
    ['429 for 10 minutes', CM_REFRESH, { status: 429, retryAfter: 600 }, 5, 'rate limit'],
    ['405 wrong method', CM_REFRESH, { status: 405, body: { error: 'method_not_allowed' } }, 5, 'HTTP 405'],
  ] as const)('login with %s', async (_name, secret, fault, code, text) => {
    if (fault) server.faultAlways('chartmetric', fault as never);
    const login = await sandbox.run(['login', 'chartmetric'], { env, input: secret ? `${secret}\n` : '' });
    expect(login.code).toBe(code);
    expect(login.stdout).toBe('');
    expect(login.stderr).toContain(text);
    expect(login.stderr.trim().split('\n')).toHaveLength(1);
    expect(login.stderr).not.toContain('    at ');
    // Nothing is stored by a login that failed.
    expect((await sandbox.run(['status', 'chartmetric'], { env })).code).toBe(3);
    expect(await secretsLeaked()).toEqual([]);
  });

  it('500 once, then success: two requests, exit 0', async () => {
    server.fault('chartmetric', { status: 500 });
    const login = await sandbox.run(['login', 'chartmetric'], { env, input: `${CM_REFRESH}\n` });
    expect(login.code).toBe(0);
    expect(server.count('chartmetric')).toBe(2);
  });

  it('a hanging endpoint times out, and a get that cannot succeed ends in bounded time', async () => {
    expect((await sandbox.run(['login', 'chartmetric'], { env, input: `${CM_REFRESH}\n` })).code).toBe(0);
    server.faultAlways('chartmetric', { kind: 'hang' });
    const started = Date.now();
    const get = await sandbox.run(['get', 'chartmetric', '--force-refresh'], {
      env: { ...env, TOKENS_HTTP_TIMEOUT: '1' },
    });
    expect(get.code).toBe(5);
    expect(get.stderr).toContain('no answer within 1 s');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(server.count('chartmetric')).toBe(4);
  });

  it('a 429 with a short Retry-After is waited out', async () => {
    server.fault('chartmetric', { status: 429, retryAfter: 1 });
    const started = Date.now();
    expect((await sandbox.run(['login', 'chartmetric'], { env, input: `${CM_REFRESH}\n` })).code).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('a redirect from the token endpoint is not followed', async () => {
    server.faultAlways('chartmetric', { kind: 'redirect', location: `${server.url}/elsewhere` });
    const login = await sandbox.run(['login', 'chartmetric'], { env, input: `${CM_REFRESH}\n` });
    expect(login.code).toBe(5);
    expect(server.requests.filter((r) => r.path === '/elsewhere')).toEqual([]);
  });
});

describe('soundcharts', () => {
  it('client credentials over Basic with team_id in the form body; cached; profiles kept apart', async () => {
    const login = await sandbox.run(['login', 'soundcharts', '--client-id', SC_ID, '--team-id', 'team-a'], {
      env,
      input: `${SC_SECRET}\n`,
    });
    expect(login).toMatchObject({ code: 0, stdout: '' });
    const request = server.requests.at(-1)!;
    expect(request.headers.authorization).toBe(`Basic ${Buffer.from(`${SC_ID}:${SC_SECRET}`).toString('base64')}`);
    expect(request.form).toEqual({ grant_type: 'client_credentials', team_id: 'team-a' });

    const get = await sandbox.run(['get', 'soundcharts', '--format', 'header'], { env });
    asked.push(get.stdout);
    expect(get.stdout).toBe(`Authorization: Bearer ${server.issued.at(-1)!.accessToken}\n`);
    expect(server.mints('soundcharts')).toBe(1);

    // Another profile has nothing: no secrets or cache shared.
    const other = await sandbox.run(['get', 'soundcharts', '--profile', 'staging'], { env });
    expect(other.code).toBe(3);
    expect(other.stderr).toContain('--profile staging');
    const viaEnv = await sandbox.run(['get', 'soundcharts'], { env: { ...env, TOKENS_PROFILE: 'staging' } });
    expect(viaEnv.code).toBe(3);

    const status = await sandbox.run(['status', '--json'], { env });
    expect(
      JSON.parse(status.stdout).providers.find((p: { provider: string }) => p.provider === 'soundcharts'),
    ).toMatchObject({ configured: true, mode: 'client_credentials', client_id: SC_ID });
    expect(status.stdout).not.toContain(SC_SECRET);
    expect(await secretsLeaked()).toEqual([]);
  });

  it.each([
    ['wrong secret', 'not-the-secret-123', [], 4, 'invalid_client'],
    ['wrong team', SC_SECRET, ['--team-id', 'team-b'], 4, 'HTTP 403'],
  ])('%s', async (_name, secret, extra, code, text) => {
    const login = await sandbox.run(['login', 'soundcharts', '--client-id', SC_ID, ...extra], {
      env,
      input: `${secret}\n`,
    });
    expect(login.code).toBe(code);
    expect(login.stderr).toContain(text);
    // About what was just typed, not "stored" ones; the re-run carries every flag given (first hour 6).
    expect(login.stderr).toContain('Soundcharts rejected the credentials just entered');
    expect(login.stderr).not.toContain('stored');
    expect(login.stderr).toContain(
      `\`tokens login soundcharts --client-id ${SC_ID}${extra.map((e) => ` ${e}`).join('')}\``,
    );
  });

  it('legacy API keys: deprecation warning, header pair, env, json; --format token is a usage error', async () => {
    const login = await sandbox.run(['login', 'soundcharts', '--legacy', '--app-id', 'my-app'], {
      env,
      input: `${SC_API_KEY}\n`,
    });
    expect(login.code).toBe(0);
    expect(login.stderr).toMatch(/deprecated/i);
    expect(server.requests).toEqual([]);

    const header = await sandbox.run(['get', 'soundcharts', '--format', 'header'], { env });
    asked.push(header.stdout);
    expect(header.stdout).toBe(`x-app-id: my-app\nx-api-key: ${SC_API_KEY}\n`);
    const envOut = await sandbox.run(['get', 'soundcharts', '--format', 'env'], { env });
    asked.push(envOut.stdout);
    expect(envOut.stdout).toBe(`export SOUNDCHARTS_APP_ID='my-app'\nexport SOUNDCHARTS_API_KEY='${SC_API_KEY}'\n`);
    const json = await sandbox.run(['get', 'soundcharts', '--format', 'json'], { env });
    asked.push(json.stdout);
    expect(JSON.parse(json.stdout)).toEqual({
      provider: 'soundcharts',
      profile: 'default',
      mode: 'legacy',
      app_id: 'my-app',
      api_key: SC_API_KEY,
    });
    const token = await sandbox.run(['get', 'soundcharts'], { env });
    expect(token.code).toBe(2);
    expect(token.stderr).toContain('--format header');
    expect(token.stdout).toBe('');
    expect(await secretsLeaked()).toEqual([]);
  });

  it('usage errors come before anything else', async () => {
    for (const args of [
      ['login', 'soundcharts'],
      ['login', 'soundcharts', '--legacy'],
      ['login', 'chartmetric', '--team-id', 'x'],
      ['login', 'soundcharts', '--client-id', 'x', '--scope', 'y'],
      ['get', 'soundcharts', '--bogus'],
      ['get', 'nope'],
      ['get', 'chartmetric', '--min-ttl', '-5'],
      ['get', 'chartmetric', '--format', 'yaml'],
      ['get', 'chartmetric', '--profile', '../x'],
      ['frobnicate'],
    ]) {
      const run = await sandbox.run(args, { env });
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stdout).toBe('');
    }
    const insecure = await sandbox.run(['get', 'chartmetric'], {
      env: { ...env, TOKENS_CHARTMETRIC_TOKEN_URL: 'http://example.com/api/token' },
    });
    expect(insecure.code).toBe(2);
    expect(insecure.stderr).toContain('loopback');
  });
});

describe('config and store errors', () => {
  it('a broken config file is exit 2 naming the file and the field', async () => {
    const dir = join(sandbox.home, '.config/tokens');
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({ version: 1, profiles: { default: { chartmetric: { mode: 5 } } } }),
    );
    const run = await sandbox.run(['status'], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(join(dir, 'config.json'));
    expect(run.stderr).toContain('profiles.default.chartmetric.mode');
    await writeFile(join(dir, 'config.json'), '{not json');
    expect((await sandbox.run(['get', 'chartmetric'], { env })).code).toBe(2);
  });

  it('the file store: a missing passphrase is exit 6 naming TOKENS_PASSPHRASE, checked before any prompt', async () => {
    const run = await sandbox.run(['login', 'chartmetric'], {
      env: { ...env, TOKENS_PASSPHRASE: undefined },
      input: `${CM_REFRESH}\n`,
    });
    expect(run.code).toBe(6);
    expect(run.stderr).toContain('TOKENS_PASSPHRASE');
    expect(server.requests).toEqual([]);
  });

  it('the file store: wrong passphrase and a flipped byte are exit 6; the file holds no plaintext', async () => {
    expect((await sandbox.run(['login', 'chartmetric'], { env, input: `${CM_REFRESH}\n` })).code).toBe(0);
    expect(
      (await sandbox.run(['get', 'chartmetric', '--force-refresh'], { env: { ...env, TOKENS_PASSPHRASE: 'wrong' } }))
        .code,
    ).toBe(6);
    const file = join(sandbox.home, '.local/share/tokens/secrets.enc');
    const bytes = await readFile(file);
    expect(bytes.includes(Buffer.from(CM_REFRESH))).toBe(false);
    const envelope = JSON.parse(bytes.toString());
    const ct = Buffer.from(envelope.ct, 'base64');
    ct[0]! ^= 1;
    await writeFile(file, JSON.stringify({ ...envelope, ct: ct.toString('base64') }));
    const tampered = await sandbox.run(['get', 'chartmetric', '--force-refresh'], { env });
    expect(tampered.code).toBe(6);
    expect(tampered.stderr).toContain('cannot decrypt');
    expect(await secretsLeaked()).toEqual([]);
  });

  it('an unreachable keychain is exit 6 naming TOKENS_STORE=file, before any prompt or request', async () => {
    const run = await sandbox.run(['login', 'chartmetric'], {
      env: {
        ...server.env(),
        TOKENS_STORE: undefined,
        DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(sandbox.home, 'no-bus')}`,
        DISPLAY: undefined,
      },
      input: `${CM_REFRESH}\n`,
    });
    expect(run.code).toBe(6);
    expect(run.stderr).toContain('TOKENS_STORE=file');
    expect(server.requests).toEqual([]);
  });
});

describe('the file store key, derived early (src/store/early-start.ts)', () => {
  /**
   * A preload (NODE_OPTIONS) that records every scrypt call of the run, with the file that made it,
   * in TRACE_FILE: the CLI itself is unchanged.
   */
  async function tracedRun(args: string[], extra: Record<string, string | undefined> = {}) {
    const preload = join(sandbox.home, 'scrypt-trace.cjs');
    const trace = join(sandbox.home, `scrypt-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(
      preload,
      [
        "const crypto = require('node:crypto'); const { writeFileSync } = require('node:fs');",
        'const calls = []; const scrypt = crypto.scrypt;',
        "crypto.scrypt = function (...args) { const from = (new Error().stack ?? '').split('\\n').slice(2).find((l) => !l.includes('node:')) ?? ''; calls.push(/fast\\.cjs/.test(from) ? 'fast.cjs' : /dist\\//.test(from) ? 'full program' : from); return scrypt.apply(this, args); };",
        'const write = () => writeFileSync(process.env.TRACE_FILE, JSON.stringify(calls));',
        "process.on('exit', write);",
        // exec becomes its command, with no exit event: the calls are written just before.
        'const execve = process.execve; if (execve) process.execve = (...a) => { write(); return execve.apply(process, a); };',
      ].join('\n'),
    );
    const run = await sandbox.run(args, {
      env: { ...env, NODE_OPTIONS: `--require=${preload}`, TRACE_FILE: trace, ...extra },
    });
    return { run, calls: JSON.parse(await readFile(trace, 'utf8')) as string[] };
  }

  it('a cold get starts the one derivation before the full program loads; help and a warm get derive nothing', async () => {
    expect((await sandbox.run(['login', 'chartmetric'], { env, input: `${CM_REFRESH}\n` })).code).toBe(0);
    const cold = await tracedRun(['get', 'chartmetric', '--force-refresh']);
    expect(cold.run.code).toBe(0);
    expect(cold.calls).toEqual(['fast.cjs']);
    // Handed over by the fast path at expiry (no fresh token): the same single early derivation.
    const cache = join(sandbox.home, '.cache/tokens/default/chartmetric.json');
    const cached = JSON.parse(await readFile(cache, 'utf8'));
    await writeFile(cache, JSON.stringify({ ...cached, expires_at: Date.now() - 1000 }), { mode: 0o600 });
    const stale = await tracedRun(['exec', '--', 'true']);
    expect(stale.run.code).toBe(0);
    expect(stale.calls).toEqual(['fast.cjs']);
    // Nothing to derive: a warm get, help.
    expect((await tracedRun(['get', 'chartmetric'])).calls).toEqual([]);
    expect((await tracedRun(['get', '--help'])).calls).toEqual([]);
    // Without TOKENS_PASSPHRASE nothing starts early, and the full program says what is missing.
    const without = await tracedRun(['get', 'chartmetric', '--force-refresh'], { TOKENS_PASSPHRASE: undefined });
    expect([without.run.code, without.calls]).toEqual([6, []]);
    expect(await secretsLeaked()).toEqual([]);
  });

  it('a secrets file swapped for a link is not read early, and the full program refuses it as before', async () => {
    expect((await sandbox.run(['login', 'chartmetric'], { env, input: `${CM_REFRESH}\n` })).code).toBe(0);
    const file = join(sandbox.home, '.local/share/tokens/secrets.enc');
    const moved = join(sandbox.home, 'elsewhere.enc');
    await rename(file, moved);
    await symlink(moved, file);
    const linked = await tracedRun(['get', 'chartmetric', '--force-refresh']);
    expect(linked.run.code).toBe(6);
    expect(linked.calls).toEqual([]);
    expect(await secretsLeaked()).toEqual([]);
  });
});
