// The providers a command works on when none is named (`exec`, `serve`, `exec --serve`): every one
// configured in the profile.
import { NotConfiguredError } from '../base/errors.js';
import type { Deps } from '../broker/deps.js';
import type { ProviderDescriptor } from '../model/model.js';

/** Every provider configured in the profile: the store's shared settings (Redis), else config.json's. */
export async function configuredProviders(deps: Deps, profile: string): Promise<ProviderDescriptor[]> {
  const { findSettings } = await import('../broker/context.js');
  const store = await deps.openStore();
  const found: ProviderDescriptor[] = [];
  for (const provider of deps.providers) {
    const shared = store.coordination(profile, provider.id, deps).sharedSettings;
    if (await findSettings(deps, provider, profile, shared)) found.push(provider);
  }
  if (found.length === 0) {
    throw new NotConfiguredError(`no provider is configured for profile "${profile}"`, {
      hint: 'Run `tokens login PROVIDER` first, or pass --provider.',
    });
  }
  return found;
}
