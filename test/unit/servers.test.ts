import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import {
  MALFORMED_MARKER,
  basicAuth,
  followAuthorization,
  makePkce,
  s256,
  startProviderServer,
  type ProviderServer,
} from '../support/servers.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const JSON_CT = { 'content-type': 'application/json' };
const REDIRECT = 'http://127.0.0.1:53682/callback';

let server: ProviderServer;

beforeEach(async () => {
  server = await startProviderServer();
  server.chartmetric.addRefreshToken('cm-refresh-1');
  server.soundcharts.addClient({ clientId: 'sc-id', clientSecret: 'sc-secret', teams: ['team-a'] });
  server.soundcloud.addClient({ clientId: 'scl-id', clientSecret: 'scl-secret', redirectUris: [REDIRECT] });
});

afterEach(async () => {
  await server.close();
});

function form(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

async function cm(refreshtoken: string): Promise<Response> {
  return fetch(server.urls.chartmetricToken, {
    method: 'POST',
    headers: JSON_CT,
    body: JSON.stringify({ refreshtoken }),
  });
}

async function scl(params: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(server.urls.soundcloudToken, { method: 'POST', headers: { ...FORM, ...headers }, body: form(params) });
}

function authorizeUrl(challenge: string, state = 'st-123', extra: Record<string, string> = {}): string {
  const u = new URL(server.urls.soundcloudAuthorize);
  const q = {
    client_id: 'scl-id',
    redirect_uri: REDIRECT,
    response_type: 'code',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    ...extra,
  };
  for (const [k, v] of Object.entries(q)) u.searchParams.set(k, v);
  return u.toString();
}

async function authorize(challenge: string, state = 'st-123'): Promise<URL> {
  const res = await fetch(authorizeUrl(challenge, state), { redirect: 'manual' });
  expect(res.status).toBe(302);
  return new URL(res.headers.get('location')!);
}

async function exchange(code: string, verifier: string, redirectUri = REDIRECT): Promise<Response> {
  return scl({
    grant_type: 'authorization_code',
    client_id: 'scl-id',
    client_secret: 'scl-secret',
    redirect_uri: redirectUri,
    code_verifier: verifier,
    code,
  });
}

async function refresh(refreshToken: string): Promise<Response> {
  return scl({
    grant_type: 'refresh_token',
    client_id: 'scl-id',
    client_secret: 'scl-secret',
    refresh_token: refreshToken,
  });
}

async function clientCredentials(): Promise<Response> {
  return scl({ grant_type: 'client_credentials' }, { authorization: basicAuth('scl-id', 'scl-secret') });
}

describe('urls and env', () => {
  it('points every variable at the local server', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.env()).toEqual({
      TOKENS_CHARTMETRIC_TOKEN_URL: `${server.url}/chartmetric/api/token`,
      TOKENS_SOUNDCHARTS_TOKEN_URL: `${server.url}/soundcharts/oauth/token`,
      TOKENS_SOUNDCLOUD_AUTHORIZE_URL: `${server.url}/soundcloud/authorize`,
      TOKENS_SOUNDCLOUD_TOKEN_URL: `${server.url}/soundcloud/oauth/token`,
      TOKENS_SOUNDCLOUD_SIGNOUT_URL: `${server.url}/soundcloud/sign-out`,
    });
  });
});

describe('chartmetric', () => {
  it('exchanges a refresh token', async () => {
    const res = await cm('cm-refresh-1');
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.token).toMatch(/^cm_at_/);
    expect(body).toMatchObject({ expires_in: 3600, refresh_token: 'cm-refresh-1', scope: 'api' });
    expect(server.isAccessTokenAlive('chartmetric', body.token as string)).toBe(true);
    expect(server.mints('chartmetric')).toBe(1);
    expect(server.violations).toEqual([]);
    const rec = server.requests[0]!;
    expect(rec).toMatchObject({ provider: 'chartmetric', endpoint: 'token', method: 'POST', status: 200 });
    expect(rec.json).toEqual({ refreshtoken: 'cm-refresh-1' });
    expect(rec.headers['content-type']).toBe('application/json');
  });

  it('rejects unknown tokens with 401 and bad requests with 400/405 as violations', async () => {
    const res = await cm('nope');
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');
    expect(server.violations).toEqual([]);

    const malformed = await fetch(server.urls.chartmetricToken, {
      method: 'POST',
      headers: JSON_CT,
      body: '{"refreshtoken":',
    });
    expect(malformed.status).toBe(400);
    const missing = await fetch(server.urls.chartmetricToken, {
      method: 'POST',
      headers: JSON_CT,
      body: '{"refresh_token":"x"}',
    });
    expect(missing.status).toBe(400);
    const wrongType = await fetch(server.urls.chartmetricToken, {
      method: 'POST',
      headers: FORM,
      body: 'refreshtoken=cm-refresh-1',
    });
    expect(wrongType.status).toBe(400);
    const get = await fetch(server.urls.chartmetricToken);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(server.violations).toHaveLength(4);
    expect(server.mints('chartmetric')).toBe(0);
  });

  it('flags a refresh token sent with whitespace', async () => {
    expect((await cm(' cm-refresh-1\n')).status).toBe(401);
    expect(server.violations.join('\n')).toMatch(/whitespace/);
  });

  it('rotates refresh tokens when asked; the old one then fails', async () => {
    server.chartmetric.rotate = true;
    const first = (await (await cm('cm-refresh-1')).json()) as { refresh_token: string };
    expect(first.refresh_token).not.toBe('cm-refresh-1');
    expect(server.isRefreshTokenAlive('chartmetric', 'cm-refresh-1')).toBe(false);
    expect(server.isRefreshTokenAlive('chartmetric', first.refresh_token)).toBe(true);
    expect(server.liveRefreshTokens('chartmetric')).toEqual([first.refresh_token]);
    expect((await cm('cm-refresh-1')).status).toBe(401);
    expect(server.violations.join('\n')).toMatch(/reused/);
    expect((await cm(first.refresh_token)).status).toBe(200);
  });
});

describe('soundcharts', () => {
  const url = () => server.urls.soundchartsToken;
  const auth = { authorization: basicAuth('sc-id', 'sc-secret') };

  it('mints with HTTP Basic and an allowed team', async () => {
    const res = await fetch(url(), {
      method: 'POST',
      headers: { ...FORM, ...auth },
      body: form({ grant_type: 'client_credentials', team_id: 'team-a' }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.access_token).toMatch(/^sc_at_/);
    expect(body).toMatchObject({ token_type: 'bearer', expires_in: 3600, refresh_token: null });
    expect(server.violations).toEqual([]);
    expect(server.mints('soundcharts')).toBe(1);
  });

  it('answers 401/400/403/405 as documented', async () => {
    const wrongSecret = await fetch(url(), {
      method: 'POST',
      headers: { ...FORM, authorization: basicAuth('sc-id', 'bad') },
      body: form({ grant_type: 'client_credentials' }),
    });
    expect(wrongSecret.status).toBe(401);
    expect(await wrongSecret.json()).toMatchObject({ error: 'invalid_client' });
    expect(server.violations).toEqual([]);

    const team = await fetch(url(), {
      method: 'POST',
      headers: { ...FORM, ...auth },
      body: form({ grant_type: 'client_credentials', team_id: 'team-b' }),
    });
    expect(team.status).toBe(403);
    expect(await team.json()).toMatchObject({ error: 'access_denied' });
    expect(server.violations).toEqual([]);

    const noBasic = await fetch(url(), {
      method: 'POST',
      headers: FORM,
      body: form({ grant_type: 'client_credentials' }),
    });
    expect(noBasic.status).toBe(401);
    const inBody = await fetch(url(), {
      method: 'POST',
      headers: FORM,
      body: form({ grant_type: 'client_credentials', client_id: 'sc-id', client_secret: 'sc-secret' }),
    });
    expect(inBody.status).toBe(401);
    const grant = await fetch(url(), {
      method: 'POST',
      headers: { ...FORM, ...auth },
      body: form({ grant_type: 'password' }),
    });
    expect(grant.status).toBe(400);
    expect(await grant.json()).toMatchObject({ error: 'unsupported_grant_type' });
    const noGrant = await fetch(url(), { method: 'POST', headers: { ...FORM, ...auth }, body: '' });
    expect(noGrant.status).toBe(400);
    expect(await noGrant.json()).toMatchObject({ error: 'invalid_request' });
    const scope = await fetch(url(), {
      method: 'POST',
      headers: { ...FORM, ...auth },
      body: form({ grant_type: 'client_credentials', scope: 'x' }),
    });
    expect(scope.status).toBe(400);
    const put = await fetch(url(), {
      method: 'PUT',
      headers: { ...FORM, ...auth },
      body: form({ grant_type: 'client_credentials' }),
    });
    expect(put.status).toBe(405);
    expect(server.violations).toHaveLength(6);
    expect(server.mints('soundcharts')).toBe(0);
  });
});

describe('soundcloud authorization code + PKCE', () => {
  it('issues tokens for the right verifier', async () => {
    const { verifier, challenge } = makePkce();
    const loc = await authorize(challenge);
    expect(`${loc.origin}${loc.pathname}`).toBe(REDIRECT);
    expect(loc.searchParams.get('state')).toBe('st-123');
    const code = loc.searchParams.get('code')!;
    const res = await exchange(code, verifier);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.access_token).toMatch(/^scl_at_/);
    expect(body.refresh_token).toMatch(/^scl_rt_/);
    expect(body).toMatchObject({ token_type: 'bearer', expires_in: 3600, scope: '' });
    expect(server.isRefreshTokenAlive('soundcloud', body.refresh_token as string)).toBe(true);
    expect(server.mints('soundcloud', 'authorization_code')).toBe(1);
    expect(server.violations).toEqual([]);
  });

  it('accepts Basic client authentication for the code exchange', async () => {
    const { verifier, challenge } = makePkce();
    const code = (await authorize(challenge)).searchParams.get('code')!;
    const res = await scl(
      { grant_type: 'authorization_code', redirect_uri: REDIRECT, code_verifier: verifier, code },
      { authorization: basicAuth('scl-id', 'scl-secret') },
    );
    expect(res.status).toBe(200);
    expect(server.violations).toEqual([]);
  });

  it('rejects a wrong verifier with invalid_grant', async () => {
    const { challenge } = makePkce();
    const code = (await authorize(challenge)).searchParams.get('code')!;
    const res = await exchange(code, makePkce().verifier);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_grant' });
    expect(server.violations.join('\n')).toMatch(/code_verifier does not match/);
    expect(s256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });

  it('rejects a redirect_uri that differs from the authorize one', async () => {
    server.soundcloud.addClient({
      clientId: 'scl-id',
      clientSecret: 'scl-secret',
      redirectUris: [REDIRECT, `${REDIRECT}2`],
    });
    const { verifier, challenge } = makePkce();
    const code = (await authorize(challenge)).searchParams.get('code')!;
    expect((await exchange(code, verifier, `${REDIRECT}2`)).status).toBe(400);
  });

  it('codes are single-use, and reuse revokes what the code produced', async () => {
    const { verifier, challenge } = makePkce();
    const code = (await authorize(challenge)).searchParams.get('code')!;
    const first = (await (await exchange(code, verifier)).json()) as { access_token: string; refresh_token: string };
    const again = await exchange(code, verifier);
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_grant' });
    expect(server.isRefreshTokenAlive('soundcloud', first.refresh_token)).toBe(false);
    expect(server.isAccessTokenAlive('soundcloud', first.access_token)).toBe(false);
    expect(server.violations.join('\n')).toMatch(/authorization code reused/);
  });

  it('validates the authorize request', async () => {
    const { challenge } = makePkce();
    const unregistered = await fetch(authorizeUrl(challenge, 's', { redirect_uri: 'http://127.0.0.1:1/evil' }), {
      redirect: 'manual',
    });
    expect(unregistered.status).toBe(400);
    expect(unregistered.headers.get('location')).toBeNull();
    expect(unregistered.headers.get('content-type')).toMatch(/text\/html/);
    const unknownClient = await fetch(authorizeUrl(challenge, 's', { client_id: 'who' }), { redirect: 'manual' });
    expect(unknownClient.status).toBe(400);
    expect(server.violations).toEqual([]);

    const plain = await fetch(authorizeUrl(challenge, 's', { code_challenge_method: 'plain' }), { redirect: 'manual' });
    expect(plain.status).toBe(302);
    expect(new URL(plain.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
    const short = await fetch(authorizeUrl('abc', 's'), { redirect: 'manual' });
    expect(new URL(short.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
    expect(server.violations).toHaveLength(2);
  });

  it('records the scope only when sent and answers it', async () => {
    const { verifier, challenge } = makePkce();
    const res = await fetch(authorizeUrl(challenge, 's', { scope: 'non-expiring' }), { redirect: 'manual' });
    const code = new URL(res.headers.get('location')!).searchParams.get('code')!;
    expect(((await (await exchange(code, verifier)).json()) as { scope: string }).scope).toBe('non-expiring');
    expect(server.requests[0]!.query.scope).toBe('non-expiring');
  });

  it('deny mode redirects with access_denied and a hostile description', async () => {
    server.soundcloud.authorizeMode = 'deny';
    const loc = await authorize(makePkce().challenge, 'st-9');
    expect(loc.searchParams.get('error')).toBe('access_denied');
    expect(loc.searchParams.get('error_description')).toContain('<script>');
    expect(loc.searchParams.get('error_description')).toContain('"');
    expect(loc.searchParams.get('state')).toBe('st-9');
    expect(loc.searchParams.get('code')).toBeNull();
  });

  it('wrong-state mode returns a different state', async () => {
    server.soundcloud.authorizeMode = 'wrong-state';
    const loc = await authorize(makePkce().challenge, 'st-9');
    expect(loc.searchParams.get('code')).toBeTruthy();
    expect(loc.searchParams.get('state')).not.toBe('st-9');
  });

  it('page mode serves a consent form that leads to the redirect', async () => {
    server.soundcloud.authorizeMode = 'page';
    const { verifier, challenge } = makePkce();
    const page = await fetch(authorizeUrl(challenge, 'st-p'), { redirect: 'manual' });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('id="approve"');
    const txn = /name="txn" value="([^"]+)"/.exec(html)![1]!;
    const decided = await fetch(`${server.url}/soundcloud/authorize/decision`, {
      method: 'POST',
      headers: FORM,
      body: form({ txn, decision: 'approve' }),
      redirect: 'manual',
    });
    expect(decided.status).toBe(302);
    const loc = new URL(decided.headers.get('location')!);
    expect(loc.searchParams.get('state')).toBe('st-p');
    expect((await exchange(loc.searchParams.get('code')!, verifier)).status).toBe(200);
  });

  it('followAuthorization plays the browser against a loopback listener', async () => {
    const hits: string[] = [];
    const listener = http.createServer((req, res) => {
      hits.push(req.url ?? '');
      res.end('You can close this window.');
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const port = (listener.address() as { port: number }).port;
    const redirect = `http://127.0.0.1:${port}/cb`;
    server.soundcloud.addClient({ clientId: 'scl-id', clientSecret: 'scl-secret', redirectUris: [redirect] });
    server.soundcloud.authorizeMode = 'page';
    try {
      const u = new URL(authorizeUrl(makePkce().challenge, 'st-f', { redirect_uri: redirect }));
      const out = await followAuthorization(u.toString());
      expect(out.status).toBe(200);
      expect(out.body).toContain('close this window');
      expect(hits[0]).toMatch(/^\/cb\?code=scl_code_.*&state=st-f$/);
    } finally {
      await new Promise<void>((r) => listener.close(() => r()));
    }
  });
});

describe('soundcloud refresh tokens', () => {
  it('rotate on every use; reuse revokes the whole family', async () => {
    const rt0 = server.soundcloud.issueRefreshToken('scl-id');
    const r1 = (await (await refresh(rt0)).json()) as { refresh_token: string; access_token: string };
    expect(r1.refresh_token).not.toBe(rt0);
    expect(server.isRefreshTokenAlive('soundcloud', rt0)).toBe(false);
    const r2 = (await (await refresh(r1.refresh_token)).json()) as { refresh_token: string; access_token: string };
    expect(server.isRefreshTokenAlive('soundcloud', r2.refresh_token)).toBe(true);
    expect(server.violations).toEqual([]);

    // A loser of a race replays r1: refused, and the winner's r2 dies too.
    const replay = await refresh(r1.refresh_token);
    expect(replay.status).toBe(400);
    expect(await replay.json()).toEqual({ error: 'invalid_grant', error_description: 'Invalid refresh token' });
    expect(server.isRefreshTokenAlive('soundcloud', r2.refresh_token)).toBe(false);
    expect(server.isAccessTokenAlive('soundcloud', r2.access_token)).toBe(false);
    expect((await refresh(r2.refresh_token)).status).toBe(400);
    expect(server.violations).toHaveLength(1);
    expect(server.mints('soundcloud', 'refresh_token')).toBe(2);
  });

  it('without revokeOnReuse only the replayed token is refused', async () => {
    server.soundcloud.revokeOnReuse = false;
    const rt0 = server.soundcloud.issueRefreshToken('scl-id');
    const r1 = (await (await refresh(rt0)).json()) as { refresh_token: string };
    expect((await refresh(rt0)).status).toBe(400);
    expect(server.isRefreshTokenAlive('soundcloud', r1.refresh_token)).toBe(true);
  });

  it('wrong client secret is invalid_client; Basic and body together is invalid_request', async () => {
    const rt = server.soundcloud.issueRefreshToken('scl-id');
    const wrong = await scl({
      grant_type: 'refresh_token',
      client_id: 'scl-id',
      client_secret: 'x',
      refresh_token: rt,
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_client' });
    const both = await scl(
      { grant_type: 'refresh_token', client_id: 'scl-id', client_secret: 'scl-secret', refresh_token: rt },
      { authorization: basicAuth('scl-id', 'scl-secret') },
    );
    expect(both.status).toBe(400);
    expect(server.isRefreshTokenAlive('soundcloud', rt)).toBe(true);
    const viaBasic = await scl(
      { grant_type: 'refresh_token', refresh_token: rt },
      { authorization: basicAuth('scl-id', 'scl-secret') },
    );
    expect(viaBasic.status).toBe(200);
  });
});

describe('soundcloud client credentials', () => {
  it('mints with Basic only and issues a usable refresh token', async () => {
    const res = await clientCredentials();
    expect(res.status).toBe(200);
    const body = (await res.json()) as { access_token: string; refresh_token: string };
    expect(server.violations).toEqual([]);
    expect((await refresh(body.refresh_token)).status).toBe(200);
    expect((await refresh(body.refresh_token)).status).toBe(400);
    expect(server.mints('soundcloud', 'client_credentials')).toBe(1);
  });

  it('refuses credentials in the body and records a violation', async () => {
    const res = await scl({ grant_type: 'client_credentials', client_id: 'scl-id', client_secret: 'scl-secret' });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'invalid_client' });
    expect(server.violations.join('\n')).toMatch(/only HTTP Basic/);
    const none = await scl({ grant_type: 'client_credentials' });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect(server.violations).toHaveLength(2);
    expect(server.mints('soundcloud')).toBe(0);
  });

  it('enforces the per-client mint limit with Retry-After', async () => {
    server.soundcloud.clientCredentialsLimit = 2;
    expect((await clientCredentials()).status).toBe(200);
    expect((await clientCredentials()).status).toBe(200);
    const limited = await clientCredentials();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(40000);
    server.soundcloud.resetClientCredentialsCount();
    expect((await clientCredentials()).status).toBe(200);
    expect(server.mints('soundcloud', 'client_credentials')).toBe(3);
  });
});

describe('soundcloud sign-out', () => {
  async function signOut(body: string): Promise<Response> {
    return fetch(server.urls.soundcloudSignOut, { method: 'POST', headers: JSON_CT, body });
  }

  it('invalidates the session; a second sign-out is unauthorized', async () => {
    const t = server.soundcloud.issueTokens('scl-id');
    expect(server.isAccessTokenAlive('soundcloud', t.accessToken)).toBe(true);
    const ok = await signOut(JSON.stringify({ access_token: t.accessToken }));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({});
    expect(server.isAccessTokenAlive('soundcloud', t.accessToken)).toBe(false);
    expect(server.isRefreshTokenAlive('soundcloud', t.refreshToken)).toBe(false);
    const again = await signOut(JSON.stringify({ access_token: t.accessToken }));
    expect(again.status).toBe(401);
    expect(await again.json()).toEqual({ error: 'unauthorized' });
    expect(server.violations).toEqual([]);
  });

  it('missing token is bad_request', async () => {
    const res = await signOut('{}');
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'bad_request' });
    expect(server.violations).toHaveLength(1);
  });

  it('faults can target sign-out', async () => {
    const t = server.soundcloud.issueTokens('scl-id');
    server.fault('soundcloud', { status: 503, on: 'sign-out' });
    expect((await clientCredentials()).status).toBe(200);
    expect((await signOut(JSON.stringify({ access_token: t.accessToken }))).status).toBe(503);
    expect(server.isAccessTokenAlive('soundcloud', t.accessToken)).toBe(true);
  });
});

describe('faults', () => {
  it('queue: each fault is used once, in order, then normal service resumes', async () => {
    server.fault('chartmetric', [{ status: 503 }, { status: 502, body: 'bad gateway' }]);
    expect(server.pendingFaults('chartmetric')).toBe(2);
    const a = await cm('cm-refresh-1');
    expect(a.status).toBe(503);
    expect(a.headers.get('content-type')).toMatch(/text\/html/);
    const b = await cm('cm-refresh-1');
    expect(b.status).toBe(502);
    expect(await b.text()).toBe('bad gateway');
    expect((await cm('cm-refresh-1')).status).toBe(200);
    expect(server.pendingFaults()).toBe(0);
    expect(server.mints('chartmetric')).toBe(1);
    expect(server.count('chartmetric')).toBe(3);
    expect(server.count('chartmetric', '/api/token')).toBe(3);
    expect(server.count('soundcloud')).toBe(0);
    expect(server.requests.map((r) => r.status)).toEqual([503, 502, 200]);
  });

  it('faultAlways applies until clearFaults', async () => {
    server.faultAlways('soundcharts', { status: 500 });
    const call = () =>
      fetch(server.urls.soundchartsToken, {
        method: 'POST',
        headers: { ...FORM, authorization: basicAuth('sc-id', 'sc-secret') },
        body: form({ grant_type: 'client_credentials' }),
      });
    expect((await call()).status).toBe(500);
    expect((await call()).status).toBe(500);
    server.clearFaults();
    expect((await call()).status).toBe(200);
  });

  it('429 sets Retry-After and X-RateLimit-Reset', async () => {
    const date = new Date(Date.now() + 5000);
    server.fault('chartmetric', [
      { status: 429, retryAfter: 2 },
      { status: 429, retryAfter: date },
      { status: 429, rateLimitReset: 1234567890 },
      { status: 429 },
    ]);
    const a = await cm('cm-refresh-1');
    expect(a.status).toBe(429);
    expect(a.headers.get('retry-after')).toBe('2');
    expect((await cm('cm-refresh-1')).headers.get('retry-after')).toBe(date.toUTCString());
    const c = await cm('cm-refresh-1');
    expect(c.headers.get('x-ratelimit-reset')).toBe('1234567890');
    expect(c.headers.get('retry-after')).toBeNull();
    const d = await cm('cm-refresh-1');
    expect(d.headers.get('retry-after')).toBeNull();
    expect(d.headers.get('x-ratelimit-reset')).toBeNull();
  });

  it('malformed, missing field and redirect', async () => {
    server.fault('soundcloud', [
      { kind: 'malformed' },
      { kind: 'missing', field: 'access_token' },
      { kind: 'redirect', location: 'http://127.0.0.1:1/x' },
    ]);
    const a = await clientCredentials();
    expect(a.status).toBe(200);
    const text = await a.text();
    expect(text).toContain(MALFORMED_MARKER);
    expect(() => JSON.parse(text) as unknown).toThrow();
    const b = (await (await clientCredentials()).json()) as Record<string, unknown>;
    expect(b.access_token).toBeUndefined();
    expect(b.refresh_token).toMatch(/^scl_rt_/);
    const c = await fetch(server.urls.soundcloudToken, {
      method: 'POST',
      headers: { ...FORM, authorization: basicAuth('scl-id', 'scl-secret') },
      body: form({ grant_type: 'client_credentials' }),
      redirect: 'manual',
    });
    expect(c.status).toBe(302);
    expect(c.headers.get('location')).toBe('http://127.0.0.1:1/x');
    expect(server.mints('soundcloud')).toBe(1);
  });

  it('afterProcessing: a 504 after the refresh was applied leaves the old token spent', async () => {
    const rt = server.soundcloud.issueRefreshToken('scl-id');
    server.fault('soundcloud', { status: 504, afterProcessing: true });
    expect((await refresh(rt)).status).toBe(504);
    expect(server.isRefreshTokenAlive('soundcloud', rt)).toBe(false);
    expect(server.liveRefreshTokens('soundcloud')).toHaveLength(1);
  });

  it('reset destroys the connection', async () => {
    server.fault('chartmetric', { kind: 'reset' });
    await expect(cm('cm-refresh-1')).rejects.toThrow();
    expect((await cm('cm-refresh-1')).status).toBe(200);
  });

  it('delay fault and delayMs add latency', async () => {
    server.fault('chartmetric', { kind: 'delay', ms: 150 });
    let t0 = Date.now();
    expect((await cm('cm-refresh-1')).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    server.delayMs = 100;
    t0 = Date.now();
    expect((await cm('cm-refresh-1')).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    const rec = server.requests[1]!;
    expect(rec.finishedAt! - rec.time).toBeGreaterThanOrEqual(90);
  });

  it('hang never answers, and close() does not wait for it', async () => {
    server.fault('chartmetric', { kind: 'hang' });
    const pending = cm('cm-refresh-1');
    pending.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    expect(server.count('chartmetric')).toBe(1);
    expect(server.requests[0]!.status).toBeUndefined();
    // The hang never ends: a close() that waited for it would never resolve.
    await server.close();
    await expect(pending).rejects.toThrow();
    await server.close(); // idempotent
  });

  it('close() interrupts a pending delay', async () => {
    // Longer than the test's own time-out: a close() that waited for the delay would fail the test.
    server.delayMs = 3_600_000;
    const pending = cm('cm-refresh-1');
    pending.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    await server.close();
    await expect(pending).rejects.toThrow();
    expect(server.mints('chartmetric')).toBe(0);
  });
});

describe('observation', () => {
  it('records unknown paths as violations and resetLog empties the logs', async () => {
    const res = await fetch(`${server.url}/soundcloud/oauth2/token`, { method: 'POST' });
    expect(res.status).toBe(404);
    expect(server.requests[0]).toMatchObject({ provider: 'soundcloud', endpoint: 'unknown' });
    expect(server.violations).toHaveLength(1);
    server.resetLog();
    expect(server.requests).toHaveLength(0);
    expect(server.violations).toHaveLength(0);
  });

  it('records headers lower-case and parses form bodies', async () => {
    await clientCredentials();
    const rec = server.requests[0]!;
    expect(rec.headers.authorization).toBe(basicAuth('scl-id', 'scl-secret'));
    expect(rec.form).toEqual({ grant_type: 'client_credentials' });
    expect(rec.body).toBe('grant_type=client_credentials');
    expect(server.issued[0]).toMatchObject({
      provider: 'soundcloud',
      grantType: 'client_credentials',
      clientId: 'scl-id',
    });
  });
});
