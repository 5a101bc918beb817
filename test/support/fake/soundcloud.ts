// SoundCloud's auth endpoints:
//   GET  /soundcloud/authorize             authorization (Authorization Code + PKCE S256)
//   POST /soundcloud/authorize/decision    the "Approve"/"Deny" form of the consent page
//   POST /soundcloud/oauth/token           authorization_code, refresh_token, client_credentials
//   POST /soundcloud/sign-out              sign-out (JSON body)
// Refresh tokens are single-use; the tokens a login produced form a family (a session) that is
// revoked whole when a spent refresh token is replayed or the session signs out.
import { randomBytes } from 'node:crypto';
import {
  AccessTokens,
  MALFORMED_MARKER,
  escapeHtml,
  formDecode,
  htmlReply,
  jsonReply,
  oauthError,
  parseBasic,
  parseParams,
  randomToken,
  redirectReply,
  type Reply,
} from './harness.js';
import {
  formPostChecks,
  postChecks,
  type AccessTokenInfo,
  type EndpointKind,
  type ProviderAuth,
  type RecordedRequest,
  type TokenContext,
} from './token-endpoint.js';
import { s256 } from './client-helpers.js';

export const SOUNDCLOUD_PATHS = {
  authorize: '/soundcloud/authorize',
  decision: '/soundcloud/authorize/decision',
  token: '/soundcloud/oauth/token',
  signOut: '/soundcloud/sign-out',
} as const;

export type AuthorizeMode = 'approve' | 'deny' | 'wrong-state' | 'page';

export interface SoundcloudClient {
  clientId: string;
  clientSecret: string;
  /** Registered redirect URIs, compared by exact string equality. */
  redirectUris?: string[];
}

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  scope: string;
}

type Grant = 'authorization_code' | 'client_credentials';

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
  issueRefreshToken(clientId: string, opts?: { scope?: string; grant?: Grant }): string;
  /** Like issueRefreshToken, also with a live access token. */
  issueTokens(clientId: string, opts?: { scope?: string; grant?: Grant }): IssuedTokens;
  /** Kill a refresh token (and with it nothing else). */
  revokeRefreshToken(token: string): void;
  /** Revoke the whole grant family (session) a refresh or access token belongs to. */
  revokeFamily(token: string): void;
  /** Forget the client-credentials mint history (of one client, or all). */
  resetClientCredentialsCount(clientId?: string): void;
}

export interface SoundcloudOptions {
  authorizeMode?: AuthorizeMode;
  revokeOnReuse?: boolean;
  clientCredentialsLimit?: number;
  clientCredentialsWindowMs?: number;
  expiresIn?: number;
  clients?: SoundcloudClient[];
}

type Family = { id: string; clientId: string; grant: Grant; scope: string; revoked: boolean };
type RefreshRecord = { clientId: string; familyId: string; state: 'active' | 'used' | 'revoked' };
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

const CODE_TTL_MS = 10 * 60 * 1000;
const CHALLENGE_RE = /^[A-Za-z0-9_-]{43}$/;
const VERIFIER_RE = /^[A-Za-z0-9._~-]{43,128}$/;
const DEFAULT_DENY_DESCRIPTION = `The user said "no" & <script>alert('denied')</script> closed the window`;

export class SoundcloudAuth implements ProviderAuth<SoundcloudControl> {
  readonly name = 'soundcloud' as const;
  readonly routes: Readonly<Record<string, EndpointKind>> = {
    [SOUNDCLOUD_PATHS.token]: 'token',
    [SOUNDCLOUD_PATHS.authorize]: 'authorize',
    [SOUNDCLOUD_PATHS.decision]: 'authorize-decision',
    [SOUNDCLOUD_PATHS.signOut]: 'sign-out',
  };
  readonly control: SoundcloudControl;

  private readonly clients = new Map<string, SoundcloudClient>();
  private readonly families = new Map<string, Family>();
  private readonly refreshTokens = new Map<string, RefreshRecord>();
  private readonly codes = new Map<string, CodeRecord>();
  private readonly pending = new Map<string, PendingAuthorization>();
  /** Client id → times of its client-credentials mints. */
  private readonly clientCredentialsMints = new Map<string, number[]>();
  private readonly access = new AccessTokens('scl_at_');

  constructor(
    private readonly ctx: TokenContext,
    options: SoundcloudOptions,
  ) {
    const self = this;
    this.control = {
      authorizeMode: options.authorizeMode ?? 'approve',
      denyDescription: DEFAULT_DENY_DESCRIPTION,
      revokeOnReuse: options.revokeOnReuse ?? true,
      clientCredentialsLimit: options.clientCredentialsLimit ?? 50,
      clientCredentialsWindowMs: options.clientCredentialsWindowMs ?? 12 * 60 * 60 * 1000,
      expiresIn: options.expiresIn ?? 3600,
      defaultScope: '',
      addClient(c: SoundcloudClient) {
        self.clients.set(c.clientId, { ...c, redirectUris: [...(c.redirectUris ?? [])] });
      },
      removeClient(id: string) {
        self.clients.delete(id);
      },
      issueRefreshToken(clientId, opts) {
        return self.seed(clientId, opts, false).refreshToken;
      },
      issueTokens(clientId, opts) {
        return self.seed(clientId, opts, true);
      },
      revokeRefreshToken(t: string) {
        const r = self.refreshTokens.get(t);
        if (r) r.state = 'revoked';
      },
      revokeFamily(t: string) {
        const id = self.refreshTokens.get(t)?.familyId ?? self.access.get(t)?.familyId;
        if (id) self.revokeFamilyById(id);
      },
      resetClientCredentialsCount(clientId?: string) {
        if (clientId === undefined) self.clientCredentialsMints.clear();
        else self.clientCredentialsMints.delete(clientId);
      },
    };
    for (const c of options.clients ?? []) this.control.addClient(c);
  }

  malformedBody(): string {
    return `{"access_token": "scl_at_${MALFORMED_MARKER}", "expires_in": 36`;
  }

  isAccessTokenAlive(t: string): boolean {
    if (!this.access.isAlive(t)) return false;
    const familyId = this.access.get(t)?.familyId;
    return !(familyId !== undefined && this.families.get(familyId)?.revoked);
  }

  describeAccessToken(t: string): AccessTokenInfo | undefined {
    const a = this.access.get(t);
    if (!a) return undefined;
    const grant = a.familyId !== undefined ? this.families.get(a.familyId)?.grant : undefined;
    return { alive: this.isAccessTokenAlive(t), ...(grant ? { grant } : {}) };
  }

  isRefreshTokenAlive(t: string): boolean {
    const r = this.refreshTokens.get(t);
    return r !== undefined && r.state === 'active' && !this.families.get(r.familyId)?.revoked;
  }

  liveRefreshTokens(): string[] {
    return [...this.refreshTokens.keys()].filter((t) => this.isRefreshTokenAlive(t));
  }

  answer(endpoint: EndpointKind, rec: RecordedRequest, target: URL): Reply {
    switch (endpoint) {
      case 'token':
        return this.token(rec, target);
      case 'authorize':
        return this.authorize(rec, target);
      case 'authorize-decision':
        return this.decision(rec);
      case 'sign-out':
        return this.signOut(rec, target);
      default:
        return jsonReply(404, { error: 'not_found' });
    }
  }

  // ───────── families ─────────

  private newFamily(clientId: string, grant: Grant, scope: string): Family {
    const f: Family = { id: randomBytes(8).toString('hex'), clientId, grant, scope, revoked: false };
    this.families.set(f.id, f);
    return f;
  }

  private revokeFamilyById(id: string): void {
    const f = this.families.get(id);
    if (!f) return;
    f.revoked = true;
    for (const r of this.refreshTokens.values()) if (r.familyId === id && r.state === 'active') r.state = 'revoked';
    for (const a of this.access.all()) if (a.familyId === id) a.revoked = true;
  }

  /** Issue an access token and a refresh token in the family. */
  private issueInFamily(f: Family): { accessToken: string; refreshToken: string; expiresIn: number } {
    const expiresIn = this.control.expiresIn;
    const accessToken = this.access.issue(expiresIn, f.id);
    const refreshToken = randomToken('scl_rt_');
    this.refreshTokens.set(refreshToken, { clientId: f.clientId, familyId: f.id, state: 'active' });
    return { accessToken, refreshToken, expiresIn };
  }

  private success(f: Family, grant: string): Reply {
    const t = this.issueInFamily(f);
    this.ctx.recordMint('soundcloud', grant, t.accessToken, f.clientId);
    return jsonReply(200, {
      access_token: t.accessToken,
      token_type: 'bearer',
      expires_in: t.expiresIn,
      refresh_token: t.refreshToken,
      scope: f.scope,
    });
  }

  private seed(
    clientId: string,
    opts: { scope?: string; grant?: Grant } | undefined,
    withAccess: boolean,
  ): IssuedTokens {
    if (!this.clients.has(clientId)) throw new Error(`unknown SoundCloud client ${clientId}: addClient() first`);
    const f = this.newFamily(clientId, opts?.grant ?? 'authorization_code', opts?.scope ?? this.control.defaultScope);
    const t = this.issueInFamily(f);
    if (!withAccess) this.access.delete(t.accessToken);
    return {
      accessToken: withAccess ? t.accessToken : '',
      refreshToken: t.refreshToken,
      expiresIn: t.expiresIn,
      scope: f.scope,
    };
  }

  // ───────── token endpoint ─────────

  private token(rec: RecordedRequest, target: URL): Reply {
    const { ctx } = this;
    const checked = formPostChecks(ctx, rec, target);
    if ('reply' in checked) return checked.reply;
    const { form } = checked;
    const grant = form.grant_type;
    if (grant === undefined) {
      ctx.violate(rec, 'missing grant_type');
      return oauthError(400, 'invalid_request', 'Missing grant_type');
    }
    if (grant !== 'authorization_code' && grant !== 'refresh_token' && grant !== 'client_credentials') {
      ctx.violate(rec, `unsupported grant_type ${grant}`);
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
        ctx.violate(
          rec,
          'client credentials in the body for grant_type=client_credentials (only HTTP Basic is supported)',
        );
        return invalidClient('Client credentials must be sent with HTTP Basic authentication');
      }
      if (basic.kind === 'none') {
        ctx.violate(rec, 'no HTTP Basic client authentication for grant_type=client_credentials');
        return invalidClient();
      }
      if (basic.kind === 'malformed') {
        ctx.violate(rec, basic.why);
        return invalidClient();
      }
      clientId = basic.id;
      clientSecret = basic.secret;
    } else {
      if (basic.kind === 'malformed') {
        ctx.violate(rec, basic.why);
        return invalidClient();
      }
      if (basic.kind === 'ok' && inBody) {
        ctx.violate(rec, 'more than one client authentication method (Basic and body)');
        return oauthError(400, 'invalid_request', 'More than one client authentication method');
      }
      if (basic.kind === 'ok') {
        clientId = basic.id;
        clientSecret = basic.secret;
      } else {
        if (form.client_id === undefined || form.client_secret === undefined) {
          ctx.violate(rec, `client_id or client_secret missing for grant_type=${grant}`);
          return invalidClient();
        }
        clientId = form.client_id;
        clientSecret = form.client_secret;
      }
    }
    const viaBasic = basic.kind === 'ok';
    const client = this.clients.get(clientId) ?? (viaBasic ? this.clients.get(formDecode(clientId)) : undefined);
    if (
      !client ||
      (client.clientSecret !== clientSecret && !(viaBasic && client.clientSecret === formDecode(clientSecret)))
    ) {
      return invalidClient();
    }

    const allowed =
      grant === 'authorization_code'
        ? ['grant_type', 'code', 'redirect_uri', 'code_verifier', 'client_id', 'client_secret']
        : grant === 'refresh_token'
          ? ['grant_type', 'refresh_token', 'client_id', 'client_secret', 'scope']
          : ['grant_type', 'scope'];
    for (const k of Object.keys(form))
      if (!allowed.includes(k)) ctx.violate(rec, `unexpected parameter ${k} for grant_type=${grant}`);

    if (grant === 'authorization_code') return this.authorizationCode(rec, form, client);
    if (grant === 'refresh_token') return this.refreshToken(rec, form, client);
    return this.clientCredentials(rec, form, client);
  }

  private authorizationCode(rec: RecordedRequest, form: Record<string, string>, client: SoundcloudClient): Reply {
    const { ctx } = this;
    for (const k of ['code', 'redirect_uri', 'code_verifier'] as const) {
      if (form[k] === undefined || form[k] === '') {
        ctx.violate(rec, `missing ${k}`);
        return oauthError(400, 'invalid_request', `Missing ${k}`);
      }
    }
    const verifier = form.code_verifier!;
    if (!VERIFIER_RE.test(verifier)) {
      ctx.violate(rec, 'code_verifier is not 43-128 unreserved characters');
      return oauthError(400, 'invalid_request', 'Invalid code_verifier');
    }
    const code = this.codes.get(form.code!);
    if (!code || code.clientId !== client.clientId)
      return oauthError(400, 'invalid_grant', 'Invalid authorization code');
    if (code.used) {
      ctx.violate(rec, 'authorization code reused');
      if (code.familyId) this.revokeFamilyById(code.familyId);
      return oauthError(400, 'invalid_grant', 'Authorization code already used');
    }
    code.used = true;
    if (code.expiresAt <= Date.now()) return oauthError(400, 'invalid_grant', 'Authorization code expired');
    if (form.redirect_uri !== code.redirectUri) {
      ctx.violate(rec, 'redirect_uri differs from the one used at /authorize');
      return oauthError(400, 'invalid_grant', 'redirect_uri mismatch');
    }
    if (s256(verifier) !== code.challenge) {
      ctx.violate(rec, 'code_verifier does not match the code_challenge');
      return oauthError(400, 'invalid_grant', 'PKCE verification failed');
    }
    const f = this.newFamily(client.clientId, 'authorization_code', code.scope);
    code.familyId = f.id;
    return this.success(f, 'authorization_code');
  }

  private refreshToken(rec: RecordedRequest, form: Record<string, string>, client: SoundcloudClient): Reply {
    const { ctx } = this;
    const rt = form.refresh_token;
    if (rt === undefined || rt === '') {
      ctx.violate(rec, 'missing refresh_token');
      return oauthError(400, 'invalid_request', 'Missing refresh_token');
    }
    const r = this.refreshTokens.get(rt);
    const invalid = () => oauthError(400, 'invalid_grant', 'Invalid refresh token');
    if (!r || r.clientId !== client.clientId) return invalid();
    const f = this.families.get(r.familyId);
    if (!f || f.revoked || r.state === 'revoked') return invalid();
    if (r.state === 'used') {
      ctx.violate(rec, 'single-use refresh token reused');
      if (this.control.revokeOnReuse) this.revokeFamilyById(f.id);
      return invalid();
    }
    if (form.scope !== undefined) {
      const granted = new Set(f.scope.split(' ').filter(Boolean));
      if (
        !form.scope
          .split(' ')
          .filter(Boolean)
          .every((s) => granted.has(s))
      ) {
        ctx.violate(rec, 'refresh asks for a scope beyond the grant');
        return oauthError(400, 'invalid_scope');
      }
    }
    r.state = 'used';
    return this.success(f, 'refresh_token');
  }

  private clientCredentials(rec: RecordedRequest, form: Record<string, string>, client: SoundcloudClient): Reply {
    const now = Date.now();
    const windowMs = this.control.clientCredentialsWindowMs;
    const history = (this.clientCredentialsMints.get(client.clientId) ?? []).filter((t) => t > now - windowMs);
    this.clientCredentialsMints.set(client.clientId, history);
    if (history.length >= this.control.clientCredentialsLimit) {
      const retryAfter = Math.max(1, Math.ceil(((history[0] ?? now) + windowMs - now) / 1000));
      return oauthError(429, 'rate_limit_exceeded', 'Too many client credentials tokens; reuse or refresh your token', {
        'retry-after': String(retryAfter),
      });
    }
    if (form.scope === '') this.ctx.violate(rec, 'empty scope parameter');
    history.push(now);
    const f = this.newFamily(client.clientId, 'client_credentials', form.scope || this.control.defaultScope);
    return this.success(f, 'client_credentials');
  }

  // ───────── authorization ─────────

  private authorizeErrorPage(message: string): Reply {
    return htmlReply(400, 'Authorization error', `<p>${escapeHtml(message)}</p>`);
  }

  private withParams(uri: string, params: Record<string, string | undefined>): string {
    const u = new URL(uri);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
    return u.toString();
  }

  private approve(p: PendingAuthorization, state: string): Reply {
    const code = randomToken('scl_code_');
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
        error_description: this.control.denyDescription,
        state: p.state,
      }),
    );
  }

  private authorize(rec: RecordedRequest, target: URL): Reply {
    const { ctx } = this;
    if (rec.method !== 'GET') {
      ctx.violate(rec, `method ${rec.method} on /authorize`);
      const r = htmlReply(405, 'Method not allowed', '');
      r.headers.allow = 'GET';
      return r;
    }
    const { values: q, duplicates } = parseParams(target.search);
    if (duplicates.includes('client_id') || duplicates.includes('redirect_uri')) {
      ctx.violate(rec, `repeated parameter(s): ${duplicates.join(', ')}`);
      return this.authorizeErrorPage('Invalid request.');
    }
    if (!q.client_id) {
      ctx.violate(rec, 'missing client_id');
      return this.authorizeErrorPage('Missing client_id.');
    }
    const client = this.clients.get(q.client_id);
    if (!client) return this.authorizeErrorPage('Unknown client.');
    if (!q.redirect_uri) {
      ctx.violate(rec, 'missing redirect_uri');
      return this.authorizeErrorPage('Missing redirect_uri.');
    }
    if (!(client.redirectUris ?? []).includes(q.redirect_uri)) {
      return this.authorizeErrorPage('The redirect_uri is not registered for this application.');
    }
    const redirectUri = q.redirect_uri;
    const fail = (error: string, why: string, description: string): Reply => {
      ctx.violate(rec, why);
      return redirectReply(this.withParams(redirectUri, { error, error_description: description, state: q.state }));
    };
    if (duplicates.length > 0)
      return fail('invalid_request', `repeated parameter(s): ${duplicates.join(', ')}`, 'Repeated parameter');
    if (q.response_type === undefined) return fail('invalid_request', 'missing response_type', 'Missing response_type');
    if (q.response_type !== 'code') {
      return fail(
        'unsupported_response_type',
        `response_type ${q.response_type}`,
        'Only response_type=code is supported',
      );
    }
    if (!q.code_challenge || !CHALLENGE_RE.test(q.code_challenge)) {
      return fail('invalid_request', 'missing or malformed code_challenge', 'PKCE code_challenge required');
    }
    if (q.code_challenge_method !== 'S256') {
      return fail(
        'invalid_request',
        `code_challenge_method ${q.code_challenge_method ?? '(none)'}`,
        'code_challenge_method must be S256',
      );
    }
    if (!q.state) return fail('invalid_request', 'missing state', 'state required');
    if (q.scope === '') ctx.violate(rec, 'empty scope parameter');
    const known = [
      'client_id',
      'redirect_uri',
      'response_type',
      'code_challenge',
      'code_challenge_method',
      'state',
      'scope',
      'display',
    ];
    for (const k of Object.keys(q)) if (!known.includes(k)) ctx.violate(rec, `unexpected parameter ${k}`);

    const p: PendingAuthorization = {
      clientId: client.clientId,
      redirectUri,
      challenge: q.code_challenge,
      scope: q.scope || this.control.defaultScope,
      state: q.state,
    };
    switch (this.control.authorizeMode) {
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
            `<form method="post" action="${SOUNDCLOUD_PATHS.decision}">` +
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

  private decision(rec: RecordedRequest): Reply {
    if (rec.method !== 'POST') return htmlReply(405, 'Method not allowed', '');
    const { values } = parseParams(rec.body);
    const p = values.txn !== undefined ? this.pending.get(values.txn) : undefined;
    if (!p) return this.authorizeErrorPage('This authorization request has expired.');
    this.pending.delete(values.txn!);
    return values.decision === 'approve' ? this.approve(p, p.state) : this.deny(p);
  }

  // ───────── sign-out ─────────

  private signOut(rec: RecordedRequest, target: URL): Reply {
    const { ctx } = this;
    const bad = () => jsonReply(400, { error: 'bad_request' });
    const early = postChecks(ctx, rec, target, 'application/json', bad);
    if (early) return early;
    let parsed: unknown;
    try {
      parsed = JSON.parse(rec.body);
    } catch {
      ctx.violate(rec, 'malformed JSON body');
      return bad();
    }
    const at =
      typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
        ? (parsed as Record<string, unknown>).access_token
        : undefined;
    if (typeof at !== 'string' || at === '') {
      ctx.violate(rec, 'body is missing access_token');
      return bad();
    }
    for (const k of Object.keys(parsed as object)) if (k !== 'access_token') ctx.violate(rec, `unexpected field ${k}`);
    const a = this.access.get(at);
    const unauthorized = () => jsonReply(401, { error: 'unauthorized' });
    if (!a || a.revoked) return unauthorized();
    if (a.familyId !== undefined && this.families.get(a.familyId)?.revoked) return unauthorized();
    if (a.expiresAt <= Date.now()) {
      // The CLI is meant to refresh an expired token before signing out; allow 2 s of clock slack.
      if (a.expiresAt < Date.now() - 2000) ctx.violate(rec, 'sign-out with an expired access token');
      return unauthorized();
    }
    if (a.familyId !== undefined) this.revokeFamilyById(a.familyId);
    else a.revoked = true;
    return jsonReply(200, {});
  }
}
