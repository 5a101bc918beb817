// The OAuth 2.0 grants tokens sends (after oauth4webapi): per grant, a request function that sends
// what RFC 6749 says and nothing else, and one strict processor of the answer. How the client
// authenticates is a strategy of the client (HTTP Basic, or its credentials in the form body), since
// providers differ there and even between grants (SoundCloud: Basic only for client credentials,
// the body for the other two). Every secret a request carries is handed on for redaction, so an
// answer that echoes one never shows it. The refresh and code grants spend a single-use secret
// (RFC 6749 §10.5 for codes; SoundCloud's refresh tokens, and any that rotate): they say so here,
// once for every adapter, so the HTTP layer does not send one again where the server may already
// have accepted it. A provider's adapter keeps only its data and what is truly its own
// (Chartmetric's JSON exchange is not an OAuth grant and stays in its adapter).
import { sendTokenRequest, type SingleUseSecret, type TokenResponse } from '../http/http.js';
import { basicAuth, ExpiresIn, formBody, processTokenResponse } from './oauth.js';
import * as z from '../base/zod.js';
import type { Runtime } from '../model/runtime.js';

export type ClientAuthentication = 'basic' | 'body';

export interface OAuthClient {
  id: string;
  secret: string;
  authentication: ClientAuthentication;
}

/** Where a grant is sent, and what messages about it say. */
export interface TokenEndpoint {
  /** For messages: "SoundCloud". */
  providerTitle: string;
  url: string;
  /** Printed after a rejection, e.g. "Run `tokens login soundcloud`." */
  loginHint: string;
  /**
   * The command that logs in again, e.g. "tokens login soundcloud": named when a single-use secret
   * was sent and its answer lost, so the next call may find it spent.
   */
  loginCommand: string;
}

/** A token answer (RFC 6749 §5.1) as the providers send it; what each grant requires on top is below. */
const TokenAnswer = z.object({
  access_token: z.string().check(z.minLength(1)),
  token_type: z.nullish(z.string()),
  expires_in: ExpiresIn,
  refresh_token: z.nullish(z.string().check(z.minLength(1))),
  scope: z.nullish(z.string()),
});
const NextRefreshToken = { refresh_token: z.string().check(z.minLength(1)) };

export type GrantAnswer = z.infer<typeof TokenAnswer>;

/** What a provider documents about its answers. */
export interface AnswerRules {
  /** The token_type it documents (compared case-insensitively, RFC 6749 §7.1); unset: any, or none. */
  tokenType?: string;
}

/** The client's credentials as its strategy places them: a header, or two form fields. */
function authenticate(client: OAuthClient): {
  headers: Record<string, string>;
  fields: Record<string, string>;
  secrets: string[];
} {
  if (client.authentication === 'basic') {
    const authorization = basicAuth(client.id, client.secret);
    return { headers: { authorization }, fields: {}, secrets: [client.secret, authorization.slice('Basic '.length)] };
  }
  return { headers: {}, fields: { client_id: client.id, client_secret: client.secret }, secrets: [client.secret] };
}

/**
 * A form POST of one grant; `secrets` are the grant's own secret values (a refresh token, a code),
 * `spends` the single-use one among them, if any.
 */
function grantRequest(
  deps: Runtime,
  endpoint: TokenEndpoint,
  client: OAuthClient,
  fields: Record<string, string | undefined>,
  secrets: readonly string[],
  spends?: SingleUseSecret,
): Promise<TokenResponse> {
  const auth = authenticate(client);
  return sendTokenRequest(deps, {
    providerTitle: endpoint.providerTitle,
    url: endpoint.url,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth.headers },
    body: formBody({ ...fields, ...auth.fields }),
    secrets: [...auth.secrets, ...secrets],
    ...(spends ? { spends } : {}),
  });
}

/** RFC 6749 §4.4; `extra` carries provider parameters (Soundcharts' team_id). */
export function clientCredentialsGrantRequest(
  deps: Runtime,
  endpoint: TokenEndpoint,
  client: OAuthClient,
  extra: Record<string, string | undefined> = {},
): Promise<TokenResponse> {
  return grantRequest(deps, endpoint, client, { grant_type: 'client_credentials', ...extra }, []);
}

/**
 * RFC 6749 §6. The refresh token is taken as single-use: SoundCloud's are ("Each refresh token is
 * single-use"), rotation is what RFC 9700 asks of refresh tokens, and Chartmetric's long-lived ones
 * do not go through this grant.
 */
export function refreshTokenGrantRequest(
  deps: Runtime,
  endpoint: TokenEndpoint,
  client: OAuthClient,
  refreshToken: string,
): Promise<TokenResponse> {
  return grantRequest(
    deps,
    endpoint,
    client,
    { grant_type: 'refresh_token', refresh_token: refreshToken },
    [refreshToken],
    {
      secret: 'refresh token',
      hint: `If the next call says to log in again, run \`${endpoint.loginCommand}\`.`,
    },
  );
}

/** RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.5). */
export function authorizationCodeGrantRequest(
  deps: Runtime,
  endpoint: TokenEndpoint,
  client: OAuthClient,
  grant: { code: string; redirect_uri: string; code_verifier: string },
): Promise<TokenResponse> {
  return grantRequest(
    deps,
    endpoint,
    client,
    {
      grant_type: 'authorization_code',
      redirect_uri: grant.redirect_uri,
      code_verifier: grant.code_verifier,
      code: grant.code,
    },
    [grant.code, grant.code_verifier],
    // Whatever became of it, this login cannot finish: the code is spent or its answer lost.
    { secret: 'authorization code', hint: `Run \`${endpoint.loginCommand}\` again.` },
  );
}

/**
 * RFC 6749 §4.4.3: the answer to client credentials. A refresh token is optional (SoundCloud issues
 * one with app tokens; Soundcharts sends null).
 */
export function processClientCredentialsResponse(
  response: TokenResponse,
  endpoint: TokenEndpoint,
  rules: AnswerRules = {},
): GrantAnswer {
  return processAnswer(response, endpoint, answerSchema(rules, false));
}

/**
 * RFC 6749 §6: the answer to a refresh. The refresh token sent is spent (single-use, see
 * refreshTokenGrantRequest), so the answer must carry the next one (`rotation: 'required'`) unless
 * the client has another way on: an app that can mint afresh with its client credentials.
 */
export function processRefreshTokenResponse(
  response: TokenResponse,
  endpoint: TokenEndpoint,
  rules: AnswerRules & { rotation: 'required' | 'optional' },
): GrantAnswer {
  return processAnswer(response, endpoint, answerSchema(rules, rules.rotation === 'required'));
}

/**
 * RFC 6749 §4.1.4: the answer to a code exchange. tokens keeps a login only through its refresh
 * token (OAuth 2.1: access tokens are short-lived), so one is required.
 */
export function processAuthorizationCodeResponse(
  response: TokenResponse,
  endpoint: TokenEndpoint,
  rules: AnswerRules = {},
): GrantAnswer & { refresh_token: string } {
  return processAnswer(response, endpoint, answerSchema(rules, true)) as GrantAnswer & { refresh_token: string };
}

function answerSchema(rules: AnswerRules, requireRefreshToken: boolean) {
  const tokenType = rules.tokenType?.toLowerCase();
  return z.extend(TokenAnswer, {
    ...(tokenType === undefined
      ? {}
      : { token_type: z.string().check(z.refine((value) => value.toLowerCase() === tokenType)) }),
    ...(requireRefreshToken ? NextRefreshToken : {}),
  });
}

/** Strictly: 200 with every field validated, or an error answer typed (rejected: exit 4; else exit 5). */
function processAnswer(response: TokenResponse, endpoint: TokenEndpoint, schema: z.ZodMiniType): GrantAnswer {
  return processTokenResponse(response, {
    providerTitle: endpoint.providerTitle,
    schema,
    loginHint: endpoint.loginHint,
  }) as GrantAnswer;
}
