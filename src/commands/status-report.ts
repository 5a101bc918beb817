// What `tokens status` reports, computed from what has been read (config, cache, what is stored),
// and how it is printed. Shared by the full program (status.ts) and the fast path (src/fast.ts),
// so both print the same; no I/O here.
import { isFresh } from '../files/cache.js';
import { notConfigured } from '../model/hints.js';
import { renderStatusTable, type Painter, type StatusEntry } from './status-table.js';
import type { Env } from '../model/paths.js';
import type { AccessToken, ProviderDescriptor, ProviderSettings } from '../model/model.js';

export interface StatusOptions {
  provider?: ProviderDescriptor;
  profile: string;
  json: boolean;
}

export interface StatusTarget {
  provider: ProviderDescriptor;
  settings: ProviderSettings | undefined;
}

/**
 * The providers reported on (`options.provider`, else all of them, in order) with the settings
 * found for each. A named provider not configured: exit 3.
 */
export function statusTargets(
  options: StatusOptions,
  providers: readonly ProviderDescriptor[],
  settingsOf: (provider: ProviderDescriptor) => ProviderSettings | undefined,
): StatusTarget[] {
  const targets = (options.provider ? [options.provider] : providers).map((provider) => ({
    provider,
    settings: settingsOf(provider),
  }));
  if (options.provider && !targets[0]!.settings) throw notConfigured(options.provider.id, options.profile);
  // Unconfigured providers appear in the JSON only.
  return targets.filter((t) => t.settings || options.json);
}

/** What was read for one configured provider. */
export interface StatusFacts {
  token: AccessToken | undefined;
  /** Whether a refresh token is stored; null when that is unknown. */
  refreshToken: boolean | null;
  /** The store the provider's secrets are in, as people know it (status.ts: describeStore). */
  store: string;
  /** A refusal is recorded for this login (broker.ts: needsLogin). */
  needsLogin: boolean;
  now: number;
}

export function statusEntry(target: StatusTarget, profile: string, facts: StatusFacts): StatusEntry {
  const { provider, settings } = target;
  if (!settings) {
    return {
      provider: provider.id,
      profile,
      configured: false,
      mode: null,
      store: null,
      client_id: null,
      token_expires_at: null,
      token_expired: null,
      refresh_token: null,
      needs_login: null,
    };
  }
  const { token } = facts;
  return {
    provider: provider.id,
    profile,
    configured: true,
    mode: settings.mode,
    store: facts.store,
    client_id: settings.client_id ?? settings.app_id ?? null,
    token_expires_at: token ? new Date(token.expires_at).toISOString() : null,
    // A token obtained "in the future" (under a clock that ran ahead) is stale whatever it says.
    token_expired: token ? token.expires_at <= facts.now || !isFresh(token, facts.now, 0, true) : null,
    refresh_token: facts.refreshToken,
    needs_login: facts.needsLogin,
  };
}

/** `where`: the store TOKENS_STORE selects, as people know it ('redis (HOST:PORT)'). */
export function statusOutput(
  entries: StatusEntry[],
  options: { json: boolean; profile: string; where: string; now: number; paint?: Painter; unreadable?: string },
): string {
  if (options.json)
    return `${JSON.stringify({ profile: options.profile, store: options.where, providers: entries }, null, 2)}\n`;
  return renderStatusTable(entries, {
    now: options.now,
    profile: options.profile,
    ...(options.paint ? { paint: options.paint } : {}),
    ...(options.unreadable === undefined ? {} : { unreadable: options.unreadable }),
  });
}

/** Colour for the table: never with NO_COLOR, always with FORCE_COLOR (not 0), else on a terminal. */
export function wantsColour(env: Env, stdoutIsTTY: () => boolean): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return stdoutIsTTY();
}
