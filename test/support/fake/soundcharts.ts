// Soundcharts' token endpoint: POST /soundcharts/oauth/token, client credentials by HTTP Basic, a
// form body with grant_type=client_credentials and optionally team_id. No refresh tokens.
import {
  AccessTokens,
  MALFORMED_MARKER,
  formDecode,
  jsonReply,
  oauthError,
  parseBasic,
  type Reply,
} from './harness.js';
import {
  formPostChecks,
  type AccessTokenInfo,
  type EndpointKind,
  type ProviderAuth,
  type RecordedRequest,
  type TokenContext,
} from './token-endpoint.js';

export const SOUNDCHARTS_TOKEN_PATH = '/soundcharts/oauth/token';

export interface SoundchartsClient {
  clientId: string;
  clientSecret: string;
  /** Teams the client may select with team_id. Undefined: any team_id is accepted; []: none is. */
  teams?: string[];
}

export interface SoundchartsControl {
  /** expires_in of issued access tokens, seconds. Default 3600. */
  expiresIn: number;
  addClient(client: SoundchartsClient): void;
  removeClient(clientId: string): void;
}

export interface SoundchartsOptions {
  expiresIn?: number;
  clients?: SoundchartsClient[];
}

export class SoundchartsAuth implements ProviderAuth<SoundchartsControl> {
  readonly name = 'soundcharts' as const;
  readonly routes: Readonly<Record<string, EndpointKind>> = { [SOUNDCHARTS_TOKEN_PATH]: 'token' };
  readonly control: SoundchartsControl;

  private readonly clients = new Map<string, SoundchartsClient>();
  private readonly access = new AccessTokens('sc_at_');

  constructor(
    private readonly ctx: TokenContext,
    options: SoundchartsOptions,
  ) {
    const clients = this.clients;
    this.control = {
      expiresIn: options.expiresIn ?? 3600,
      addClient(c: SoundchartsClient) {
        clients.set(c.clientId, { ...c, teams: c.teams ? [...c.teams] : undefined });
      },
      removeClient(id: string) {
        clients.delete(id);
      },
    };
    for (const c of options.clients ?? []) this.control.addClient(c);
  }

  malformedBody(): string {
    return `{"access_token": "sc_at_${MALFORMED_MARKER}", "expires_in": 36`;
  }

  isAccessTokenAlive(t: string): boolean {
    return this.access.isAlive(t);
  }

  describeAccessToken(t: string): AccessTokenInfo | undefined {
    return this.access.get(t) ? { alive: this.access.isAlive(t) } : undefined;
  }

  isRefreshTokenAlive(): boolean {
    return false;
  }

  liveRefreshTokens(): string[] {
    return [];
  }

  answer(_endpoint: EndpointKind, rec: RecordedRequest, target: URL): Reply {
    const { ctx } = this;
    const checked = formPostChecks(ctx, rec, target);
    if ('reply' in checked) return checked.reply;
    const { form } = checked;
    const challenge = { 'www-authenticate': 'Basic realm="soundcharts"' };
    const basic = parseBasic(rec.headers.authorization);
    if (form.client_id !== undefined || form.client_secret !== undefined) {
      ctx.violate(rec, 'client credentials in the request body (Soundcharts uses HTTP Basic)');
      return basic.kind === 'ok'
        ? oauthError(400, 'invalid_request', 'More than one client authentication method')
        : oauthError(401, 'invalid_client', 'Client authentication failed', challenge);
    }
    if (basic.kind === 'none') {
      ctx.violate(rec, 'no HTTP Basic client authentication');
      return oauthError(401, 'invalid_client', 'Client authentication failed', challenge);
    }
    if (basic.kind === 'malformed') {
      ctx.violate(rec, basic.why);
      return oauthError(401, 'invalid_client', 'Client authentication failed', challenge);
    }
    const client = this.clients.get(basic.id) ?? this.clients.get(formDecode(basic.id));
    if (!client || (client.clientSecret !== basic.secret && client.clientSecret !== formDecode(basic.secret))) {
      return oauthError(401, 'invalid_client', 'Client authentication failed', challenge);
    }
    if (form.grant_type === undefined) {
      ctx.violate(rec, 'missing grant_type');
      return oauthError(400, 'invalid_request', 'Missing grant_type');
    }
    if (form.grant_type !== 'client_credentials') {
      ctx.violate(rec, `grant_type ${form.grant_type}`);
      return oauthError(400, 'unsupported_grant_type');
    }
    for (const k of Object.keys(form)) {
      if (k === 'scope') {
        ctx.violate(rec, 'unexpected scope parameter');
        return oauthError(400, 'invalid_scope');
      }
      if (k !== 'grant_type' && k !== 'team_id') ctx.violate(rec, `unexpected parameter ${k}`);
    }
    const team = form.team_id;
    if (team !== undefined) {
      if (team === '') {
        ctx.violate(rec, 'empty team_id');
        return oauthError(400, 'invalid_request', 'team_id must not be empty');
      }
      if (client.teams !== undefined && !client.teams.includes(team)) {
        return oauthError(403, 'access_denied', 'The client cannot access the selected team');
      }
    }
    const expiresIn = this.control.expiresIn;
    const at = this.access.issue(expiresIn);
    ctx.recordMint('soundcharts', 'client_credentials', at, client.clientId);
    return jsonReply(200, { access_token: at, token_type: 'bearer', expires_in: expiresIn, refresh_token: null });
  }
}
