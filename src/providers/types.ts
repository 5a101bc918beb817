import type { Deps } from '../core/deps.js';

export type ProviderId = 'soundcloud' | 'chartmetric' | 'soundcharts';

/** An access token as cached: no refresh token, no client secret, ever. */
export interface AccessToken {
  access_token: string;
  token_type: string;
  /** Milliseconds since the epoch. */
  expires_at: number;
  scope?: string;
}

/**
 * Secrets for one provider and profile, stored as one item so they change together.
 * e.g. { refresh_token } for Chartmetric, { client_secret, refresh_token? } for SoundCloud.
 */
export type Secrets = Readonly<Record<string, string>>;

/** Non-secret settings for one provider and profile, kept in config.json. */
export interface ProviderSettings {
  mode: string;
  client_id?: string;
  team_id?: string;
  app_id?: string;
  redirect_uri?: string;
  scope?: string;
  /** The store the secrets were written to at login, so a later run can say which one to use. */
  store?: string;
}

/** What a mint or refresh produced. `secrets` is set when the provider rotated a secret. */
export interface MintResult {
  token: AccessToken;
  secrets?: Secrets;
}

export interface ProviderContext {
  deps: Deps;
  profile: string;
  settings: ProviderSettings;
  /** The endpoint URL by name, after TOKENS_*_URL overrides and the loopback-only http:// check. */
  endpoint: (name: string) => string;
}

/** Static credentials for a mode with no access token (Soundcharts legacy). */
export interface StaticHeaders {
  /** Header name → value, printed by --format header. */
  headers: Array<[string, string]>;
  /** Variable name → value, set by exec and printed by --format env. */
  env: Array<[string, string]>;
  /** Extra fields for --format json. */
  json: Record<string, string>;
}
