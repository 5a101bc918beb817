// SoundCloud end to end: the real CLI (bin/tokens.js) against the local SoundCloud stand-in, with
// the browser login driven by a real headless Chromium. Secrets go to the encrypted file store.
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { browserShim, launchChromium, type BrowserShim } from '../support/browser.js';
import { ROOT, Sandbox, type CliResult, type RunOptions, type StartOptions, type StartedCli } from '../support/cli.js';
import {
  basicAuth,
  followAuthorization,
  s256,
  startProviderServer,
  type ProviderServer,
  type RecordedRequest,
} from '../support/servers.js';

const CLIENT_ID = 'tokens-test-soundcloud-client';
const ARTIFACTS = join(ROOT, 'test/.artifacts');
const LOGIN_HINT = 'tokens login soundcloud';

let chromiumBrowser: Browser | undefined;
let server: ProviderServer;
let sandbox: Sandbox;
let shim: BrowserShim;
let scratch: string;
let port: number;
let redirectUri: string;
let clientSecret: string;
let passphrase: string;
/** Outputs in which an access token may appear: stdout of a `get` or of an exec child. */
let allowedOutputs: string[];
/** Secrets seen outside the server's request log (e.g. a code in a Location that was never redeemed). */
let extraSecrets: string[];
let started: StartedCli[];
let contexts: BrowserContext[];
let blockers: Server[];

const secret = (prefix: string) => `${prefix}${randomBytes(18).toString('base64url')}`;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port: p } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return p;
}

/** Listens on 127.0.0.1:port (rejects if it cannot). */
async function bind(p: number): Promise<Server> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ port: p, host: '127.0.0.1', exclusive: true }, () => resolve());
  });
  blockers.push(srv);
  return srv;
}

function env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { ...server.env(), TOKENS_STORE: 'file', TOKENS_PASSPHRASE: passphrase, BROWSER: shim.command, ...extra };
}

function run(args: string[], options: RunOptions = {}): Promise<CliResult> {
  return sandbox.run(args, { ...options, env: env(options.env) });
}

/** `tokens get soundcloud ARGS`: its stdout may carry the access token. */
async function get(...args: string[]): Promise<CliResult> {
  const result = await run(['get', 'soundcloud', ...args]);
  allowedOutputs.push(result.stdout);
  return result;
}

const loginArgs = (...extra: string[]) => [
  'login',
  'soundcloud',
  '--client-id',
  CLIENT_ID,
  '--redirect-uri',
  redirectUri,
  ...extra,
];

/** Starts a browser login; the secret on stdin unless `secretFromEnv`. */
function startLogin(extra: string[] = [], options: StartOptions & { secretFromEnv?: boolean } = {}): StartedCli {
  const { secretFromEnv, ...rest } = options;
  const cli = sandbox.start(loginArgs(...extra), {
    input: secretFromEnv ? undefined : `${clientSecret}\n`,
    ...rest,
    env: env({ ...(secretFromEnv ? { TOKENS_SOUNDCLOUD_CLIENT_SECRET: clientSecret } : {}), ...rest.env }),
  });
  started.push(cli);
  return cli;
}

/** A complete user login, the browser played by fetch (for tests about what comes after). */
async function login(extra: string[] = []): Promise<{ accessToken: string; refreshToken: string }> {
  const cli = startLogin(extra);
  const landing = await followAuthorization(await shim.nextUrl());
  expect(landing.status).toBe(200);
  const result = await cli.result;
  expect(result.code, result.stderr).toBe(0);
  const live = server.liveRefreshTokens('soundcloud');
  expect(live).toHaveLength(1);
  return { accessToken: lastIssued(), refreshToken: live[0]! };
}

function lastIssued(): string {
  const last = server.issued.at(-1);
  if (!last) throw new Error('nothing issued');
  return last.accessToken;
}

const tokenRequests = (grant?: string): RecordedRequest[] =>
  server.requests.filter((r) => r.endpoint === 'token' && (grant === undefined || r.form?.grant_type === grant));

async function newPage(): Promise<Page> {
  const context = await chromiumBrowser!.newContext();
  contexts.push(context);
  return context.newPage();
}

async function exitedWithin(cli: StartedCli, ms: number): Promise<boolean> {
  const timeout = Symbol('timeout');
  const winner = await Promise.race([cli.result, new Promise((resolve) => setTimeout(() => resolve(timeout), ms))]);
  return winner !== timeout;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

beforeAll(async () => {
  chromiumBrowser = await launchChromium();
});

afterAll(async () => {
  await chromiumBrowser?.close();
});

beforeEach(async () => {
  server = await startProviderServer();
  sandbox = await Sandbox.create();
  scratch = await mkdtemp(join(tmpdir(), 'tokens-scl-'));
  shim = await browserShim(scratch);
  port = await freePort();
  redirectUri = `http://127.0.0.1:${port}/callback`;
  clientSecret = secret('scl_client_secret_');
  passphrase = secret('passphrase_');
  server.soundcloud.addClient({ clientId: CLIENT_ID, clientSecret, redirectUris: [redirectUri] });
  allowedOutputs = [];
  extraSecrets = [];
  started = [];
  contexts = [];
  blockers = [];
});

afterEach(async () => {
  for (const cli of started)
    if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  await Promise.all(started.map((cli) => cli.result.catch(() => undefined)));
  await Promise.all(contexts.map((c) => c.close()));
  await Promise.all(blockers.map((b) => new Promise<void>((resolve) => b.close(() => resolve()))));
  try {
    // Secrets: never in any output or file (the store file holds them encrypted).
    const fromRequests = server.requests.flatMap((r) =>
      [r.form?.refresh_token, r.form?.code, r.form?.code_verifier, r.form?.client_secret].filter(
        (v): v is string => !!v,
      ),
    );
    const secrets = [
      clientSecret,
      passphrase,
      ...server.liveRefreshTokens('soundcloud'),
      ...fromRequests,
      ...extraSecrets,
    ];
    expect(await sandbox.findSecrets(secrets, [])).toEqual([]);
    // Access tokens: only in the outputs that were asked for them (the cache file may hold them).
    const leaks: string[] = [];
    for (const { accessToken } of server.issued) {
      sandbox.outputs.forEach((text, i) => {
        if (!allowedOutputs.includes(text) && text.includes(accessToken))
          leaks.push(`output #${i} contains an access token`);
      });
    }
    expect(leaks).toEqual([]);
    expect(server.violations).toEqual([]);
  } finally {
    await server.close();
    await sandbox.dispose();
    await rm(scratch, { recursive: true, force: true });
  }
});

describe('tokens login soundcloud in a real browser (headless Chromium)', () => {
  it('logs in through the consent page, lands on the callback page, and get/refresh work from new processes', async () => {
    server.soundcloud.authorizeMode = 'page';
    const cli = startLogin([], { secretFromEnv: true });
    const url = await shim.nextUrl();
    expect(url.startsWith(`${server.urls.soundcloudAuthorize}?`)).toBe(true);
    // The browser inherits the environment, except the passphrase and the secret variables.
    const seen = await shim.envNames();
    expect(seen).toContain('TOKENS_SOUNDCLOUD_AUTHORIZE_URL');
    expect(seen).not.toContain('TOKENS_PASSPHRASE');
    expect(seen).not.toContain('TOKENS_SOUNDCLOUD_CLIENT_SECRET');

    const page = await newPage();
    const consent = await page.goto(url);
    expect(consent?.status()).toBe(200);
    const landed = page.waitForResponse((r) => r.url().startsWith(`${redirectUri}?`));
    await page.click('#approve');
    const callback = await landed;
    await page.waitForLoadState('load');

    expect(callback.status()).toBe(200);
    const headers = callback.headers();
    expect(headers['cache-control']).toBe('no-store');
    expect(headers['referrer-policy']).toBe('no-referrer');
    expect(headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.url().startsWith(`${redirectUri}?`)).toBe(true);
    expect(await page.locator('body').innerText()).toContain('You can close this window');

    const shot = join(scratch, 'soundcloud-callback.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect((await stat(shot)).size).toBeGreaterThan(1000);
    await mkdir(ARTIFACTS, { recursive: true });
    await copyFile(shot, join(ARTIFACTS, 'soundcloud-callback.png'));

    const result = await cli.result;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('Logged in to SoundCloud');

    // The authorization request: exactly the documented parameters, no scope unless asked.
    const authorize = server.requests.filter((r) => r.endpoint === 'authorize');
    expect(authorize).toHaveLength(1);
    const q = authorize[0]!.query;
    expect(Object.keys(q).sort()).toEqual([
      'client_id',
      'code_challenge',
      'code_challenge_method',
      'redirect_uri',
      'response_type',
      'state',
    ]);
    expect(q).toMatchObject({
      client_id: CLIENT_ID,
      redirect_uri: redirectUri,
      response_type: 'code',
      code_challenge_method: 'S256',
    });

    // The code exchange: once, PKCE verified, redirect_uri exact.
    const exchanges = tokenRequests('authorization_code');
    expect(exchanges).toHaveLength(1);
    const form = exchanges[0]!.form!;
    expect(s256(form.code_verifier!)).toBe(q.code_challenge);
    expect(form.redirect_uri).toBe(redirectUri);
    expect(form.client_id).toBe(CLIENT_ID);
    expect(exchanges[0]!.status).toBe(200);
    expect(server.mints('soundcloud', 'authorization_code')).toBe(1);
    const loginToken = lastIssued();
    const [loginRefresh] = server.liveRefreshTokens('soundcloud');

    // A new process answers from the cache: no request.
    const before = server.requests.length;
    const cached = await get();
    expect(cached.code, cached.stderr).toBe(0);
    expect(cached.stdout).toBe(`${loginToken}\n`);
    expect(server.requests.length).toBe(before);

    // Forced refresh: the single-use refresh token is spent, a new one replaces it.
    const refreshed = await get('--force-refresh');
    expect(refreshed.code, refreshed.stderr).toBe(0);
    const refreshes = tokenRequests('refresh_token');
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]!.form!.refresh_token).toBe(loginRefresh);
    expect(refreshed.stdout).toBe(`${lastIssued()}\n`);
    expect(lastIssued()).not.toBe(loginToken);
    expect(server.isRefreshTokenAlive('soundcloud', loginRefresh!)).toBe(false);
    expect(server.liveRefreshTokens('soundcloud')).toHaveLength(1);
    expect(tokenRequests('authorization_code')).toHaveLength(1);
  });

  it('works with a localhost redirect URI (the listener binds 127.0.0.1, the browser resolves localhost)', async () => {
    redirectUri = `http://localhost:${port}/callback`;
    server.soundcloud.addClient({ clientId: CLIENT_ID, clientSecret, redirectUris: [redirectUri] });
    const cli = startLogin();
    const page = await newPage();
    const landing = await page.goto(await shim.nextUrl());
    expect(landing?.status()).toBe(200);
    expect(landing?.url().startsWith(`${redirectUri}?`)).toBe(true);
    expect(await page.locator('body').innerText()).toContain('You can close this window');
    const result = await cli.result;
    expect(result.code, result.stderr).toBe(0);
    expect(tokenRequests('authorization_code')[0]!.form!.redirect_uri).toBe(redirectUri);
  });

  it('ignores a redirect with the wrong state (page 400, still waiting), then completes the real one', async () => {
    const cli = startLogin();
    const url = await shim.nextUrl();
    const page = await newPage();

    const stray = await page.goto(`${redirectUri}?code=scl_code_forged_by_another_site&state=not-the-state`);
    expect(stray?.status()).toBe(400);
    expect(await page.locator('body').innerText()).toMatch(/doesn.t belong to the login in progress/);
    expect(await exitedWithin(cli, 300)).toBe(false);

    const landing = await page.goto(url);
    expect(landing?.status()).toBe(200);
    expect(landing?.url().startsWith(`${redirectUri}?`)).toBe(true);
    expect(await page.locator('body').innerText()).toContain('You can close this window');
    const result = await cli.result;
    expect(result.code, result.stderr).toBe(0);

    const exchanges = tokenRequests('authorization_code');
    expect(exchanges).toHaveLength(1);
    expect(exchanges[0]!.form!.code).not.toBe('scl_code_forged_by_another_site');
    const got = await get();
    expect(got.stdout).toBe(`${lastIssued()}\n`);
  });

  it('reports a denial: exit 7, the description sanitized on stderr and escaped on the page', async () => {
    server.soundcloud.authorizeMode = 'deny';
    server.soundcloud.denyDescription += '\u001b]0;pwned\u0007\r\nInjected line';
    const cli = startLogin();
    const page = await newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });

    const landing = await page.goto(await shim.nextUrl());
    expect(landing?.url().startsWith(`${redirectUri}?`)).toBe(true);
    const raw = (await landing?.text()) ?? '';
    const html = await page.content();
    for (const source of [raw, html]) {
      expect(source).toContain('&lt;script&gt;');
      expect(source).not.toContain("<script>alert('denied')</script>");
    }
    expect(await page.locator('script').count()).toBe(0);
    const text = await page.locator('body').innerText();
    expect(text).toContain('SoundCloud login was denied');
    expect(text).toContain(`<script>alert('denied')</script>`);
    expect(text).toContain(LOGIN_HINT);
    expect(dialogs).toEqual([]);

    const result = await cli.result;
    expect(result.code).toBe(7);
    expect(result.stderr).toContain(`The user said "no" & <script>alert('denied')</script> closed the window`);
    expect(result.stderr).toContain('access_denied');
    expect(result.stderr).toContain(LOGIN_HINT);
    expect(result.stderr).not.toMatch(CONTROL);
    expect(result.stderr).not.toMatch(/^Injected line/m);
    expect(tokenRequests()).toHaveLength(0);
    const status = await run(['status', 'soundcloud']);
    expect(status.code).toBe(3);
  });
});

describe('tokens login soundcloud: waiting for the browser', () => {
  it('gives up after --timeout with exit 7 and frees the port', async () => {
    const t0 = Date.now();
    const cli = startLogin(['--timeout', '2']);
    await shim.nextUrl();
    // While it waits: which redirect URI SoundCloud must be allowed to send the browser to (first hour 10).
    await cli.waitForStderr(new RegExp(`back to ${redirectUri.replace(/[.?]/g, '\\$&')}: it must be registered`));
    const result = await cli.result;
    const elapsed = Date.now() - t0;
    expect(result.code).toBe(7);
    expect(result.stderr).toMatch(/timed out after 2 s/);
    // The time-out repeats it, and the re-run carries every flag given.
    expect(result.stderr.trimEnd().split('\n').at(-1)).toContain(`come back to ${redirectUri}`);
    expect(result.stderr).toContain(`Check that ${redirectUri} is registered`);
    expect(result.stderr).toContain(
      `\`tokens login soundcloud --client-id ${CLIENT_ID} --redirect-uri ${redirectUri} --timeout 2\``,
    );
    expect(elapsed).toBeGreaterThanOrEqual(2000);
    expect(elapsed).toBeLessThan(10_000);
    await bind(port); // the listener is gone
    expect(tokenRequests()).toHaveLength(0);
  });

  it('refuses to start when the redirect port is taken: one line naming the port, exit 7', async () => {
    await bind(port);
    const result = await run(loginArgs(), { input: `${clientSecret}\n` });
    expect(result.code).toBe(7);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toContain(`port ${port}`);
    expect(lines[0]).toMatch(/in use/);
    expect(await shim.urls()).toEqual([]);
    expect(server.requests).toHaveLength(0);
    expect((await run(['status', 'soundcloud'])).code).toBe(3);
  });
});

describe('tokens login soundcloud --no-browser', () => {
  async function pastedLogin(extra: string[] = []): Promise<{ result: CliResult; location: string }> {
    const cli = startLogin(['--no-browser', '--verbose', ...extra], { keepStdinOpen: true });
    const printed = await cli.waitForStderr(/(http:\/\/127\.0\.0\.1:\d+\/soundcloud\/authorize\?\S+)/);
    const res = await fetch(printed[1]!, { redirect: 'manual' });
    await res.body?.cancel();
    expect(res.status).toBe(302);
    const location = res.headers.get('location')!;
    expect(location.startsWith(`${redirectUri}?`)).toBe(true);
    const code = new URL(location).searchParams.get('code');
    if (code) extraSecrets.push(code);
    cli.child.stdin.end(`${location}\n`);
    return { result: await cli.result, location };
  }

  it('accepts the redirected URL pasted after the secret on stdin', async () => {
    const { result } = await pastedLogin(['--scope', 'non-expiring']);
    expect(result.code, result.stderr).toBe(0);
    expect(await shim.urls()).toEqual([]); // no browser started
    const exchanges = tokenRequests('authorization_code');
    expect(exchanges).toHaveLength(1);
    expect(exchanges[0]!.form!.redirect_uri).toBe(redirectUri);
    expect(server.requests.find((r) => r.endpoint === 'authorize')!.query.scope).toBe('non-expiring');
    const got = await get();
    expect(got.code).toBe(0);
    expect(got.stdout).toBe(`${lastIssued()}\n`);
  });

  it('rejects a pasted URL with the wrong state: exit 7, nothing stored', async () => {
    server.soundcloud.authorizeMode = 'wrong-state';
    const { result } = await pastedLogin();
    expect(result.code).toBe(7);
    expect(result.stderr).toMatch(/state mismatch/);
    // The re-run hint carries the flags given (first hour 8).
    expect(result.stderr).toContain(
      `tokens login soundcloud --client-id ${CLIENT_ID} --redirect-uri ${redirectUri} --no-browser\``,
    );
    expect(tokenRequests()).toHaveLength(0);
    expect((await run(['status', 'soundcloud'])).code).toBe(3);
  });
});

describe('tokens login soundcloud --no-browser: a bad paste (first hour 8)', () => {
  it("asks again after a paste that is not this login's redirect, then takes the right one", async () => {
    const cli = startLogin(['--no-browser', '--timeout', '60'], { keepStdinOpen: true });
    const printed = await cli.waitForStderr(/(http:\/\/127\.0\.0\.1:\d+\/soundcloud\/authorize\?\S+)/);
    const res = await fetch(printed[1]!, { redirect: 'manual' });
    await res.body?.cancel();
    const location = res.headers.get('location')!;
    const code = new URL(location).searchParams.get('code');
    if (code) extraSecrets.push(code);
    cli.child.stdin.write('not a url\n');
    await cli.waitForStderr(/not a URL.*Paste it again/);
    const elsewhere = new URL(location);
    elsewhere.pathname = '/elsewhere';
    cli.child.stdin.write(`${elsewhere}\n`);
    await cli.waitForStderr(/not the redirect URI.*Paste it again/);
    const wrongState = new URL(location);
    wrongState.searchParams.set('state', 'from-another-login');
    cli.child.stdin.write(`${wrongState}\n`);
    await cli.waitForStderr(/state mismatch.*Paste it again/);
    cli.child.stdin.end(`${location}\n`);
    const result = await cli.result;
    expect(result.code, result.stderr).toBe(0);
    expect(tokenRequests('authorization_code')).toHaveLength(1);
    expect((await get()).code).toBe(0);
  });
});

describe('tokens get soundcloud (user login)', () => {
  it('rotates the single-use refresh token across two expiries', async () => {
    // 30-second tokens asked for with --min-ttl 30: a moment after a mint the token has less than
    // that left, so every such get refreshes. (Without --min-ttl the default margin for 30 s tokens
    // is half their lifetime, and the cache answers: test/cli/hostile-ground.test.ts.)
    server.soundcloud.expiresIn = 30;
    const { accessToken: t0, refreshToken: rt0 } = await login();

    const first = await get('--verbose', '--min-ttl', '30');
    expect(first.code, first.stderr).toBe(0);
    const t1 = lastIssued();
    expect(first.stdout).toBe(`${t1}\n`);
    const [rt1] = server.liveRefreshTokens('soundcloud');

    const second = await get('--min-ttl', '30');
    expect(second.code, second.stderr).toBe(0);
    const t2 = lastIssued();
    expect(second.stdout).toBe(`${t2}\n`);
    const [rt2] = server.liveRefreshTokens('soundcloud');

    expect(new Set([t0, t1, t2]).size).toBe(3);
    expect(new Set([rt0, rt1, rt2]).size).toBe(3);
    expect(tokenRequests('refresh_token').map((r) => r.form!.refresh_token)).toEqual([rt0, rt1]);
    expect(server.isRefreshTokenAlive('soundcloud', rt0)).toBe(false);
    expect(server.isRefreshTokenAlive('soundcloud', rt1!)).toBe(false);
    expect(server.liveRefreshTokens('soundcloud')).toEqual([rt2]);

    // With --min-ttl 0 the 30 s left will do: from the cache, no request.
    const before = server.requests.length;
    const cached = await get('--min-ttl', '0');
    expect(cached.stdout).toBe(`${t2}\n`);
    expect(server.requests.length).toBe(before);
  });

  it('prints the OAuth header and gives exec the SOUNDCLOUD_* variables', async () => {
    const { accessToken } = await login();
    const header = await get('--format', 'header');
    expect(header.code).toBe(0);
    expect(header.stdout).toBe(`Authorization: OAuth ${accessToken}\n`);

    const script =
      'process.stdout.write(JSON.stringify({auth: process.env.SOUNDCLOUD_AUTHORIZATION, token: process.env.SOUNDCLOUD_ACCESS_TOKEN, ' +
      'passphrase: process.env.TOKENS_PASSPHRASE ?? null, profile: process.env.TOKENS_PROFILE}))';
    const exec = await run(['exec', '--provider', 'soundcloud', '--', process.execPath, '-e', script]);
    allowedOutputs.push(exec.stdout);
    expect(exec.code, exec.stderr).toBe(0);
    expect(JSON.parse(exec.stdout)).toEqual({
      auth: `OAuth ${accessToken}`,
      token: accessToken,
      passphrase: null,
      profile: 'default',
    });
    expect(tokenRequests()).toHaveLength(1); // only the login's exchange
  });

  it('exits 4 with a login hint when the refresh token is rejected (invalid_grant)', async () => {
    const { refreshToken } = await login();
    server.soundcloud.revokeRefreshToken(refreshToken);
    const result = await get('--force-refresh');
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('invalid_grant');
    expect(result.stderr).toContain(LOGIN_HINT);
  });

  it('names the profile in the login hint when a non-default profile is rejected', async () => {
    const { refreshToken } = await login(['--profile', 'staging']);
    server.soundcloud.revokeRefreshToken(refreshToken);
    const result = await get('--profile', 'staging', '--force-refresh');
    expect(result.code).toBe(4);
    expect(result.stderr).toContain('tokens login soundcloud --profile staging');
    expect((await get()).code).toBe(3); // the default profile was never logged in
  });
});

describe('tokens login soundcloud --client-credentials', () => {
  it('mints nothing at login, mints with HTTP Basic only, renews with the refresh token, falls back when it is revoked', async () => {
    server.soundcloud.expiresIn = 30; // with --min-ttl 30, every get renews (see above)
    const login = await run(['login', 'soundcloud', '--client-credentials', '--client-id', CLIENT_ID], {
      input: `${clientSecret}\n`,
    });
    expect(login.code, login.stderr).toBe(0);
    expect(server.requests).toHaveLength(0);
    expect(await shim.urls()).toEqual([]);
    // Nothing was checked: it says so, and how to check (first hour 7).
    expect(login.stderr).not.toContain('Logged in');
    expect(login.stderr).toMatch(/Stored the SoundCloud credentials .*not verified.*`tokens get soundcloud`/);

    const first = await get('--min-ttl', '30');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe(`${lastIssued()}\n`);
    expect(server.mints('soundcloud', 'client_credentials')).toBe(1);
    const mint = tokenRequests('client_credentials')[0]!;
    expect(mint.headers.authorization).toBe(basicAuth(CLIENT_ID, clientSecret));
    expect(mint.form).toEqual({ grant_type: 'client_credentials' });
    const [rt] = server.liveRefreshTokens('soundcloud');

    const second = await get('--min-ttl', '30');
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toBe(`${lastIssued()}\n`);
    expect(server.mints('soundcloud', 'client_credentials')).toBe(1);
    expect(server.mints('soundcloud', 'refresh_token')).toBe(1);
    expect(tokenRequests('refresh_token')[0]!.form!.refresh_token).toBe(rt);

    const [rt2] = server.liveRefreshTokens('soundcloud');
    server.soundcloud.revokeRefreshToken(rt2!);
    const third = await get('--min-ttl', '30');
    expect(third.code, third.stderr).toBe(0);
    expect(third.stdout).toBe(`${lastIssued()}\n`);
    expect(server.mints('soundcloud', 'client_credentials')).toBe(2);
    const last = tokenRequests().slice(-2);
    expect(last.map((r) => [r.form!.grant_type, r.status])).toEqual([
      ['refresh_token', 400],
      ['client_credentials', 200],
    ]);
    expect(last[1]!.headers.authorization).toBe(basicAuth(CLIENT_ID, clientSecret));
    expect(last[1]!.form).toEqual({ grant_type: 'client_credentials' });
  });
});

describe('tokens logout soundcloud', () => {
  it('has no session to sign out in client-credentials mode: removes the local credentials only', async () => {
    const login = await run(['login', 'soundcloud', '--client-credentials', '--client-id', CLIENT_ID], {
      input: `${clientSecret}\n`,
    });
    expect(login.code, login.stderr).toBe(0);
    expect((await get()).code).toBe(0);
    const result = await run(['logout', 'soundcloud']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(/warning/);
    expect(server.requests.filter((r) => r.endpoint === 'sign-out')).toHaveLength(0);
    expect((await run(['status', 'soundcloud'])).code).toBe(3);
  });

  it('signs out with the current access token, then removes the local credentials', async () => {
    const { accessToken, refreshToken } = await login();
    const result = await run(['logout', 'soundcloud']);
    expect(result.code, result.stderr).toBe(0);
    const signOuts = server.requests.filter((r) => r.endpoint === 'sign-out');
    expect(signOuts).toHaveLength(1);
    expect(signOuts[0]!.headers['content-type']).toMatch(/^application\/json/);
    expect(signOuts[0]!.json).toEqual({ access_token: accessToken });
    expect(signOuts[0]!.status).toBe(200);
    expect(server.isAccessTokenAlive('soundcloud', accessToken)).toBe(false);
    expect(server.isRefreshTokenAlive('soundcloud', refreshToken)).toBe(false);
    expect((await run(['status', 'soundcloud'])).code).toBe(3);
    expect((await get()).code).toBe(3);
  });

  it('still removes the local credentials when the sign-out fails, with a warning', async () => {
    await login();
    server.fault('soundcloud', { on: 'sign-out', status: 401, body: { error: 'unauthorized' } });
    const result = await run(['logout', 'soundcloud']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/warning: could not sign out/);
    expect(server.requests.filter((r) => r.endpoint === 'sign-out')).toHaveLength(1);
    expect((await run(['status', 'soundcloud'])).code).toBe(3);
    expect((await get()).code).toBe(3);
  });

  it('refreshes an expired access token first, then signs out with the fresh one', async () => {
    server.soundcloud.expiresIn = 1;
    const { accessToken: stale, refreshToken } = await login();
    server.soundcloud.expiresIn = 3600;
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const result = await run(['logout', 'soundcloud']);
    expect(result.code, result.stderr).toBe(0);
    const refreshes = tokenRequests('refresh_token');
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]!.form!.refresh_token).toBe(refreshToken);
    const fresh = lastIssued();
    expect(fresh).not.toBe(stale);
    const signOut = server.requests.find((r) => r.endpoint === 'sign-out')!;
    expect(signOut.json).toEqual({ access_token: fresh });
    expect(signOut.status).toBe(200);
    expect(signOut.time).toBeGreaterThan(refreshes[0]!.time - 1);
    expect((await run(['status', 'soundcloud'])).code).toBe(3);
  });
});
