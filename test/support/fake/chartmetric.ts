// Chartmetric's token endpoint: POST /chartmetric/api/token exchanges a refresh token (JSON body
// `{"refreshtoken": …}`) for an access token, optionally rotating the refresh token.
import { AccessTokens, MALFORMED_MARKER, jsonReply, randomToken, type Reply } from './harness.js';
import {
  postChecks,
  type AccessTokenInfo,
  type EndpointKind,
  type ProviderAuth,
  type RecordedRequest,
  type TokenContext,
} from './token-endpoint.js';

export const CHARTMETRIC_TOKEN_PATH = '/chartmetric/api/token';

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

export interface ChartmetricOptions {
  rotate?: boolean;
  expiresIn?: number;
  refreshTokens?: string[];
}

type RefreshState = 'active' | 'used' | 'revoked';

export class ChartmetricAuth implements ProviderAuth<ChartmetricControl> {
  readonly name = 'chartmetric' as const;
  readonly routes: Readonly<Record<string, EndpointKind>> = { [CHARTMETRIC_TOKEN_PATH]: 'token' };
  readonly control: ChartmetricControl;

  private readonly refreshTokens = new Map<string, RefreshState>();
  private readonly access = new AccessTokens('cm_at_');

  constructor(
    private readonly ctx: TokenContext,
    options: ChartmetricOptions,
  ) {
    const refreshTokens = this.refreshTokens;
    this.control = {
      rotate: options.rotate ?? false,
      expiresIn: options.expiresIn ?? 3600,
      scope: 'api',
      addRefreshToken(t: string) {
        refreshTokens.set(t, 'active');
      },
      revokeRefreshToken(t: string) {
        if (refreshTokens.has(t)) refreshTokens.set(t, 'revoked');
      },
    };
    for (const t of options.refreshTokens ?? []) this.control.addRefreshToken(t);
  }

  malformedBody(): string {
    return `{"token": "cm_at_${MALFORMED_MARKER}", "expires_in": 36`;
  }

  isAccessTokenAlive(t: string): boolean {
    return this.access.isAlive(t);
  }

  describeAccessToken(t: string): AccessTokenInfo | undefined {
    return this.access.get(t) ? { alive: this.access.isAlive(t) } : undefined;
  }

  isRefreshTokenAlive(t: string): boolean {
    return this.refreshTokens.get(t) === 'active';
  }

  liveRefreshTokens(): string[] {
    return [...this.refreshTokens.keys()].filter((t) => this.isRefreshTokenAlive(t));
  }

  answer(_endpoint: EndpointKind, rec: RecordedRequest, target: URL): Reply {
    const { ctx } = this;
    const bad = (message: string) => jsonReply(400, { error: 'bad_request', message });
    const early = postChecks(ctx, rec, target, 'application/json', () => bad('Content-Type must be application/json'));
    if (early) return early;
    if (rec.headers.authorization !== undefined)
      ctx.violate(rec, 'unexpected Authorization header on the token request');
    let parsed: unknown;
    try {
      parsed = JSON.parse(rec.body);
    } catch {
      ctx.violate(rec, 'malformed JSON body');
      return bad('Malformed request body');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      ctx.violate(rec, 'JSON body is not an object');
      return bad('Malformed request body');
    }
    const body = parsed as Record<string, unknown>;
    const rt = body.refreshtoken;
    if (typeof rt !== 'string' || rt === '') {
      ctx.violate(rec, 'missing refreshtoken field');
      return bad('Missing required field: refreshtoken');
    }
    for (const k of Object.keys(body)) if (k !== 'refreshtoken') ctx.violate(rec, `unexpected field ${k}`);

    const unauthorized = () => jsonReply(401, { error: 'invalid_grant', message: 'Invalid or expired refresh token' });
    const state = this.refreshTokens.get(rt);
    if (state === undefined) {
      if (this.refreshTokens.get(rt.trim()) === 'active')
        ctx.violate(rec, 'refresh token sent with surrounding whitespace');
      return unauthorized();
    }
    if (state === 'used') {
      ctx.violate(rec, 'rotated (spent) refresh token reused');
      return unauthorized();
    }
    if (state === 'revoked') return unauthorized();

    let next = rt;
    if (this.control.rotate) {
      this.refreshTokens.set(rt, 'used');
      next = randomToken('cm_rt_');
      this.refreshTokens.set(next, 'active');
    }
    const expiresIn = this.control.expiresIn;
    const at = this.access.issue(expiresIn);
    ctx.recordMint('chartmetric', 'refresh_token', at);
    return jsonReply(200, { token: at, expires_in: expiresIn, refresh_token: next, scope: this.control.scope });
  }
}
