// The grants module: each grant sends exactly its RFC 6749 fields, the client authenticates by its
// strategy (Basic header, or id and secret in the body, never both), and the processor is strict.
import { describe, expect, it } from 'vitest';
import {
  authorizationCodeGrantRequest,
  clientCredentialsGrantRequest,
  processAuthorizationCodeResponse,
  processClientCredentialsResponse,
  processRefreshTokenResponse,
  refreshTokenGrantRequest,
  type OAuthClient,
} from '../../src/oauth/grants.js';
import { json, scriptedFetch, testDeps } from '../support/deps.js';

const endpoint = {
  providerTitle: 'Test',
  url: 'https://auth.example/token',
  loginHint: 'Run `tokens login test`.',
  loginCommand: 'tokens login test --profile p',
};
const basic: OAuthClient = { id: 'cid', secret: 'csecret-value', authentication: 'basic' };
const body: OAuthClient = { ...basic, authentication: 'body' };
const BASIC_HEADER = `Basic ${Buffer.from('cid:csecret-value').toString('base64')}`;

async function sent(send: (deps: ReturnType<typeof testDeps>) => Promise<unknown>) {
  const { fetch, calls } = scriptedFetch([json(200, { access_token: 'a' })]);
  await send(testDeps({ fetch }));
  const init = calls[0]!.init;
  const headers = new Headers(init.headers as Record<string, string>);
  return {
    fields: Object.fromEntries(new URLSearchParams(String(init.body))),
    authorization: headers.get('authorization'),
    type: headers.get('content-type'),
  };
}

describe('grant requests', () => {
  it.each([
    [
      'client credentials, Basic',
      (d: ReturnType<typeof testDeps>) => clientCredentialsGrantRequest(d, endpoint, basic),
      { grant_type: 'client_credentials' },
      BASIC_HEADER,
    ],
    [
      'client credentials with a provider parameter, Basic',
      (d: ReturnType<typeof testDeps>) =>
        clientCredentialsGrantRequest(d, endpoint, basic, { team_id: 'T', absent: undefined }),
      { grant_type: 'client_credentials', team_id: 'T' },
      BASIC_HEADER,
    ],
    [
      'client credentials, in the body',
      (d: ReturnType<typeof testDeps>) => clientCredentialsGrantRequest(d, endpoint, body),
      { grant_type: 'client_credentials', client_id: 'cid', client_secret: 'csecret-value' },
      null,
    ],
    [
      'refresh token, in the body',
      (d: ReturnType<typeof testDeps>) => refreshTokenGrantRequest(d, endpoint, body, 'rt-1'),
      { grant_type: 'refresh_token', refresh_token: 'rt-1', client_id: 'cid', client_secret: 'csecret-value' },
      null,
    ],
    [
      'authorization code with PKCE, in the body',
      (d: ReturnType<typeof testDeps>) =>
        authorizationCodeGrantRequest(d, endpoint, body, {
          code: 'c',
          redirect_uri: 'http://127.0.0.1:1/cb',
          code_verifier: 'v',
        }),
      {
        grant_type: 'authorization_code',
        code: 'c',
        redirect_uri: 'http://127.0.0.1:1/cb',
        code_verifier: 'v',
        client_id: 'cid',
        client_secret: 'csecret-value',
      },
      null,
    ],
  ] as const)('%s', async (_what, send, fields, authorization) => {
    const request = await sent(send);
    expect(request.fields).toEqual(fields);
    expect(request.authorization).toBe(authorization);
    expect(request.type).toBe('application/x-www-form-urlencoded');
  });
});

describe('grants that spend a single-use secret', () => {
  const grant = { code: 'code-SECRET', redirect_uri: 'http://127.0.0.1:1/cb', code_verifier: 'verifier-SECRET' };

  it.each([
    [
      'refresh token',
      (d: ReturnType<typeof testDeps>) => refreshTokenGrantRequest(d, endpoint, body, 'rt-SECRET'),
      'If the next call says to log in again, run `tokens login test --profile p`.',
    ],
    [
      'authorization code',
      (d: ReturnType<typeof testDeps>) => authorizationCodeGrantRequest(d, endpoint, body, grant),
      'Run `tokens login test --profile p` again.',
    ],
  ] as const)('the %s grant is sent once after a 504: the server may have processed it', async (secret, send, hint) => {
    const { fetch, calls } = scriptedFetch([json(504, {}), json(200, { access_token: 'a' })]);
    const error = await send(testDeps({ fetch })).then(
      () => expect.unreachable(),
      (e: unknown) => e as Error & { exitCode: number; hint?: string },
    );
    expect(calls).toHaveLength(1);
    expect(error).toMatchObject({ exitCode: 5, hint });
    expect(error.message).toBe(
      `Test token endpoint unavailable (HTTP 504); the request was sent once, not repeated, because it spends a single-use ${secret} that Test may have accepted`,
    );
  });

  it.each([
    ['refresh token', (d: ReturnType<typeof testDeps>) => refreshTokenGrantRequest(d, endpoint, body, 'rt-SECRET')],
    ['authorization code', (d: ReturnType<typeof testDeps>) => authorizationCodeGrantRequest(d, endpoint, body, grant)],
  ] as const)('the %s grant is repeated after a 503', async (_secret, send) => {
    const { fetch, calls } = scriptedFetch([json(503, {}), json(200, { access_token: 'a' })]);
    expect((await send(testDeps({ fetch }))).status).toBe(200);
    expect(calls).toHaveLength(2);
  });

  it('the client credentials grant spends nothing single-use: repeated after a 504', async () => {
    const { fetch, calls } = scriptedFetch([json(504, {}), json(200, { access_token: 'a' })]);
    expect((await clientCredentialsGrantRequest(testDeps({ fetch }), endpoint, basic)).status).toBe(200);
    expect(calls).toHaveLength(2);
  });
});

describe('per-grant processors', () => {
  const response = (status: number, payload: unknown) => ({
    status,
    headers: new Headers(),
    text: JSON.stringify(payload),
    redact: [],
  });
  type Processor = (r: ReturnType<typeof response>) => unknown;
  const clientCredentials: Processor = (r) => processClientCredentialsResponse(r, endpoint);
  const clientCredentialsBearer: Processor = (r) =>
    processClientCredentialsResponse(r, endpoint, { tokenType: 'bearer' });
  const rotatingRefresh: Processor = (r) => processRefreshTokenResponse(r, endpoint, { rotation: 'required' });
  const appRefresh: Processor = (r) => processRefreshTokenResponse(r, endpoint, { rotation: 'optional' });
  const code: Processor = (r) => processAuthorizationCodeResponse(r, endpoint);
  const minimal = { access_token: 'a', expires_in: 3600 };
  const rotated = { ...minimal, refresh_token: 'r2' };

  it.each<[string, Processor, number, unknown, RegExp | 'ok']>([
    ['client credentials: access token and lifetime', clientCredentials, 200, minimal, 'ok'],
    ['client credentials: a refresh token is optional', clientCredentials, 200, rotated, 'ok'],
    ['client credentials: no access token', clientCredentials, 200, { expires_in: 3600 }, /access_token missing/],
    ['client credentials: no lifetime', clientCredentials, 200, { access_token: 'a' }, /expires_in/],
    ['client credentials: 201 is not documented', clientCredentials, 201, minimal, /answered HTTP 201/],
    ['documented token_type bearer', clientCredentialsBearer, 200, { ...minimal, token_type: 'bearer' }, 'ok'],
    ['token_type compared without case', clientCredentialsBearer, 200, { ...minimal, token_type: 'Bearer' }, 'ok'],
    ['documented token_type missing', clientCredentialsBearer, 200, minimal, /token_type missing/],
    [
      'documented token_type wrong',
      clientCredentialsBearer,
      200,
      { ...minimal, token_type: 'mac' },
      /token_type invalid/,
    ],
    ['refresh that must rotate: rotated', rotatingRefresh, 200, rotated, 'ok'],
    ['refresh that must rotate: no next refresh token', rotatingRefresh, 200, minimal, /refresh_token missing/],
    ['refresh of an app: no next refresh token', appRefresh, 200, minimal, 'ok'],
    ['code exchange: with a refresh token', code, 200, rotated, 'ok'],
    ['code exchange: no refresh token', code, 200, minimal, /refresh_token missing/],
    ['code exchange: an empty refresh token', code, 200, { ...minimal, refresh_token: '' }, /refresh_token invalid/],
  ])('%s', (_name, processor, status, payload, outcome) => {
    if (outcome === 'ok') expect(processor(response(status, payload))).toMatchObject({ access_token: 'a' });
    else expect(() => processor(response(status, payload))).toThrow(outcome);
  });

  it.each([clientCredentials, rotatingRefresh, code])(
    'types a rejection (exit 4, with the hint) and any other error (exit 5)',
    (processor) => {
      expect(() => processor(response(401, { error: 'invalid_client' }))).toThrow(
        expect.objectContaining({ exitCode: 4, hint: endpoint.loginHint }),
      );
      expect(() => processor(response(500, {}))).toThrow(expect.objectContaining({ exitCode: 5 }));
    },
  );
});
