// Local stand-ins for the Chartmetric, Soundcharts and SoundCloud auth endpoints, for tests.
//
// One HTTP server on 127.0.0.1 serves all three providers under distinct prefixes:
//   POST /chartmetric/api/token            Chartmetric refresh-token exchange (JSON body)
//   POST /soundcharts/oauth/token          Soundcharts client credentials (HTTP Basic, form body)
//   GET  /soundcloud/authorize             SoundCloud authorization (Authorization Code + PKCE S256)
//   POST /soundcloud/authorize/decision    the "Approve"/"Deny" form of the consent page
//   POST /soundcloud/oauth/token           SoundCloud token endpoint (authorization_code, refresh_token,
//                                          client_credentials)
//   POST /soundcloud/sign-out              SoundCloud sign-out (JSON body)
//
// The servers validate strictly: a request the CLI should never send gets the realistic error status
// and is recorded in `server.violations`, so tests can assert that list stays empty. Faults (5xx, 429,
// hangs, resets, malformed answers, redirects, delays) can be queued per provider.
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';

// ───────────────────────────── public types ─────────────────────────────

export type ProviderName = 'chartmetric' | 'soundcharts' | 'soundcloud';
export const PROVIDERS: readonly ProviderName[] = ['chartmetric', 'soundcharts', 'soundcloud'];

/** Which kind of endpoint a request hit. */
export type EndpointKind = 'token' | 'authorize' | 'authorize-decision' | 'sign-out' | 'unknown';

/** Where a fault applies. Default 'token' (the provider's token endpoint). */
export type FaultTarget = 'token' | 'sign-out' | 'authorize';

export type AuthorizeMode = 'approve' | 'deny' | 'wrong-state' | 'page';

interface FaultBase {
  /** Endpoint the fault applies to; default 'token'. */
  on?: FaultTarget;
}

/**
 * Answer with this status instead of processing. 429 with `retryAfter` sets `Retry-After`
 * (a number → seconds, a string → sent as is, a Date → HTTP date); `rateLimitReset` sets
 * `X-RateLimit-Reset` (sent as is) and `X-RateLimit-Remaining: 0`.
 * With `afterProcessing: true` the request is processed first (tokens issued, refresh token rotated)
 * and the answer is then replaced by this status, like a 504 from a gateway whose upstream succeeded.
 */
export interface StatusFault extends FaultBase {
  kind?: undefined;
  status: number;
  /** Raw string body, or an object sent as JSON. A default body per status otherwise. */
  body?: string | Record<string, unknown>;
  headers?: Record<string, string>;
  retryAfter?: number | string | Date;
  rateLimitReset?: number;
  afterProcessing?: boolean;
}
/** Accept the request and never answer. close() destroys the socket. */
export interface HangFault extends FaultBase {
  kind: 'hang';
  afterProcessing?: boolean;
}
/** Destroy the socket (TCP RST) without answering. */
export interface ResetFault extends FaultBase {
  kind: 'reset';
  afterProcessing?: boolean;
}
/** 200 with a body that is not JSON. Nothing is processed. The default body contains MALFORMED_MARKER. */
export interface MalformedFault extends FaultBase {
  kind: 'malformed';
  body?: string;
}
/** Process normally; if the answer is a 200 JSON object, remove `field` from it. */
export interface MissingFault extends FaultBase {
  kind: 'missing';
  field: string;
}
/** Answer with a redirect (default 302) to `location`. Nothing is processed. */
export interface RedirectFault extends FaultBase {
  kind: 'redirect';
  location: string;
  status?: 301 | 302 | 303 | 307 | 308;
}
/** Wait `ms`, then process and answer normally. */
export interface DelayFault extends FaultBase {
  kind: 'delay';
  ms: number;
}
export type Fault = StatusFault | HangFault | ResetFault | MalformedFault | MissingFault | RedirectFault | DelayFault;

/** Marker contained in the default body of a 'malformed' fault: tests assert it is never printed. */
export const MALFORMED_MARKER = 'MALFORMED_SECRET_DO_NOT_PRINT';

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

export interface ProviderUrls {
  chartmetricToken: string;
  soundchartsToken: string;
  soundcloudAuthorize: string;
  soundcloudToken: string;
  soundcloudSignOut: string;
}

export interface ProviderEnv {
  TOKENS_CHARTMETRIC_TOKEN_URL: string;
  TOKENS_SOUNDCHARTS_TOKEN_URL: string;
  TOKENS_SOUNDCLOUD_AUTHORIZE_URL: string;
  TOKENS_SOUNDCLOUD_TOKEN_URL: string;
  TOKENS_SOUNDCLOUD_SIGNOUT_URL: string;
  [name: string]: string;
}

export interface SoundchartsClient {
  clientId: string;
  clientSecret: string;
  /** Teams the client may select with team_id. Undefined: any team_id is accepted; []: none is. */
  teams?: string[];
}

export interface SoundcloudClient {
  clientId: string;
  clientSecret: string;
  /** Registered redirect URIs, compared by exact string equality. */
  redirectUris?: string[];
}

export interface ChartmetricControl {
  /** Rotate refresh tokens on every exchange (the old one then answers 401). Default false. */
  rotate: boolean;
  /** expires_in of issued access tokens, seconds. Default 3600. */
  expiresIn: number;
  /** scope in answers. Default 'api'. */
  scope: string;
  addRefreshToken(token: string): void;
  revokeRefreshToken(token: string): void;
}

export interface SoundchartsControl {
  /** expires_in of issued access tokens, seconds. Default 3600. */
  expiresIn: number;
  addClient(client: SoundchartsClient): void;
  removeClient(clientId: string): void;
}

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  scope: string;
}

export interface SoundcloudControl {
  /** What GET /authorize does for a valid request. Default 'approve'. */
  authorizeMode: AuthorizeMode;
  /** error_description sent with a denial (contains markup and quotes by default). */
  denyDescription: string;
  /** Reuse of a spent refresh token revokes the whole grant family. Default true. */
  revokeOnReuse: boolean;
  /** Client-credentials mints allowed per client per window. Default 50. */
  clientCredentialsLimit: number;
  /** The window of that limit, ms. Default 12 h. */
  clientCredentialsWindowMs: number;
  /** expires_in of issued access tokens, seconds. Default 3600. */
  expiresIn: number;
  /** scope answered when none was asked for. Default ''. */
  defaultScope: string;
  addClient(client: SoundcloudClient): void;
  removeClient(clientId: string): void;
  /** Seed a logged-in state: a fresh grant family with one live refresh token (not counted as a mint). */
  issueRefreshToken(clientId: string, opts?: { scope?: string; grant?: 'authorization_code' | 'client_credentials' }): string;
  /** Like issueRefreshToken, also with a live access token. */
  issueTokens(clientId: string, opts?: { scope?: string; grant?: 'authorization_code' | 'client_credentials' }): IssuedTokens;
  /** Kill a refresh token (and with it nothing else). */
  revokeRefreshToken(token: string): void;
  /** Revoke the whole grant family (session) a refresh or access token belongs to. */
  revokeFamily(token: string): void;
  /** Forget the client-credentials mint history (of one client, or all). */
  resetClientCredentialsCount(clientId?: string): void;
}

export interface ProviderServerOptions {
  /** Chartmetric refresh-token rotation. Default false. */
  rotate?: boolean;
  /** SoundCloud: reuse of a spent refresh token revokes its family. Default true. */
  revokeOnReuse?: boolean;
  /** SoundCloud client-credentials limit per client per window. Default 50. */
  clientCredentialsLimit?: number;
  clientCredentialsWindowMs?: number;
  /** expires_in per provider, seconds. Default 3600. */
  expiresIn?: Partial<Record<ProviderName, number>>;
  /** Latency added to every token answer, ms. Default 0. */
  delayMs?: number;
  authorizeMode?: AuthorizeMode;
  chartmetric?: { refreshTokens?: string[] };
  soundcharts?: { clients?: SoundchartsClient[] };
  soundcloud?: { clients?: SoundcloudClient[] };
}

export interface ProviderServer {
  /** Origin, e.g. 'http://127.0.0.1:41234'. */
  readonly url: string;
  readonly port: number;
  readonly urls: ProviderUrls;
  /** The TOKENS_*_URL variables pointing at this server. */
  env(): ProviderEnv;
  /** Every request received, in arrival order. */
  readonly requests: RecordedRequest[];
  /** Requests the CLI should never have sent (and server-internal errors). Should stay empty. */
  readonly violations: string[];
  /** Successful token issuances. */
  readonly issued: MintRecord[];
  /** Latency added to every token-endpoint answer (before processing), ms. */
  delayMs: number;
  /** Requests for the provider (whose path ends with pathSuffix, when given). */
  count(provider: ProviderName, pathSuffix?: string): number;
  /** Successful token issuances for the provider (of that grant type, when given). */
  mints(provider: ProviderName, grantType?: string): number;
  /** Queue faults for the provider's next requests (each used once, in order, per target). */
  fault(provider: ProviderName, fault: Fault | Fault[]): void;
  /** Apply this fault to every matching request until clearFaults(). Queued faults go first. */
  faultAlways(provider: ProviderName, fault: Fault): void;
  clearFaults(provider?: ProviderName): void;
  /** Queued faults not yet consumed. */
  pendingFaults(provider?: ProviderName): number;
  isRefreshTokenAlive(provider: ProviderName, token: string): boolean;
  isAccessTokenAlive(provider: ProviderName, token: string): boolean;
  /** Refresh tokens that would currently be accepted. */
  liveRefreshTokens(provider: ProviderName): string[];
  /** Empty requests, violations and issued (state and faults are kept). */
  resetLog(): void;
  readonly chartmetric: ChartmetricControl;
  readonly soundcharts: SoundchartsControl;
  readonly soundcloud: SoundcloudControl;
  /** Stop listening and destroy every socket, hung ones included. Idempotent. */
  close(): Promise<void>;
}

// ───────────────────────────── helpers (exported for tests) ─────────────────────────────

/** BASE64URL(SHA256(verifier)). */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** A fresh PKCE verifier (43 chars) and its S256 challenge. */
export function makePkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: s256(verifier) };
}

/** `Basic base64(id:secret)`. */
export function basicAuth(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${clientId}:${clientSecret}`, 'utf8').toString('base64')}`;
}

/**
 * Play the browser: GET the authorization URL without following, then GET the Location it
 * redirects to (the CLI's loopback listener). Returns the redirect and the listener's answer.
 * In 'page' mode, submits the consent form with `decision` (default 'approve') first.
 */
export async function followAuthorization(
  authorizeUrl: string,
  decision: 'approve' | 'deny' = 'approve',
): Promise<{ location: string; status: number; body: string }> {
  let res = await fetch(authorizeUrl, { redirect: 'manual' });
  if (res.status === 200) {
    const html = await res.text();
    const txn = /name="txn" value="([^"]+)"/.exec(html)?.[1];
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (!txn || !action) throw new Error(`authorization page without a consent form (status ${res.status})`);
    res = await fetch(new URL(action, authorizeUrl), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ txn, decision }).toString(),
    });
  }
  const location = res.headers.get('location');
  await res.body?.cancel();
  if (!location || res.status < 300 || res.status >= 400) {
    throw new Error(`authorization did not redirect (status ${res.status})`);
  }
  const landing = await fetch(location, { redirect: 'manual' });
  return { location, status: landing.status, body: await landing.text() };
}

// ───────────────────────────── internals ─────────────────────────────

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Set for JSON answers, so a 'missing' fault can drop a field. */
  json?: Record<string, unknown>;
}

type Family = {
  id: string;
  clientId: string;
  grant: 'authorization_code' | 'client_credentials';
  scope: string;
  revoked: boolean;
};

type ScRefresh = { clientId: string; familyId: string; state: 'active' | 'used' | 'revoked' };
type AccessRecord = { provider: ProviderName; familyId?: string; expiresAt: number; revoked: boolean };
type CodeRecord = {
  clientId: string;
  redirectUri: string;
  challenge: string;
  scope: string;
  expiresAt: number;
  used: boolean;
  familyId?: string;
};
type PendingAuthorization = { clientId: string; redirectUri: string; challenge: string; scope: string; state: string };

const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  pragma: 'no-cache',
};
const CODE_TTL_MS = 10 * 60 * 1000;
const BODY_LIMIT = 1024 * 1024;
const CHALLENGE_RE = /^[A-Za-z0-9_-]{43}$/;
const VERIFIER_RE = /^[A-Za-z0-9._~-]{43,128}$/;
const DEFAULT_DENY_DESCRIPTION = `The user said "no" & <script>alert('denied')</script> closed the window`;
const ACCESS_PREFIX: Record<ProviderName, string> = { chartmetric: 'cm_at_', soundcharts: 'sc_at_', soundcloud: 'scl_at_' };

function token(prefix: string): string {
  return prefix + randomBytes(24).toString('base64url');
}

function jsonReply(status: number, json: Record<string, unknown>, headers: Record<string, string> = {}): Reply {
  return { status, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(json), json };
}

function oauthError(status: number, error: string, description?: string, headers: Record<string, string> = {}): Reply {
  const json: Record<string, unknown> = { error };
  if (description !== undefined) json.error_description = description;
  return jsonReply(status, json, headers);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function htmlReply(status: number, title: string, inner: string): Reply {
  const body =
    `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>` +
    `<body><h1>${escapeHtml(title)}</h1>${inner}</body></html>`;
  return { status, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }, body };
}

function redirectReply(location: string, status = 302): Reply {
  return { status, headers: { location, 'cache-control': 'no-store' }, body: '' };
}

function mediaType(value: string | undefined): string {
  return (value ?? '').split(';')[0]!.trim().toLowerCase();
}

function parseParams(text: string): { values: Record<string, string>; duplicates: string[] } {
  const values: Record<string, string> = {};
  const duplicates: string[] = [];
  for (const [k, v] of new URLSearchParams(text)) {
    if (Object.hasOwn(values, k)) duplicates.push(k);
    else values[k] = v;
  }
  return { values, duplicates };
}

function formDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

type Basic = { kind: 'none' } | { kind: 'malformed'; why: string } | { kind: 'ok'; id: string; secret: string };

function parseBasic(header: string | undefined): Basic {
  if (header === undefined || header === '') return { kind: 'none' };
  const m = /^(\S+)\s+(\S+)\s*$/.exec(header);
  if (!m || m[1]!.toLowerCase() !== 'basic') return { kind: 'malformed', why: 'Authorization header is not Basic' };
  const b64 = m[2]!;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return { kind: 'malformed', why: 'Basic credentials are not base64' };
  const decoded = Buffer.from(b64, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return { kind: 'malformed', why: 'Basic credentials have no colon' };
  return { kind: 'ok', id: decoded.slice(0, i), secret: decoded.slice(i + 1) };
}

function defaultFaultBody(status: number): { body: string; type: string } {
  if (status === 429) return { body: JSON.stringify({ error: 'too_many_requests' }), type: 'application/json; charset=utf-8' };
  if (status === 500) return { body: JSON.stringify({ error: 'server_error' }), type: 'application/json; charset=utf-8' };
  if (status >= 500) {
    return {
      body: `<html><head><title>${status}</title></head><body><center><h1>${status} ${http.STATUS_CODES[status] ?? ''}</h1></center></body></html>`,
      type: 'text/html; charset=utf-8',
    };
  }
  return { body: JSON.stringify({ error: http.STATUS_CODES[status] ?? 'error' }), type: 'application/json; charset=utf-8' };
}

function route(pathname: string): { provider: ProviderName | 'unknown'; endpoint: EndpointKind } {
  switch (pathname) {
    case '/chartmetric/api/token':
      return { provider: 'chartmetric', endpoint: 'token' };
    case '/soundcharts/oauth/token':
      return { provider: 'soundcharts', endpoint: 'token' };
    case '/soundcloud/oauth/token':
      return { provider: 'soundcloud', endpoint: 'token' };
    case '/soundcloud/authorize':
      return { provider: 'soundcloud', endpoint: 'authorize' };
    case '/soundcloud/authorize/decision':
      return { provider: 'soundcloud', endpoint: 'authorize-decision' };
    case '/soundcloud/sign-out':
      return { provider: 'soundcloud', endpoint: 'sign-out' };
  }
  const first = pathname.split('/')[1];
  const provider = (PROVIDERS as readonly string[]).includes(first ?? '') ? (first as ProviderName) : 'unknown';
  return { provider, endpoint: 'unknown' };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > BODY_LIMIT) {
        done = true;
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      done = true;
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (e) => {
      if (!done) reject(e);
      done = true;
    });
    req.on('close', () => {
      if (!done) reject(new Error('request closed'));
      done = true;
    });
  });
}

class ProviderServerImpl implements ProviderServer {
  readonly requests: RecordedRequest[] = [];
  readonly violations: string[] = [];
  readonly issued: MintRecord[] = [];
  delayMs: number;
  url = '';
  port = 0;

  readonly chartmetric: ChartmetricControl;
  readonly soundcharts: SoundchartsControl;
  readonly soundcloud: SoundcloudControl;

  private readonly http: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private closed = false;
  private closing: Promise<void> | undefined;

  private readonly queued = new Map<ProviderName, Fault[]>();
  private readonly always = new Map<ProviderName, Fault[]>();

  // Chartmetric: refresh token → state.
  private readonly cmRefresh = new Map<string, 'active' | 'used' | 'revoked'>();
  // Soundcharts clients.
  private readonly scClients = new Map<string, SoundchartsClient>();
  // SoundCloud.
  private readonly sclClients = new Map<string, SoundcloudClient>();
  private readonly families = new Map<string, Family>();
  private readonly sclRefresh = new Map<string, ScRefresh>();
  private readonly codes = new Map<string, CodeRecord>();
  private readonly pending = new Map<string, PendingAuthorization>();
  private readonly ccMints = new Map<string, number[]>();
  // All providers: access token → record.
  private readonly access = new Map<string, AccessRecord>();

  constructor(options: ProviderServerOptions) {
    this.delayMs = options.delayMs ?? 0;
    const self = this;
    const expires = options.expiresIn ?? {};

    this.chartmetric = {
      rotate: options.rotate ?? false,
      expiresIn: expires.chartmetric ?? 3600,
      scope: 'api',
      addRefreshToken(t: string) {
        self.cmRefresh.set(t, 'active');
      },
      revokeRefreshToken(t: string) {
        if (self.cmRefresh.has(t)) self.cmRefresh.set(t, 'revoked');
      },
    };
    this.soundcharts = {
      expiresIn: expires.soundcharts ?? 3600,
      addClient(c: SoundchartsClient) {
        self.scClients.set(c.clientId, { ...c, teams: c.teams ? [...c.teams] : undefined });
      },
      removeClient(id: string) {
        self.scClients.delete(id);
      },
    };
    this.soundcloud = {
      authorizeMode: options.authorizeMode ?? 'approve',
      denyDescription: DEFAULT_DENY_DESCRIPTION,
      revokeOnReuse: options.revokeOnReuse ?? true,
      clientCredentialsLimit: options.clientCredentialsLimit ?? 50,
      clientCredentialsWindowMs: options.clientCredentialsWindowMs ?? 12 * 60 * 60 * 1000,
      expiresIn: expires.soundcloud ?? 3600,
      defaultScope: '',
      addClient(c: SoundcloudClient) {
        self.sclClients.set(c.clientId, { ...c, redirectUris: [...(c.redirectUris ?? [])] });
      },
      removeClient(id: string) {
        self.sclClients.delete(id);
      },
      issueRefreshToken(clientId, opts) {
        return self.seedSoundcloud(clientId, opts, false).refreshToken;
      },
      issueTokens(clientId, opts) {
        return self.seedSoundcloud(clientId, opts, true);
      },
      revokeRefreshToken(t: string) {
        const r = self.sclRefresh.get(t);
        if (r) r.state = 'revoked';
      },
      revokeFamily(t: string) {
        const id = self.sclRefresh.get(t)?.familyId ?? self.access.get(t)?.familyId;
        if (id) self.revokeFamilyById(id);
      },
      resetClientCredentialsCount(clientId?: string) {
        if (clientId === undefined) self.ccMints.clear();
        else self.ccMints.delete(clientId);
      },
    };

    for (const t of options.chartmetric?.refreshTokens ?? []) this.chartmetric.addRefreshToken(t);
    for (const c of options.soundcharts?.clients ?? []) this.soundcharts.addClient(c);
    for (const c of options.soundcloud?.clients ?? []) this.soundcloud.addClient(c);

    this.http = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.violations.push(`internal server error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        if (!res.headersSent && !res.destroyed) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('internal test-server error');
        }
      });
    });
    this.http.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(0, '127.0.0.1', () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const addr = this.http.address();
    if (addr === null || typeof addr === 'string') throw new Error('unexpected server address');
    this.port = addr.port;
    this.url = `http://127.0.0.1:${addr.port}`;
  }

  get urls(): ProviderUrls {
    return {
      chartmetricToken: `${this.url}/chartmetric/api/token`,
      soundchartsToken: `${this.url}/soundcharts/oauth/token`,
      soundcloudAuthorize: `${this.url}/soundcloud/authorize`,
      soundcloudToken: `${this.url}/soundcloud/oauth/token`,
      soundcloudSignOut: `${this.url}/soundcloud/sign-out`,
    };
  }

  env(): ProviderEnv {
    const u = this.urls;
    return {
      TOKENS_CHARTMETRIC_TOKEN_URL: u.chartmetricToken,
      TOKENS_SOUNDCHARTS_TOKEN_URL: u.soundchartsToken,
      TOKENS_SOUNDCLOUD_AUTHORIZE_URL: u.soundcloudAuthorize,
      TOKENS_SOUNDCLOUD_TOKEN_URL: u.soundcloudToken,
      TOKENS_SOUNDCLOUD_SIGNOUT_URL: u.soundcloudSignOut,
    };
  }

  count(provider: ProviderName, pathSuffix?: string): number {
    return this.requests.filter((r) => r.provider === provider && (pathSuffix === undefined || r.path.endsWith(pathSuffix)))
      .length;
  }

  mints(provider: ProviderName, grantType?: string): number {
    return this.issued.filter((m) => m.provider === provider && (grantType === undefined || m.grantType === grantType))
      .length;
  }

  fault(provider: ProviderName, fault: Fault | Fault[]): void {
    const list = this.queued.get(provider) ?? [];
    list.push(...(Array.isArray(fault) ? fault : [fault]));
    this.queued.set(provider, list);
  }

  faultAlways(provider: ProviderName, fault: Fault): void {
    const list = this.always.get(provider) ?? [];
    list.push(fault);
    this.always.set(provider, list);
  }

  clearFaults(provider?: ProviderName): void {
    for (const p of provider ? [provider] : PROVIDERS) {
      this.queued.delete(p);
      this.always.delete(p);
    }
  }

  pendingFaults(provider?: ProviderName): number {
    let n = 0;
    for (const p of provider ? [provider] : PROVIDERS) n += this.queued.get(p)?.length ?? 0;
    return n;
  }

  isRefreshTokenAlive(provider: ProviderName, t: string): boolean {
    if (provider === 'chartmetric') return this.cmRefresh.get(t) === 'active';
    if (provider === 'soundcloud') {
      const r = this.sclRefresh.get(t);
      return r !== undefined && r.state === 'active' && !this.families.get(r.familyId)?.revoked;
    }
    return false;
  }

  isAccessTokenAlive(provider: ProviderName, t: string): boolean {
    const a = this.access.get(t);
    if (!a || a.provider !== provider || a.revoked || a.expiresAt <= Date.now()) return false;
    return !(a.familyId !== undefined && this.families.get(a.familyId)?.revoked);
  }

  liveRefreshTokens(provider: ProviderName): string[] {
    const all = provider === 'chartmetric' ? [...this.cmRefresh.keys()] : provider === 'soundcloud' ? [...this.sclRefresh.keys()] : [];
    return all.filter((t) => this.isRefreshTokenAlive(provider, t));
  }

  resetLog(): void {
    this.requests.length = 0;
    this.violations.length = 0;
    this.issued.length = 0;
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    for (const t of this.timers) {
      clearTimeout(t.timer);
      t.resolve();
    }
    this.timers.clear();
    this.closing = new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      for (const s of this.sockets) s.destroy();
      this.http.closeAllConnections();
    });
    return this.closing;
  }

  // ───────── request handling ─────────

  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.timers.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.timers.add(entry);
    });
  }

  private violate(rec: RecordedRequest, message: string): void {
    this.violations.push(`${rec.provider} ${rec.method} ${rec.path}: ${message}`);
  }

  private takeFault(provider: ProviderName | 'unknown', endpoint: EndpointKind): Fault | undefined {
    if (provider === 'unknown') return undefined;
    const target: FaultTarget | undefined =
      endpoint === 'token' ? 'token' : endpoint === 'sign-out' ? 'sign-out' : endpoint === 'authorize' ? 'authorize' : undefined;
    if (!target) return undefined;
    const q = this.queued.get(provider) ?? [];
    const i = q.findIndex((f) => (f.on ?? 'token') === target);
    if (i >= 0) return q.splice(i, 1)[0];
    const a = (this.always.get(provider) ?? []).filter((f) => (f.on ?? 'token') === target);
    return a[a.length - 1];
  }

  private send(rec: RecordedRequest, res: ServerResponse, reply: Reply): void {
    if (this.closed || res.destroyed || res.writableEnded) return;
    rec.status = reply.status;
    rec.finishedAt = Date.now();
    res.writeHead(reply.status, { ...reply.headers, 'content-length': String(Buffer.byteLength(reply.body)) });
    res.end(reply.body);
  }

  private reset(res: ServerResponse): void {
    const s = res.socket as Socket | null;
    if (!s) return;
    if (typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
    else s.destroy();
  }

  private statusFaultReply(f: StatusFault): Reply {
    const headers: Record<string, string> = {};
    let body: string;
    if (f.body === undefined) {
      const d = defaultFaultBody(f.status);
      body = d.body;
      headers['content-type'] = d.type;
    } else if (typeof f.body === 'string') {
      body = f.body;
      headers['content-type'] = f.body.trimStart().startsWith('{') ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8';
    } else {
      body = JSON.stringify(f.body);
      headers['content-type'] = 'application/json; charset=utf-8';
    }
    if (f.retryAfter !== undefined) {
      headers['retry-after'] = f.retryAfter instanceof Date ? f.retryAfter.toUTCString() : String(f.retryAfter);
    }
    if (f.rateLimitReset !== undefined) {
      headers['x-ratelimit-reset'] = String(f.rateLimitReset);
      headers['x-ratelimit-remaining'] = '0';
    }
    return { status: f.status, headers: { ...headers, ...(f.headers ?? {}) }, body };
  }

  private malformedBody(provider: ProviderName): string {
    return `{"${provider === 'chartmetric' ? 'token' : 'access_token'}": "${ACCESS_PREFIX[provider]}${MALFORMED_MARKER}", "expires_in": 36`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw: string;
    try {
      raw = await readBody(req);
    } catch {
      if (!res.destroyed) {
        res.writeHead(413);
        res.end();
      }
      return;
    }
    const target = new URL(req.url ?? '/', 'http://127.0.0.1');
    const { provider, endpoint } = route(target.pathname);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
    }
    const rec: RecordedRequest = {
      provider,
      endpoint,
      path: target.pathname,
      url: req.url ?? '/',
      query: parseParams(target.search).values,
      method: req.method ?? 'GET',
      headers,
      body: raw,
      time: Date.now(),
    };
    if (mediaType(headers['content-type']) === 'application/x-www-form-urlencoded') rec.form = parseParams(raw).values;
    if (raw.trim() !== '') {
      try {
        rec.json = JSON.parse(raw) as unknown;
      } catch {
        // not JSON
      }
    }
    this.requests.push(rec);

    if (provider === 'unknown' || endpoint === 'unknown') {
      if (target.pathname !== '/favicon.ico') this.violate(rec, 'request to an unknown path');
      this.send(rec, res, jsonReply(404, { error: 'not_found' }));
      return;
    }

    const fault = this.takeFault(provider, endpoint);
    if (fault) rec.fault = fault;
    if (fault && !('afterProcessing' in fault && fault.afterProcessing)) {
      switch (fault.kind) {
        case undefined:
          this.send(rec, res, this.statusFaultReply(fault));
          return;
        case 'hang':
          return;
        case 'reset':
          this.reset(res);
          return;
        case 'malformed':
          this.send(rec, res, {
            status: 200,
            headers: { 'content-type': 'application/json; charset=utf-8' },
            body: fault.body ?? this.malformedBody(provider),
          });
          return;
        case 'redirect':
          this.send(rec, res, redirectReply(fault.location, fault.status ?? 302));
          return;
        case 'delay':
          await this.sleep(fault.ms);
          break;
        case 'missing':
          break;
      }
    }
    if (endpoint === 'token') await this.sleep(this.delayMs);
    if (this.closed) return;

    let reply = this.process(provider, endpoint, rec, target);

    if (fault) {
      if (fault.kind === 'missing') {
        if (reply.status === 200 && reply.json) {
          const json = { ...reply.json };
          delete json[fault.field];
          reply = { ...reply, json, body: JSON.stringify(json) };
        }
      } else if (fault.kind === undefined && fault.afterProcessing) {
        reply = this.statusFaultReply(fault);
      } else if (fault.kind === 'hang' && fault.afterProcessing) {
        return;
      } else if (fault.kind === 'reset' && fault.afterProcessing) {
        this.reset(res);
        return;
      }
    }
    this.send(rec, res, reply);
  }

  private process(provider: ProviderName, endpoint: EndpointKind, rec: RecordedRequest, target: URL): Reply {
    if (provider === 'chartmetric') return this.chartmetricToken(rec, target);
    if (provider === 'soundcharts') return this.soundchartsToken(rec, target);
    switch (endpoint) {
      case 'token':
        return this.soundcloudToken(rec, target);
      case 'authorize':
        return this.soundcloudAuthorize(rec, target);
      case 'authorize-decision':
        return this.soundcloudDecision(rec);
      case 'sign-out':
        return this.soundcloudSignOut(rec, target);
      default:
        return jsonReply(404, { error: 'not_found' });
    }
  }

  private issueAccess(provider: ProviderName, expiresIn: number, familyId?: string): string {
    const t = token(ACCESS_PREFIX[provider]);
    this.access.set(t, { provider, familyId, expiresAt: Date.now() + expiresIn * 1000, revoked: false });
    return t;
  }

  private recordMint(provider: ProviderName, grantType: string, accessToken: string, clientId?: string): void {
    this.issued.push({ provider, grantType, clientId, accessToken, time: Date.now() });
  }

  /** Shared checks for POST token endpoints. Returns an error reply, or undefined to go on. */
  private postChecks(rec: RecordedRequest, target: URL, contentType: string, onBadType: () => Reply): Reply | undefined {
    if (rec.method !== 'POST') {
      this.violate(rec, `method ${rec.method} (only POST is allowed)`);
      const r = oauthError(405, 'method_not_allowed');
      r.headers.allow = 'POST';
      return r;
    }
    if (target.search !== '') this.violate(rec, 'query string on a POST endpoint (parameters belong in the body)');
    const ct = mediaType(rec.headers['content-type']);
    if (ct !== contentType) {
      this.violate(rec, `Content-Type ${ct || '(none)'} (expected ${contentType})`);
      return onBadType();
    }
    return undefined;
  }

  /** postChecks for an OAuth form-encoded token endpoint, then its parameters, none of them repeated. */
  private formPostChecks(rec: RecordedRequest, target: URL): { reply: Reply } | { form: Record<string, string> } {
    const early = this.postChecks(rec, target, 'application/x-www-form-urlencoded', () =>
      oauthError(400, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded'),
    );
    if (early) return { reply: early };
    const { values: form, duplicates } = parseParams(rec.body);
    if (duplicates.length > 0) {
      this.violate(rec, `repeated parameter(s): ${duplicates.join(', ')}`);
      return { reply: oauthError(400, 'invalid_request', 'Parameters must not be repeated') };
    }
    return { form };
  }

  // ───────── Chartmetric ─────────

  private chartmetricToken(rec: RecordedRequest, target: URL): Reply {
    const bad = (message: string) => jsonReply(400, { error: 'bad_request', message });
    const early = this.postChecks(rec, target, 'application/json', () => bad('Content-Type must be application/json'));
    if (early) return early;
    if (rec.headers.authorization !== undefined) this.violate(rec, 'unexpected Authorization header on the token request');
    let parsed: unknown;
    try {
      parsed = JSON.parse(rec.body);
    } catch {
      this.violate(rec, 'malformed JSON body');
      return bad('Malformed request body');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      this.violate(rec, 'JSON body is not an object');
      return bad('Malformed request body');
    }
    const body = parsed as Record<string, unknown>;
    const rt = body.refreshtoken;
    if (typeof rt !== 'string' || rt === '') {
      this.violate(rec, 'missing refreshtoken field');
      return bad('Missing required field: refreshtoken');
    }
    for (const k of Object.keys(body)) if (k !== 'refreshtoken') this.violate(rec, `unexpected field ${k}`);

    const unauthorized = () => jsonReply(401, { error: 'invalid_grant', message: 'Invalid or expired refresh token' });
    const state = this.cmRefresh.get(rt);
    if (state === undefined) {
      if (this.cmRefresh.get(rt.trim()) === 'active') this.violate(rec, 'refresh token sent with surrounding whitespace');
      return unauthorized();
    }
    if (state === 'used') {
      this.violate(rec, 'rotated (spent) refresh token reused');
      return unauthorized();
    }
    if (state === 'revoked') return unauthorized();

    let next = rt;
    if (this.chartmetric.rotate) {
      this.cmRefresh.set(rt, 'used');
      next = token('cm_rt_');
      this.cmRefresh.set(next, 'active');
    }
    const expiresIn = this.chartmetric.expiresIn;
    const at = this.issueAccess('chartmetric', expiresIn);
    this.recordMint('chartmetric', 'refresh_token', at);
    return jsonReply(200, { token: at, expires_in: expiresIn, refresh_token: next, scope: this.chartmetric.scope });
  }

  // ───────── Soundcharts ─────────

  private soundchartsToken(rec: RecordedRequest, target: URL): Reply {
    const checked = this.formPostChecks(rec, target);
    if ('reply' in checked) return checked.reply;
    const { form } = checked;
    const challenge = { 'www-authenticate': 'Basic realm="soundcharts"' };
    const basic = parseBasic(rec.headers.authorization);
    if (form.client_id !== undefined || form.client_secret !== undefined) {
      this.violate(rec, 'client credentials in the request body (Soundcharts uses HTTP Basic)');
      return basic.kind === 'ok'
        ? oauthError(400, 'invalid_request', 'More than one client authentication method')
        : oauthError(401, 'invalid_client', 'Client authentication failed', challenge);
    }
    if (basic.kind === 'none') {
      this.violate(rec, 'no HTTP Basic client authentication');
      return oauthError(401, 'invalid_client', 'Client authentication failed', challenge);
    }
    if (basic.kind === 'malformed') {
      this.violate(rec, basic.why);
      return oauthError(401, 'invalid_client', 'Client authentication failed', challenge);
    }
    const client = this.scClients.get(basic.id) ?? this.scClients.get(formDecode(basic.id));
    if (!client || (client.clientSecret !== basic.secret && client.clientSecret !== formDecode(basic.secret))) {
      return oauthError(401, 'invalid_client', 'Client authentication failed', challenge);
    }
    if (form.grant_type === undefined) {
      this.violate(rec, 'missing grant_type');
      return oauthError(400, 'invalid_request', 'Missing grant_type');
    }
    if (form.grant_type !== 'client_credentials') {
      this.violate(rec, `grant_type ${form.grant_type}`);
      return oauthError(400, 'unsupported_grant_type');
    }
    for (const k of Object.keys(form)) {
      if (k === 'scope') {
        this.violate(rec, 'unexpected scope parameter');
        return oauthError(400, 'invalid_scope');
      }
      if (k !== 'grant_type' && k !== 'team_id') this.violate(rec, `unexpected parameter ${k}`);
    }
    const team = form.team_id;
    if (team !== undefined) {
      if (team === '') {
        this.violate(rec, 'empty team_id');
        return oauthError(400, 'invalid_request', 'team_id must not be empty');
      }
      if (client.teams !== undefined && !client.teams.includes(team)) {
        return oauthError(403, 'access_denied', 'The client cannot access the selected team');
      }
    }
    const expiresIn = this.soundcharts.expiresIn;
    const at = this.issueAccess('soundcharts', expiresIn);
    this.recordMint('soundcharts', 'client_credentials', at, client.clientId);
    return jsonReply(200, { access_token: at, token_type: 'bearer', expires_in: expiresIn, refresh_token: null });
  }

  // ───────── SoundCloud ─────────

  private newFamily(clientId: string, grant: Family['grant'], scope: string): Family {
    const f: Family = { id: randomBytes(8).toString('hex'), clientId, grant, scope, revoked: false };
    this.families.set(f.id, f);
    return f;
  }

  private revokeFamilyById(id: string): void {
    const f = this.families.get(id);
    if (!f) return;
    f.revoked = true;
    for (const r of this.sclRefresh.values()) if (r.familyId === id && r.state === 'active') r.state = 'revoked';
    for (const a of this.access.values()) if (a.familyId === id) a.revoked = true;
  }

  /** Issue an access token and a refresh token in the family; the answer body. */
  private issueInFamily(f: Family): { accessToken: string; refreshToken: string; expiresIn: number } {
    const expiresIn = this.soundcloud.expiresIn;
    const accessToken = this.issueAccess('soundcloud', expiresIn, f.id);
    const refreshToken = token('scl_rt_');
    this.sclRefresh.set(refreshToken, { clientId: f.clientId, familyId: f.id, state: 'active' });
    return { accessToken, refreshToken, expiresIn };
  }

  private sclSuccess(f: Family, grant: string): Reply {
    const t = this.issueInFamily(f);
    this.recordMint('soundcloud', grant, t.accessToken, f.clientId);
    return jsonReply(200, {
      access_token: t.accessToken,
      token_type: 'bearer',
      expires_in: t.expiresIn,
      refresh_token: t.refreshToken,
      scope: f.scope,
    });
  }

  private seedSoundcloud(
    clientId: string,
    opts: { scope?: string; grant?: 'authorization_code' | 'client_credentials' } | undefined,
    withAccess: boolean,
  ): IssuedTokens {
    if (!this.sclClients.has(clientId)) throw new Error(`unknown SoundCloud client ${clientId}: addClient() first`);
    const f = this.newFamily(clientId, opts?.grant ?? 'authorization_code', opts?.scope ?? this.soundcloud.defaultScope);
    const t = this.issueInFamily(f);
    if (!withAccess) this.access.delete(t.accessToken);
    return { accessToken: withAccess ? t.accessToken : '', refreshToken: t.refreshToken, expiresIn: t.expiresIn, scope: f.scope };
  }

  private soundcloudToken(rec: RecordedRequest, target: URL): Reply {
    const checked = this.formPostChecks(rec, target);
    if ('reply' in checked) return checked.reply;
    const { form } = checked;
    const grant = form.grant_type;
    if (grant === undefined) {
      this.violate(rec, 'missing grant_type');
      return oauthError(400, 'invalid_request', 'Missing grant_type');
    }
    if (grant !== 'authorization_code' && grant !== 'refresh_token' && grant !== 'client_credentials') {
      this.violate(rec, `unsupported grant_type ${grant}`);
      return oauthError(400, 'unsupported_grant_type');
    }
    const challenge = { 'www-authenticate': 'Basic realm="soundcloud"' };
    const invalidClient = (description = 'Client authentication failed') =>
      oauthError(401, 'invalid_client', description, challenge);
    const basic = parseBasic(rec.headers.authorization);
    const inBody = form.client_id !== undefined || form.client_secret !== undefined;

    // Client authentication.
    let clientId: string;
    let clientSecret: string;
    if (grant === 'client_credentials') {
      if (inBody) {
        this.violate(rec, 'client credentials in the body for grant_type=client_credentials (only HTTP Basic is supported)');
        return invalidClient('Client credentials must be sent with HTTP Basic authentication');
      }
      if (basic.kind === 'none') {
        this.violate(rec, 'no HTTP Basic client authentication for grant_type=client_credentials');
        return invalidClient();
      }
      if (basic.kind === 'malformed') {
        this.violate(rec, basic.why);
        return invalidClient();
      }
      clientId = basic.id;
      clientSecret = basic.secret;
    } else {
      if (basic.kind === 'malformed') {
        this.violate(rec, basic.why);
        return invalidClient();
      }
      if (basic.kind === 'ok' && inBody) {
        this.violate(rec, 'more than one client authentication method (Basic and body)');
        return oauthError(400, 'invalid_request', 'More than one client authentication method');
      }
      if (basic.kind === 'ok') {
        clientId = basic.id;
        clientSecret = basic.secret;
      } else {
        if (form.client_id === undefined || form.client_secret === undefined) {
          this.violate(rec, `client_id or client_secret missing for grant_type=${grant}`);
          return invalidClient();
        }
        clientId = form.client_id;
        clientSecret = form.client_secret;
      }
    }
    const viaBasic = basic.kind === 'ok';
    const client = this.sclClients.get(clientId) ?? (viaBasic ? this.sclClients.get(formDecode(clientId)) : undefined);
    if (!client || (client.clientSecret !== clientSecret && !(viaBasic && client.clientSecret === formDecode(clientSecret)))) {
      return invalidClient();
    }

    const allowed =
      grant === 'authorization_code'
        ? ['grant_type', 'code', 'redirect_uri', 'code_verifier', 'client_id', 'client_secret']
        : grant === 'refresh_token'
          ? ['grant_type', 'refresh_token', 'client_id', 'client_secret', 'scope']
          : ['grant_type', 'scope'];
    for (const k of Object.keys(form)) if (!allowed.includes(k)) this.violate(rec, `unexpected parameter ${k} for grant_type=${grant}`);

    if (grant === 'authorization_code') return this.sclAuthorizationCode(rec, form, client);
    if (grant === 'refresh_token') return this.sclRefreshToken(rec, form, client);
    return this.sclClientCredentials(rec, form, client);
  }

  private sclAuthorizationCode(rec: RecordedRequest, form: Record<string, string>, client: SoundcloudClient): Reply {
    for (const k of ['code', 'redirect_uri', 'code_verifier'] as const) {
      if (form[k] === undefined || form[k] === '') {
        this.violate(rec, `missing ${k}`);
        return oauthError(400, 'invalid_request', `Missing ${k}`);
      }
    }
    const verifier = form.code_verifier!;
    if (!VERIFIER_RE.test(verifier)) {
      this.violate(rec, 'code_verifier is not 43-128 unreserved characters');
      return oauthError(400, 'invalid_request', 'Invalid code_verifier');
    }
    const code = this.codes.get(form.code!);
    if (!code || code.clientId !== client.clientId) return oauthError(400, 'invalid_grant', 'Invalid authorization code');
    if (code.used) {
      this.violate(rec, 'authorization code reused');
      if (code.familyId) this.revokeFamilyById(code.familyId);
      return oauthError(400, 'invalid_grant', 'Authorization code already used');
    }
    code.used = true;
    if (code.expiresAt <= Date.now()) return oauthError(400, 'invalid_grant', 'Authorization code expired');
    if (form.redirect_uri !== code.redirectUri) {
      this.violate(rec, 'redirect_uri differs from the one used at /authorize');
      return oauthError(400, 'invalid_grant', 'redirect_uri mismatch');
    }
    if (s256(verifier) !== code.challenge) {
      this.violate(rec, 'code_verifier does not match the code_challenge');
      return oauthError(400, 'invalid_grant', 'PKCE verification failed');
    }
    const f = this.newFamily(client.clientId, 'authorization_code', code.scope);
    code.familyId = f.id;
    return this.sclSuccess(f, 'authorization_code');
  }

  private sclRefreshToken(rec: RecordedRequest, form: Record<string, string>, client: SoundcloudClient): Reply {
    const rt = form.refresh_token;
    if (rt === undefined || rt === '') {
      this.violate(rec, 'missing refresh_token');
      return oauthError(400, 'invalid_request', 'Missing refresh_token');
    }
    const r = this.sclRefresh.get(rt);
    const invalid = () => oauthError(400, 'invalid_grant', 'Invalid refresh token');
    if (!r || r.clientId !== client.clientId) return invalid();
    const f = this.families.get(r.familyId);
    if (!f || f.revoked || r.state === 'revoked') return invalid();
    if (r.state === 'used') {
      this.violate(rec, 'single-use refresh token reused');
      if (this.soundcloud.revokeOnReuse) this.revokeFamilyById(f.id);
      return invalid();
    }
    if (form.scope !== undefined) {
      const granted = new Set(f.scope.split(' ').filter(Boolean));
      if (!form.scope.split(' ').filter(Boolean).every((s) => granted.has(s))) {
        this.violate(rec, 'refresh asks for a scope beyond the grant');
        return oauthError(400, 'invalid_scope');
      }
    }
    r.state = 'used';
    return this.sclSuccess(f, 'refresh_token');
  }

  private sclClientCredentials(rec: RecordedRequest, form: Record<string, string>, client: SoundcloudClient): Reply {
    const now = Date.now();
    const windowMs = this.soundcloud.clientCredentialsWindowMs;
    const history = (this.ccMints.get(client.clientId) ?? []).filter((t) => t > now - windowMs);
    this.ccMints.set(client.clientId, history);
    if (history.length >= this.soundcloud.clientCredentialsLimit) {
      const retryAfter = Math.max(1, Math.ceil(((history[0] ?? now) + windowMs - now) / 1000));
      return oauthError(429, 'rate_limit_exceeded', 'Too many client credentials tokens; reuse or refresh your token', {
        'retry-after': String(retryAfter),
      });
    }
    if (form.scope === '') this.violate(rec, 'empty scope parameter');
    history.push(now);
    const f = this.newFamily(client.clientId, 'client_credentials', form.scope || this.soundcloud.defaultScope);
    return this.sclSuccess(f, 'client_credentials');
  }

  private authorizeErrorPage(message: string): Reply {
    return htmlReply(400, 'Authorization error', `<p>${escapeHtml(message)}</p>`);
  }

  private withParams(uri: string, params: Record<string, string | undefined>): string {
    const u = new URL(uri);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
    return u.toString();
  }

  private approve(p: PendingAuthorization, state: string): Reply {
    const code = token('scl_code_');
    this.codes.set(code, {
      clientId: p.clientId,
      redirectUri: p.redirectUri,
      challenge: p.challenge,
      scope: p.scope,
      expiresAt: Date.now() + CODE_TTL_MS,
      used: false,
    });
    return redirectReply(this.withParams(p.redirectUri, { code, state }));
  }

  private deny(p: PendingAuthorization): Reply {
    return redirectReply(
      this.withParams(p.redirectUri, {
        error: 'access_denied',
        error_description: this.soundcloud.denyDescription,
        state: p.state,
      }),
    );
  }

  private soundcloudAuthorize(rec: RecordedRequest, target: URL): Reply {
    if (rec.method !== 'GET') {
      this.violate(rec, `method ${rec.method} on /authorize`);
      const r = htmlReply(405, 'Method not allowed', '');
      r.headers.allow = 'GET';
      return r;
    }
    const { values: q, duplicates } = parseParams(target.search);
    if (duplicates.includes('client_id') || duplicates.includes('redirect_uri')) {
      this.violate(rec, `repeated parameter(s): ${duplicates.join(', ')}`);
      return this.authorizeErrorPage('Invalid request.');
    }
    if (!q.client_id) {
      this.violate(rec, 'missing client_id');
      return this.authorizeErrorPage('Missing client_id.');
    }
    const client = this.sclClients.get(q.client_id);
    if (!client) return this.authorizeErrorPage('Unknown client.');
    if (!q.redirect_uri) {
      this.violate(rec, 'missing redirect_uri');
      return this.authorizeErrorPage('Missing redirect_uri.');
    }
    if (!(client.redirectUris ?? []).includes(q.redirect_uri)) {
      return this.authorizeErrorPage('The redirect_uri is not registered for this application.');
    }
    const redirectUri = q.redirect_uri;
    const fail = (error: string, why: string, description: string): Reply => {
      this.violate(rec, why);
      return redirectReply(this.withParams(redirectUri, { error, error_description: description, state: q.state }));
    };
    if (duplicates.length > 0) return fail('invalid_request', `repeated parameter(s): ${duplicates.join(', ')}`, 'Repeated parameter');
    if (q.response_type === undefined) return fail('invalid_request', 'missing response_type', 'Missing response_type');
    if (q.response_type !== 'code') {
      return fail('unsupported_response_type', `response_type ${q.response_type}`, 'Only response_type=code is supported');
    }
    if (!q.code_challenge || !CHALLENGE_RE.test(q.code_challenge)) {
      return fail('invalid_request', 'missing or malformed code_challenge', 'PKCE code_challenge required');
    }
    if (q.code_challenge_method !== 'S256') {
      return fail('invalid_request', `code_challenge_method ${q.code_challenge_method ?? '(none)'}`, 'code_challenge_method must be S256');
    }
    if (!q.state) return fail('invalid_request', 'missing state', 'state required');
    if (q.scope === '') this.violate(rec, 'empty scope parameter');
    const known = ['client_id', 'redirect_uri', 'response_type', 'code_challenge', 'code_challenge_method', 'state', 'scope', 'display'];
    for (const k of Object.keys(q)) if (!known.includes(k)) this.violate(rec, `unexpected parameter ${k}`);

    const p: PendingAuthorization = {
      clientId: client.clientId,
      redirectUri,
      challenge: q.code_challenge,
      scope: q.scope || this.soundcloud.defaultScope,
      state: q.state,
    };
    switch (this.soundcloud.authorizeMode) {
      case 'deny':
        return this.deny(p);
      case 'wrong-state':
        return this.approve(p, `${q.state}-not-yours-${randomBytes(4).toString('hex')}`);
      case 'page': {
        const txn = randomBytes(16).toString('base64url');
        this.pending.set(txn, p);
        return htmlReply(
          200,
          'Authorize access',
          `<p>${escapeHtml(client.clientId)} wants to access your SoundCloud account.</p>` +
            `<form method="post" action="/soundcloud/authorize/decision">` +
            `<input type="hidden" name="txn" value="${txn}">` +
            `<button type="submit" id="approve" name="decision" value="approve">Approve</button> ` +
            `<button type="submit" id="deny" name="decision" value="deny">Deny</button>` +
            `</form>`,
        );
      }
      default:
        return this.approve(p, q.state);
    }
  }

  private soundcloudDecision(rec: RecordedRequest): Reply {
    if (rec.method !== 'POST') return htmlReply(405, 'Method not allowed', '');
    const { values } = parseParams(rec.body);
    const p = values.txn !== undefined ? this.pending.get(values.txn) : undefined;
    if (!p) return this.authorizeErrorPage('This authorization request has expired.');
    this.pending.delete(values.txn!);
    return values.decision === 'approve' ? this.approve(p, p.state) : this.deny(p);
  }

  private soundcloudSignOut(rec: RecordedRequest, target: URL): Reply {
    const bad = () => jsonReply(400, { error: 'bad_request' });
    const early = this.postChecks(rec, target, 'application/json', bad);
    if (early) return early;
    let parsed: unknown;
    try {
      parsed = JSON.parse(rec.body);
    } catch {
      this.violate(rec, 'malformed JSON body');
      return bad();
    }
    const at =
      typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
        ? (parsed as Record<string, unknown>).access_token
        : undefined;
    if (typeof at !== 'string' || at === '') {
      this.violate(rec, 'body is missing access_token');
      return bad();
    }
    for (const k of Object.keys(parsed as object)) if (k !== 'access_token') this.violate(rec, `unexpected field ${k}`);
    const a = this.access.get(at);
    const unauthorized = () => jsonReply(401, { error: 'unauthorized' });
    if (!a || a.provider !== 'soundcloud' || a.revoked) return unauthorized();
    if (a.familyId !== undefined && this.families.get(a.familyId)?.revoked) return unauthorized();
    if (a.expiresAt <= Date.now()) {
      // The CLI is meant to refresh an expired token before signing out; allow 2 s of clock slack.
      if (a.expiresAt < Date.now() - 2000) this.violate(rec, 'sign-out with an expired access token');
      return unauthorized();
    }
    if (a.familyId !== undefined) this.revokeFamilyById(a.familyId);
    else a.revoked = true;
    return jsonReply(200, {});
  }
}

/** Start the provider stand-in on 127.0.0.1, on a free port. Call close() when done. */
export async function startProviderServer(options: ProviderServerOptions = {}): Promise<ProviderServer> {
  const server = new ProviderServerImpl(options);
  await server.listen();
  return server;
}
