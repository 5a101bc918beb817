// The fake auth server: one HTTP server on 127.0.0.1 serving the three providers' auth endpoints under
// distinct prefixes (see chartmetric.ts, soundcharts.ts, soundcloud.ts):
//   POST /chartmetric/api/token            Chartmetric refresh-token exchange (JSON body)
//   POST /soundcharts/oauth/token          Soundcharts client credentials (HTTP Basic, form body)
//   GET  /soundcloud/authorize             SoundCloud authorization (Authorization Code + PKCE S256)
//   POST /soundcloud/authorize/decision    the "Approve"/"Deny" form of the consent page
//   POST /soundcloud/oauth/token           SoundCloud token endpoint
//   POST /soundcloud/sign-out              SoundCloud sign-out (JSON body)
//
// It validates strictly: a request the CLI should never send gets the realistic error status and is
// recorded in `server.violations`, so tests can assert that list stays empty. Faults (5xx, 429, hangs,
// resets, malformed answers, redirects, delays) can be queued per provider.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CHARTMETRIC_TOKEN_PATH, ChartmetricAuth, type ChartmetricControl } from './chartmetric.js';
import {
  FaultQueue,
  LoopbackServer,
  PROVIDERS,
  headerRecord,
  faultBeforeProcessing,
  jsonReply,
  mediaType,
  parseParams,
  readBody,
  statusFaultReply,
  type ProviderName,
} from './harness.js';
import {
  SOUNDCHARTS_TOKEN_PATH,
  SoundchartsAuth,
  type SoundchartsClient,
  type SoundchartsControl,
} from './soundcharts.js';
import {
  SOUNDCLOUD_PATHS,
  SoundcloudAuth,
  type AuthorizeMode,
  type SoundcloudClient,
  type SoundcloudControl,
} from './soundcloud.js';
import type {
  AccessTokenInfo,
  EndpointKind,
  Fault,
  FaultTarget,
  MintRecord,
  ProviderAuth,
  RecordedRequest,
  TokenContext,
} from './token-endpoint.js';

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
  /** Which provider issued this access token, whether it is still alive, and (SoundCloud) its grant. */
  describeAccessToken(token: string): ({ provider: ProviderName } & AccessTokenInfo) | undefined;
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

const BODY_LIMIT = 1024 * 1024;

/** The fault target an endpoint answers to, if faults apply there. */
function faultTarget(endpoint: EndpointKind): FaultTarget | undefined {
  return endpoint === 'token' || endpoint === 'sign-out' || endpoint === 'authorize' ? endpoint : undefined;
}

class ProviderServerImpl implements ProviderServer {
  readonly issued: MintRecord[] = [];
  delayMs: number;

  private readonly server: LoopbackServer<RecordedRequest>;
  private readonly faults: Record<ProviderName, FaultQueue<Fault>>;
  private readonly auth: { chartmetric: ChartmetricAuth; soundcharts: SoundchartsAuth; soundcloud: SoundcloudAuth };

  constructor(options: ProviderServerOptions) {
    this.delayMs = options.delayMs ?? 0;
    this.server = new LoopbackServer((req, res) => this.handle(req, res));
    this.faults = { chartmetric: new FaultQueue(), soundcharts: new FaultQueue(), soundcloud: new FaultQueue() };
    const ctx: TokenContext = {
      violate: (rec, message) => this.violate(rec, message),
      recordMint: (provider, grantType, accessToken, clientId) =>
        this.issued.push({ provider, grantType, clientId, accessToken, time: Date.now() }),
    };
    const expires = options.expiresIn ?? {};
    this.auth = {
      chartmetric: new ChartmetricAuth(ctx, {
        rotate: options.rotate,
        expiresIn: expires.chartmetric,
        refreshTokens: options.chartmetric?.refreshTokens,
      }),
      soundcharts: new SoundchartsAuth(ctx, { expiresIn: expires.soundcharts, clients: options.soundcharts?.clients }),
      soundcloud: new SoundcloudAuth(ctx, {
        authorizeMode: options.authorizeMode,
        revokeOnReuse: options.revokeOnReuse,
        clientCredentialsLimit: options.clientCredentialsLimit,
        clientCredentialsWindowMs: options.clientCredentialsWindowMs,
        expiresIn: expires.soundcloud,
        clients: options.soundcloud?.clients,
      }),
    };
  }

  listen(): Promise<void> {
    return this.server.listen();
  }

  get url(): string {
    return this.server.url;
  }

  get port(): number {
    return this.server.port;
  }

  get requests(): RecordedRequest[] {
    return this.server.requests;
  }

  get violations(): string[] {
    return this.server.violations;
  }

  get chartmetric(): ChartmetricControl {
    return this.auth.chartmetric.control;
  }

  get soundcharts(): SoundchartsControl {
    return this.auth.soundcharts.control;
  }

  get soundcloud(): SoundcloudControl {
    return this.auth.soundcloud.control;
  }

  get urls(): ProviderUrls {
    return {
      chartmetricToken: `${this.url}${CHARTMETRIC_TOKEN_PATH}`,
      soundchartsToken: `${this.url}${SOUNDCHARTS_TOKEN_PATH}`,
      soundcloudAuthorize: `${this.url}${SOUNDCLOUD_PATHS.authorize}`,
      soundcloudToken: `${this.url}${SOUNDCLOUD_PATHS.token}`,
      soundcloudSignOut: `${this.url}${SOUNDCLOUD_PATHS.signOut}`,
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
    return this.requests.filter(
      (r) => r.provider === provider && (pathSuffix === undefined || r.path.endsWith(pathSuffix)),
    ).length;
  }

  mints(provider: ProviderName, grantType?: string): number {
    return this.issued.filter((m) => m.provider === provider && (grantType === undefined || m.grantType === grantType))
      .length;
  }

  fault(provider: ProviderName, fault: Fault | Fault[]): void {
    this.faults[provider].add(fault);
  }

  faultAlways(provider: ProviderName, fault: Fault): void {
    this.faults[provider].addStanding(fault);
  }

  clearFaults(provider?: ProviderName): void {
    for (const p of provider ? [provider] : PROVIDERS) this.faults[p].clear();
  }

  pendingFaults(provider?: ProviderName): number {
    let n = 0;
    for (const p of provider ? [provider] : PROVIDERS) n += this.faults[p].pending;
    return n;
  }

  isRefreshTokenAlive(provider: ProviderName, t: string): boolean {
    return this.auth[provider].isRefreshTokenAlive(t);
  }

  isAccessTokenAlive(provider: ProviderName, t: string): boolean {
    return this.auth[provider].isAccessTokenAlive(t);
  }

  liveRefreshTokens(provider: ProviderName): string[] {
    return this.auth[provider].liveRefreshTokens();
  }

  describeAccessToken(t: string): ({ provider: ProviderName } & AccessTokenInfo) | undefined {
    for (const provider of PROVIDERS) {
      const info = this.auth[provider].describeAccessToken(t);
      if (info) return { provider, ...info };
    }
    return undefined;
  }

  resetLog(): void {
    this.requests.length = 0;
    this.violations.length = 0;
    this.issued.length = 0;
  }

  close(): Promise<void> {
    return this.server.close();
  }

  // ───────── request handling ─────────

  private violate(rec: RecordedRequest, message: string): void {
    this.violations.push(`${rec.provider} ${rec.method} ${rec.path}: ${message}`);
  }

  private route(pathname: string): { provider: ProviderName | 'unknown'; endpoint: EndpointKind } {
    for (const p of PROVIDERS) {
      const endpoint = this.auth[p].routes[pathname];
      if (endpoint) return { provider: p, endpoint };
    }
    const first = pathname.split('/')[1];
    const provider = (PROVIDERS as readonly string[]).includes(first ?? '') ? (first as ProviderName) : 'unknown';
    return { provider, endpoint: 'unknown' };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { server } = this;
    let raw: string;
    try {
      raw = await readBody(req, BODY_LIMIT);
    } catch {
      if (!res.destroyed) {
        res.writeHead(413);
        res.end();
      }
      return;
    }
    const target = new URL(req.url ?? '/', 'http://127.0.0.1');
    const { provider, endpoint } = this.route(target.pathname);
    const headers = headerRecord(req);
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
      server.send(rec, res, jsonReply(404, { error: 'not_found' }));
      return;
    }
    const auth: ProviderAuth<unknown> = this.auth[provider];

    const applies = faultTarget(endpoint);
    const fault = applies ? this.faults[provider].take((f) => (f.on ?? 'token') === applies) : undefined;
    if (fault) rec.fault = fault;
    if (await faultBeforeProcessing(server, rec, res, fault, { malformed: () => auth.malformedBody() })) return;
    if (endpoint === 'token') await server.sleep(this.delayMs);
    if (server.closed) return;

    let reply = auth.answer(endpoint, rec, target);

    if (fault) {
      if (fault.kind === 'missing') {
        if (reply.status === 200 && reply.json) {
          const json = { ...reply.json };
          delete json[fault.field];
          reply = { ...reply, json, body: JSON.stringify(json) };
        }
      } else if (fault.kind === undefined && fault.afterProcessing) {
        reply = statusFaultReply(fault);
      } else if (fault.kind === 'hang' && fault.afterProcessing) {
        return;
      } else if (fault.kind === 'reset' && fault.afterProcessing) {
        server.reset(res);
        return;
      }
    }
    server.send(rec, res, reply);
  }
}

/** Start the fake auth server on 127.0.0.1, on a free port. Call close() when done. */
export async function startProviderServer(options: ProviderServerOptions = {}): Promise<ProviderServer> {
  const server = new ProviderServerImpl(options);
  await server.listen();
  return server;
}
