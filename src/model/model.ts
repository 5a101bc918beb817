import type { Runtime } from './runtime.js';

/**
 * A provider's name. The registry (src/providers/registry.ts) is the one list of providers and
 * narrows this to its names (`ProviderId` there); the domain model takes any string.
 */
export type ProviderName = string;

/** The secret stores TOKENS_STORE can name (src/store/: one file per backend); the first is the default. */
export const STORE_KINDS = ['keychain', 'file', 'redis'] as const;
export type UserStoreKind = (typeof STORE_KINDS)[number];

/** An access token as cached: no refresh token, no client secret, ever. */
export interface AccessToken {
  access_token: string;
  token_type: string;
  /** Milliseconds since the epoch. */
  expires_at: number;
  /**
   * Milliseconds since the epoch when it was obtained (absent in caches written before it was
   * kept): a token obtained "in the future" was minted under a wrong clock and is stale.
   */
  obtained_at?: number;
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

/** What a mint or refresh produced. `secrets`, when set, is the whole new bundle to store (a rotation). */
export interface MintResult {
  token: AccessToken;
  secrets?: Secrets;
}

export interface ProviderContext {
  deps: Runtime;
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
  /** The values among these that are secret (exec --mask hides them); unset: every env value. */
  secrets?: string[];
}

/** What a caller is handed: an access token, or the static headers of a mode that has none. */
export type Credential = { kind: 'token'; token: AccessToken } | { kind: 'static'; credentials: StaticHeaders };

/**
 * The flags of `tokens login`, all providers together; each adapter refuses the ones it does not
 * take. A field is undefined unless the flag was given, so defaults are the adapter's.
 */
export interface LoginFlags {
  clientId?: string;
  teamId?: string;
  appId?: string;
  legacy?: boolean;
  clientCredentials?: boolean;
  redirectUri?: string;
  scope?: string;
  /** False with --no-browser. */
  browser?: boolean;
  timeoutSeconds?: number;
}

/** A secret `login` must obtain: from `env` when set, else a hidden prompt, else a stdin line. */
export interface SecretRequest {
  /** Its key in the stored bundle (Secrets). */
  name: string;
  env: string;
  label: string;
}

/** The descriptor's secret of that name, as a login plan names it. */
export function secretRequest(provider: ProviderDescriptor, name: string): SecretRequest {
  const found = provider.secrets.find((s) => s.name === name);
  if (!found) throw new Error(`${provider.id} declares no secret ${name}`);
  return found;
}

export interface LoginPlan {
  settings: ProviderSettings;
  /** The names of the descriptor's secrets (ProviderDescriptor.secrets) to obtain, in order. */
  secrets: string[];
  /** Printed on stderr before anything is asked (e.g. a deprecation warning). */
  warnings?: string[];
}

export interface LoginContext extends ProviderContext {
  /** The next line of stdin (after the secrets), for a pasted redirect URL; undefined at EOF. */
  readLine: () => Promise<string | undefined>;
  flags: LoginFlags;
}

export interface LoginOutcome {
  secrets: Secrets;
  /** The access token obtained while logging in, cached at once. */
  token?: AccessToken;
}

/** The code of a provider, loaded only when a token must be minted or a login run. */
export interface ProviderAdapter {
  /** Validates the flags against this provider (usage errors) and says what to store and ask. */
  planLogin(flags: LoginFlags, previous: ProviderSettings | undefined): LoginPlan;
  /**
   * The interactive part of a login (SoundCloud's browser step), run before the provider lock is
   * taken, so a slow browser never blocks other processes. Its result goes to completeLogin.
   */
  authorize?(ctx: LoginContext, secrets: Secrets): Promise<Readonly<Record<string, string>> | undefined>;
  /** Verifies the credentials (mints once, exchanges a code). Runs under the provider lock. */
  completeLogin(
    ctx: LoginContext,
    secrets: Secrets,
    authorization?: Readonly<Record<string, string>>,
  ): Promise<LoginOutcome>;
  /** Mints or refreshes an access token from the stored secrets. */
  mint(ctx: ProviderContext, secrets: Secrets): Promise<MintResult>;
  /** For modes with no access token (Soundcharts legacy): the headers to send. */
  staticCredentials?(settings: ProviderSettings, secrets: Secrets): StaticHeaders | undefined;
  /** Ends the session at the provider (SoundCloud sign-out); errors are reported, not fatal. */
  signOut?(ctx: ProviderContext, token: AccessToken): Promise<void>;
  /** Whether this mode holds a session worth signing out of. */
  hasSession?(settings: ProviderSettings): boolean;
}

/** A provider as data: what the warm path and the CLI need without loading any provider code. */
export interface ProviderDescriptor<Id extends ProviderName = ProviderName> {
  id: Id;
  title: string;
  /** Prefix of the variables exec sets: SOUNDCLOUD_ACCESS_TOKEN, SOUNDCLOUD_AUTHORIZATION. */
  envPrefix: string;
  /** The variables a static-credential mode sets instead (Soundcharts legacy), if it has one. */
  staticEnvNames?: readonly string[];
  /** The Authorization scheme: "OAuth" for SoundCloud, "Bearer" for the others. */
  authScheme: string;
  /** The values of `mode` in its settings (config.json); the first is the default login's. */
  modes: readonly string[];
  /**
   * Every URL of the provider by name, each with its TOKENS_*_URL override: the token endpoints,
   * and `api`, the base that `tokens api` appends its PATH to.
   */
  endpoints: Record<string, { env: string; default: string }> & { api: { env: string; default: string } };
  /**
   * The secrets `login` may ask for, each read from its variable when set; every one of those
   * variables is withheld from every child process.
   */
  secrets: readonly SecretRequest[];
  loadAdapter: () => Promise<ProviderAdapter>;
  /** How `tokens api --paginate` walks the API's pages; absent when it has no next-page links. */
  loadPagination?: () => Promise<Pagination>;
}

/** One provider's way of paging a collection (src/providers/NAME/pagination.ts). */
export interface Pagination {
  /** The URL of the first page, from the one asked for (SoundCloud: linked_partitioning=true added). */
  firstPage(url: URL): URL;
  /**
   * The items of one parsed page and the link to the next one (undefined on the last page); a
   * page not in the documented shape is an error naming the field that is missing.
   */
  readPage(page: unknown): { items: unknown[]; next?: string } | { problem: string };
}
