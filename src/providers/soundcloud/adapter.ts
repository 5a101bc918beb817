// SoundCloud (OAuth 2.1): Authorization Code + PKCE in the browser, finished by a loopback
// listener, with single-use refresh tokens; or app-only client credentials, minted with HTTP Basic
// only and renewed with the issued refresh token (an app may mint just 50 tokens per 12 h).
import { openInBrowser } from '../../http/browser.js';
import { CredentialsRejectedError, UnavailableError } from '../../base/errors.js';
import { sendTokenRequest } from '../../http/http.js';
import { describeOAuthError, oauthErrorDetails } from '../../oauth/oauth.js';
import {
  authorizationCodeGrantRequest,
  clientCredentialsGrantRequest,
  processAuthorizationCodeResponse,
  processClientCredentialsResponse,
  processRefreshTokenResponse,
  refreshTokenGrantRequest,
  type ClientAuthentication,
  type OAuthClient,
  type TokenEndpoint,
} from '../../oauth/grants.js';
import { givenFlags, loginCommand, loginHint } from '../../model/hints.js';
import { accessToken, mintResult, refuseFlags, requireFlag } from '../common.js';
import { startCallbackListener } from './listener.js';
import { createPkce, createState } from './pkce.js';
import { DEFAULT_REDIRECT_URI, parseRedirectUri } from './redirect-uri.js';
import type { AccessToken, LoginContext, ProviderAdapter, ProviderContext, Secrets } from '../../model/model.js';

const TITLE = 'SoundCloud';
const DEFAULT_TIMEOUT_SECONDS = 300;

/** What the browser step hands to the exchange. */
type Authorization = Readonly<Record<string, string>> & {
  code: string;
  code_verifier: string;
  redirect_uri: string;
};

function isAuthorization(value: Readonly<Record<string, string>> | undefined): value is Authorization {
  return Boolean(value?.code && value.code_verifier && value.redirect_uri);
}

function clientOf(ctx: ProviderContext, secrets: Secrets, authentication: ClientAuthentication): OAuthClient {
  const id = ctx.settings.client_id;
  const secret = secrets.client_secret;
  if (!id || !secret) throw new Error('soundcloud credentials incomplete');
  return { id, secret, authentication };
}

/** The token endpoint; `hint` after a rejection, by default the login of this mode. */
function tokenEndpoint(ctx: ProviderContext, hint?: string): TokenEndpoint {
  const mode = ctx.settings.mode === 'client_credentials' ? ' --client-credentials' : '';
  return {
    providerTitle: TITLE,
    url: ctx.endpoint('token'),
    loginHint: hint ?? loginHint('soundcloud', ctx.profile, mode),
    loginCommand: loginCommand('soundcloud', ctx.profile, mode),
  };
}

/**
 * The refresh grant as SoundCloud documents it: client credentials in the form body. A user login
 * must get the next refresh token; an app can mint afresh without one.
 */
async function refreshGrant(ctx: ProviderContext, secrets: Secrets, refreshToken: string) {
  const endpoint = tokenEndpoint(ctx);
  const response = await refreshTokenGrantRequest(ctx.deps, endpoint, clientOf(ctx, secrets, 'body'), refreshToken);
  const rotation = ctx.settings.mode === 'client_credentials' ? 'optional' : 'required';
  return processRefreshTokenResponse(response, endpoint, { rotation });
}

/** Client credentials: HTTP Basic only; SoundCloud refuses credentials in the body for this grant. */
async function clientCredentialsGrant(ctx: ProviderContext, secrets: Secrets) {
  const endpoint = tokenEndpoint(ctx);
  const response = await clientCredentialsGrantRequest(ctx.deps, endpoint, clientOf(ctx, secrets, 'basic'));
  return processClientCredentialsResponse(response, endpoint);
}

function bundle(clientSecret: string, refreshToken: string | null | undefined): Secrets {
  return refreshToken ? { client_secret: clientSecret, refresh_token: refreshToken } : { client_secret: clientSecret };
}

async function mint(ctx: ProviderContext, secrets: Secrets) {
  const now = () => ctx.deps.now();
  const clientSecret = clientOf(ctx, secrets, 'body').secret;
  if (ctx.settings.mode === 'client_credentials') {
    if (secrets.refresh_token) {
      try {
        const answer = await refreshGrant(ctx, secrets, secrets.refresh_token);
        return mintResult(answer, now(), TITLE, bundle(clientSecret, answer.refresh_token ?? secrets.refresh_token));
      } catch (error) {
        if (!(error instanceof CredentialsRejectedError)) throw error;
        // The app's credentials are still good: mint afresh (this one counts against the 50 per 12 h).
        ctx.deps.debug('soundcloud: the app refresh token was rejected; minting with client credentials');
      }
    }
    const answer = await clientCredentialsGrant(ctx, secrets);
    return mintResult(answer, now(), TITLE, bundle(clientSecret, answer.refresh_token));
  }
  const refreshToken = secrets.refresh_token;
  if (!refreshToken) throw new Error('soundcloud user login without a refresh token');
  const answer = await refreshGrant(ctx, secrets, refreshToken);
  return mintResult(answer, now(), TITLE, bundle(clientSecret, answer.refresh_token));
}

/** The interactive half of the login: the browser, the listener, the code. No lock is held meanwhile. */
async function authorizeInBrowser(ctx: LoginContext, secrets: Secrets): Promise<Authorization> {
  const { deps, settings, flags } = ctx;
  const redirect = parseRedirectUri(settings.redirect_uri ?? DEFAULT_REDIRECT_URI);
  const clientId = clientOf(ctx, secrets, 'body').id;
  const pkce = createPkce();
  const state = createState();
  const timeoutSeconds = flags.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  // Every re-run hint repeats the flags given (--client-id, --redirect-uri, --no-browser, …).
  const retryCommand = loginCommand('soundcloud', ctx.profile, givenFlags(flags));
  const listener = await startCallbackListener({ redirect, state, timeoutMs: timeoutSeconds * 1000, retryCommand });
  let code: string;
  try {
    const url = new URL(ctx.endpoint('authorize'));
    const params: Record<string, string | undefined> = {
      client_id: clientId,
      redirect_uri: redirect.uri,
      response_type: 'code',
      code_challenge: pkce.challenge,
      code_challenge_method: 'S256',
      state,
      scope: settings.scope,
    };
    for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value);
    const { stderr } = deps.io;
    if (flags.browser === false) {
      stderr.write(`Open this URL in a browser to log in to SoundCloud:\n\n  ${url}\n\n`);
      stderr.write(
        `Waiting on ${redirect.uri} for the redirect; or paste the full address the browser ends up on here and press Enter.\n`,
      );
      // A paste that is not this login's redirect is asked for again, up to the time-out; at the
      // end of input, the last one's problem is the answer (nothing more can be pasted).
      let refused: string | undefined;
      const ask = (): void => {
        ctx.readLine().then(
          (line) => {
            if (line === undefined) {
              if (refused !== undefined) listener.completeFromPastedUrl(refused);
              return;
            }
            const why = listener.offerPastedUrl(line);
            if (why === undefined) return;
            refused = line;
            stderr.write(`tokens: ${why}. Paste it again and press Enter.\n`);
            ask();
          },
          () => undefined,
        );
      };
      ask();
    } else {
      const opened = await openInBrowser(url.toString(), { env: deps.env, childEnv: deps.childEnv, debug: deps.debug });
      stderr.write(
        opened
          ? `Opened your browser to log in to SoundCloud. If it did not open, visit:\n\n  ${url}\n\n`
          : `Could not start a browser. Open this URL to log in to SoundCloud:\n\n  ${url}\n\n`,
      );
      stderr.write(`Waiting up to ${timeoutSeconds} s for the login to finish…\n`);
      stderr.write(
        `SoundCloud sends the browser back to ${redirect.uri}: it must be registered as a redirect URI of your SoundCloud app, or this waits until the time-out.\n`,
      );
    }
    code = (await listener.result).code;
  } finally {
    await listener.close();
  }
  return { code, code_verifier: pkce.verifier, redirect_uri: redirect.uri };
}

/** The code exchange, run under the provider lock with the secrets persisted right after. */
async function exchangeCode(ctx: LoginContext, secrets: Secrets, authorization: Authorization) {
  const client = clientOf(ctx, secrets, 'body');
  const endpoint = tokenEndpoint(
    ctx,
    'Check the client id, client secret and redirect URI registered with your SoundCloud app, then log in again.',
  );
  const response = await authorizationCodeGrantRequest(ctx.deps, endpoint, client, authorization);
  const answer = processAuthorizationCodeResponse(response, endpoint);
  return { secrets: bundle(client.secret, answer.refresh_token), token: accessToken(answer, ctx.deps.now(), TITLE) };
}

async function signOut(ctx: ProviderContext, token: AccessToken): Promise<void> {
  const response = await sendTokenRequest(ctx.deps, {
    providerTitle: TITLE,
    url: ctx.endpoint('signout'),
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ access_token: token.access_token }),
    secrets: [token.access_token],
  });
  if (response.status >= 200 && response.status < 300) return;
  throw new UnavailableError(`SoundCloud sign-out answered ${describeOAuthError(oauthErrorDetails(response))}`);
}

export const soundcloudAdapter: ProviderAdapter = {
  planLogin(flags, previous) {
    if (flags.clientCredentials) {
      refuseFlags(flags, ['clientCredentials', 'clientId'], 'soundcloud --client-credentials');
      const reuse = previous?.mode === 'client_credentials' ? previous.client_id : undefined;
      return {
        settings: {
          mode: 'client_credentials',
          client_id: requireFlag(
            flags.clientId ?? reuse,
            '--client-id ID',
            'tokens login soundcloud --client-credentials',
          ),
        },
        secrets: ['client_secret'],
      };
    }
    refuseFlags(flags, ['clientId', 'redirectUri', 'scope', 'browser', 'timeoutSeconds'], 'soundcloud');
    const reuse = previous?.mode === 'authorization_code' ? previous : undefined;
    const clientId = requireFlag(flags.clientId ?? reuse?.client_id, '--client-id ID', 'tokens login soundcloud');
    const redirectUri = parseRedirectUri(flags.redirectUri ?? reuse?.redirect_uri ?? DEFAULT_REDIRECT_URI).uri;
    return {
      settings: {
        mode: 'authorization_code',
        client_id: clientId,
        redirect_uri: redirectUri,
        ...(flags.scope ? { scope: flags.scope } : {}),
      },
      secrets: ['client_secret'],
    };
  },
  async authorize(ctx, secrets) {
    return ctx.settings.mode === 'client_credentials' ? undefined : authorizeInBrowser(ctx, secrets);
  },
  async completeLogin(ctx, secrets, authorization) {
    // App-only credentials mint nothing until asked: every mint counts against the app's limit.
    if (ctx.settings.mode === 'client_credentials') return { secrets };
    if (!isAuthorization(authorization)) throw new Error('soundcloud login without an authorization code');
    return exchangeCode(ctx, secrets, authorization);
  },
  mint,
  signOut,
  hasSession: (settings) => settings.mode === 'authorization_code',
};
