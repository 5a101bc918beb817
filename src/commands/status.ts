// `tokens status [PROVIDER] [--json]`: what is configured, where, in which mode, and when the
// cached token expires. Never a secret: the store is asked only whether a refresh token exists.
import { secretKey } from '../core/broker.js';
import { isFresh, readCache } from '../core/cache.js';
import { findSettings } from '../core/context.js';
import { ExitCode, isTokensError } from '../core/errors.js';
import { notConfigured } from '../core/hints.js';
import { storeKindFromEnv as storeKind } from '../store/open.js';
import type { Deps } from '../core/deps.js';
import type { ProviderDescriptor, ProviderSettings } from '../core/model.js';
import type { SecretStore } from '../store/store.js';

export interface StatusOptions {
  provider?: ProviderDescriptor;
  profile: string;
  json: boolean;
}

/** One row of `status --json`; the field set is documented in the README and kept stable. */
export interface StatusEntry {
  provider: string;
  profile: string;
  configured: boolean;
  mode: string | null;
  store: string | null;
  client_id: string | null;
  token_expires_at: string | null;
  token_expired: boolean | null;
  refresh_token: boolean | null;
}

export async function runStatus(options: StatusOptions, deps: Deps): Promise<number> {
  const providers = options.provider ? [options.provider] : deps.providers;
  const opened = await deps.openStore();
  const found = new Map<ProviderDescriptor, ProviderSettings>();
  let unreadable = false;
  for (const provider of providers) {
    const shared = opened.parts(options.profile, provider.id, deps).sharedSettings;
    let settings: ProviderSettings | undefined;
    try {
      settings = await findSettings(deps, provider, options.profile, shared);
    } catch (error) {
      // A shared store that cannot be read: say so, and show what this machine knows.
      if (!isTokensError(error) || error.exitCode !== ExitCode.store) throw error;
      if (!unreadable) deps.io.stderr.write(`note: the secret store could not be read (${error.message}); showing this machine's settings only\n`);
      unreadable = true;
      settings = await findSettings(deps, provider, options.profile);
    }
    if (settings) found.set(provider, settings);
  }
  if (options.provider && found.size === 0) {
    throw notConfigured(options.provider.id, options.profile);
  }
  const store = found.size > 0 && !unreadable ? await openQuietly(opened, deps) : undefined;
  for (const warning of store ? ((await store.warnings?.()) ?? []) : []) deps.io.stderr.write(`warning: ${warning}\n`);
  const entries: StatusEntry[] = [];
  for (const provider of providers) {
    const settings = found.get(provider);
    if (!settings) {
      if (options.provider || options.json) entries.push(emptyEntry(provider, options.profile));
      continue;
    }
    const cached = await readCache(deps.paths, options.profile, provider.id);
    const token = cached.kind === 'hit' ? cached.token : undefined;
    entries.push({
      provider: provider.id,
      profile: options.profile,
      configured: true,
      mode: settings.mode,
      store: describeStore(settings.store ?? storeKind(deps.env), opened),
      client_id: settings.client_id ?? settings.app_id ?? null,
      token_expires_at: token ? new Date(token.expires_at).toISOString() : null,
      // A token obtained "in the future" (under a clock that ran ahead) is stale whatever it says.
      token_expired: token ? token.expires_at <= deps.now() || !isFresh(token, deps.now(), 0, true) : null,
      refresh_token: store ? await hasRefreshToken(store, secretKey(options.profile, provider.id)) : null,
    });
  }

  if (options.json) {
    deps.io.stdout.write(`${JSON.stringify({ profile: options.profile, store: opened.where, providers: entries }, null, 2)}\n`);
    return 0;
  }
  const { renderStatusTable } = await import('./status-table.js');
  deps.io.stdout.write(renderStatusTable(entries, { now: deps.now(), color: useColor(deps), profile: options.profile }));
  return 0;
}

function emptyEntry(provider: ProviderDescriptor, profile: string): StatusEntry {
  return { provider: provider.id, profile, configured: false, mode: null, store: null, client_id: null, token_expires_at: null, token_expired: null, refresh_token: null };
}

/** The store a login used, as people know it: 'redis (HOST:PORT)' when it is the open one. */
function describeStore(kind: string, opened: SecretStore): string {
  return kind === opened.kind ? opened.where : kind;
}

async function openQuietly(store: SecretStore, deps: Deps): Promise<SecretStore | undefined> {
  try {
    await store.check();
    return store;
  } catch (error) {
    deps.io.stderr.write(`note: the secret store could not be read (${isTokensError(error) ? error.message : 'error'}); refresh-token presence unknown\n`);
    return undefined;
  }
}

async function hasRefreshToken(store: SecretStore, key: string): Promise<boolean | null> {
  try {
    const secrets = JSON.parse(await store.get(key)) as Record<string, unknown>;
    return typeof secrets.refresh_token === 'string';
  } catch {
    return false;
  }
}

function useColor(deps: Deps): boolean {
  if (deps.env.NO_COLOR !== undefined && deps.env.NO_COLOR !== '') return false;
  if (deps.env.FORCE_COLOR !== undefined && deps.env.FORCE_COLOR !== '0') return true;
  return deps.io.stdoutIsTTY;
}
