// What the three providers' fake auth endpoints share: the record of a request, where a fault applies,
// the mint log, the checks every POST token endpoint makes, and the shape of a provider module.
import type { FaultKind, ProviderName, Reply } from './harness.js';
import { mediaType, oauthError, parseParams } from './harness.js';

/** Which kind of endpoint a request hit. */
export type EndpointKind = 'token' | 'authorize' | 'authorize-decision' | 'sign-out' | 'unknown';

/** Where a fault applies. Default 'token' (the provider's token endpoint). */
export type FaultTarget = 'token' | 'sign-out' | 'authorize';

/** A fault of the auth endpoints; `on` says which endpoint it applies to (default 'token'). */
export type Fault = FaultKind & { on?: FaultTarget };

export interface RecordedRequest {
  provider: ProviderName | 'unknown';
  endpoint: EndpointKind;
  /** Path without the query, e.g. '/soundcloud/oauth/token'. */
  path: string;
  /** Path and query as received. */
  url: string;
  query: Record<string, string>;
  method: string;
  /** Lower-case names; repeated headers joined with ', '. */
  headers: Record<string, string>;
  /** Raw body. */
  body: string;
  /** Parsed body when Content-Type is application/x-www-form-urlencoded. */
  form?: Record<string, string>;
  /** Parsed body when it is valid JSON. */
  json?: unknown;
  /** Date.now() when the request arrived (body read). */
  time: number;
  /** Status sent, once answered (undefined for hangs and resets). */
  status?: number;
  /** Date.now() when the answer was sent. */
  finishedAt?: number;
  /** The fault applied to this request, if any. */
  fault?: Fault;
}

export interface MintRecord {
  provider: ProviderName;
  /** 'refresh_token' for Chartmetric; 'client_credentials' for Soundcharts; the grant for SoundCloud. */
  grantType: string;
  clientId?: string;
  accessToken: string;
  time: number;
}

export interface AccessTokenInfo {
  alive: boolean;
  /** SoundCloud: the grant of the token's session ('authorization_code' or 'client_credentials'). */
  grant?: string;
}

/** What the server lends a provider module: the violation list and the mint log. */
export interface TokenContext {
  violate(rec: RecordedRequest, message: string): void;
  recordMint(provider: ProviderName, grantType: string, accessToken: string, clientId?: string): void;
}

/** One provider's auth endpoints: its paths, their answers and the state tests inspect. */
export interface ProviderAuth<Control> {
  readonly name: ProviderName;
  /** Full path → endpoint kind. */
  readonly routes: Readonly<Record<string, EndpointKind>>;
  /** The tests' handle on the provider's state and behaviour. */
  readonly control: Control;
  answer(endpoint: EndpointKind, rec: RecordedRequest, target: URL): Reply;
  /** The body of a 'malformed' fault: almost a token answer, cut short. */
  malformedBody(): string;
  isAccessTokenAlive(token: string): boolean;
  /** Whether this provider issued the access token (alive or not), and its grant where that matters. */
  describeAccessToken(token: string): AccessTokenInfo | undefined;
  isRefreshTokenAlive(token: string): boolean;
  /** Refresh tokens that would currently be accepted. */
  liveRefreshTokens(): string[];
}

/** Shared checks for POST token endpoints. Returns an error reply, or undefined to go on. */
export function postChecks(
  ctx: TokenContext,
  rec: RecordedRequest,
  target: URL,
  contentType: string,
  onBadType: () => Reply,
): Reply | undefined {
  if (rec.method !== 'POST') {
    ctx.violate(rec, `method ${rec.method} (only POST is allowed)`);
    const r = oauthError(405, 'method_not_allowed');
    r.headers.allow = 'POST';
    return r;
  }
  if (target.search !== '') ctx.violate(rec, 'query string on a POST endpoint (parameters belong in the body)');
  const ct = mediaType(rec.headers['content-type']);
  if (ct !== contentType) {
    ctx.violate(rec, `Content-Type ${ct || '(none)'} (expected ${contentType})`);
    return onBadType();
  }
  return undefined;
}

/** postChecks for an OAuth form-encoded token endpoint, then its parameters, none of them repeated. */
export function formPostChecks(
  ctx: TokenContext,
  rec: RecordedRequest,
  target: URL,
): { reply: Reply } | { form: Record<string, string> } {
  const early = postChecks(ctx, rec, target, 'application/x-www-form-urlencoded', () =>
    oauthError(400, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded'),
  );
  if (early) return { reply: early };
  const { values: form, duplicates } = parseParams(rec.body);
  if (duplicates.length > 0) {
    ctx.violate(rec, `repeated parameter(s): ${duplicates.join(', ')}`);
    return { reply: oauthError(400, 'invalid_request', 'Parameters must not be repeated') };
  }
  return { form };
}
