// Everything a provider adapter needs for one profile: its settings from config.json and its
// endpoints. Loaded on the cold path only (it pulls in zod through the config schema).
import { loadConfig, settingsFor } from '../files/config.js';
import { resolveEndpoints } from '../model/endpoints.js';
import { NotConfiguredError } from '../base/errors.js';
import { loginCommand, notConfigured } from '../model/hints.js';
import { storeKindFromEnv as storeKind } from '../model/store-locations.js';
import type { Deps } from './deps.js';
import type { ProviderContext, ProviderDescriptor, ProviderSettings } from '../model/model.js';
import type { SettingsShare } from '../store/store.js';

export function providerContext(
  deps: Deps,
  provider: ProviderDescriptor,
  profile: string,
  settings: ProviderSettings,
): ProviderContext {
  const endpoints = resolveEndpoints(provider, deps.env);
  return { deps, profile, settings, endpoint: (name) => endpoints[name]! };
}

/**
 * The provider's context for one profile. Settings a store shares among machines (one login on any
 * machine serves all) come before this machine's config.json, which may be older or absent.
 */
export async function loadProviderContext(
  deps: Deps,
  provider: ProviderDescriptor,
  profile: string,
  shared?: SettingsShare,
): Promise<ProviderContext> {
  const settings = await findSettings(deps, provider, profile, shared);
  if (!settings) throw notConfigured(provider.id, profile);
  const current = storeKind(deps.env);
  if (settings.store && settings.store !== current) {
    throw new NotConfiguredError(
      `${provider.id} (profile "${profile}") was logged in with the ${settings.store} store, but TOKENS_STORE selects ${current}`,
      {
        hint:
          settings.store === 'file'
            ? 'Set TOKENS_STORE=file (and TOKENS_PASSPHRASE).'
            : `Unset TOKENS_STORE, or run \`${loginCommand(provider.id, profile)}\` with this store.`,
      },
    );
  }
  return providerContext(deps, provider, profile, settings);
}

/** The settings of one provider and profile: the store's shared ones, else config.json's. */
export async function findSettings(
  deps: Deps,
  provider: ProviderDescriptor,
  profile: string,
  shared?: SettingsShare,
): Promise<ProviderSettings | undefined> {
  resolveEndpoints(provider, deps.env);
  return (await shared?.read()) ?? settingsFor(await loadConfig(deps), profile, provider.id);
}
