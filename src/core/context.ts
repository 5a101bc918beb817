// Everything a provider adapter needs for one profile: its settings from config.json and its
// endpoints. Loaded on the cold path only (it pulls in zod through the config schema).
import { loadConfig, settingsFor } from './config.js';
import { resolveEndpoints } from './endpoints.js';
import { NotConfiguredError } from './errors.js';
import { loginCommand, notConfigured } from './hints.js';
import { storeKindFromEnv as storeKind } from '../store/open.js';
import type { Deps } from './deps.js';
import type { ProviderContext, ProviderDescriptor, ProviderSettings } from './model.js';

export function providerContext(deps: Deps, provider: ProviderDescriptor, profile: string, settings: ProviderSettings): ProviderContext {
  const endpoints = resolveEndpoints(provider, deps.env);
  return { deps, profile, settings, endpoint: (name) => endpoints[name]! };
}

export async function loadProviderContext(deps: Deps, provider: ProviderDescriptor, profile: string): Promise<ProviderContext> {
  const config = await loadConfig(deps);
  const settings = settingsFor(config, profile, provider.id);
  if (!settings) throw notConfigured(provider.id, profile);
  const current = storeKind(deps.env);
  if (settings.store && settings.store !== current) {
    throw new NotConfiguredError(`${provider.id} (profile "${profile}") was logged in with the ${settings.store} store, but TOKENS_STORE selects ${current}`, {
      hint: settings.store === 'file' ? 'Set TOKENS_STORE=file (and TOKENS_PASSPHRASE).' : `Unset TOKENS_STORE, or run \`${loginCommand(provider.id, profile)}\` with this store.`,
    });
  }
  return providerContext(deps, provider, profile, settings);
}
