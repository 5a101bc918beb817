// `tokens logout PROVIDER`: sign out at the provider where there is a session (SoundCloud user
// logins), then remove the secrets, the cached token and the settings, whatever the sign-out said.
import { secretKey, TokenBroker } from '../core/broker.js';
import { deleteCache } from '../core/cache.js';
import { resolveEndpoints } from '../core/endpoints.js';
import { loadConfig, settingsFor, updateSettings } from '../core/config.js';
import { providerContext } from '../core/context.js';
import { NotConfiguredError, isTokensError } from '../core/errors.js';
import { profileNote } from '../core/hints.js';
import { lockPath, withLock } from '../core/lock.js';
import type { Deps } from '../core/deps.js';
import type { ProviderDescriptor } from '../core/model.js';

export interface LogoutOptions {
  provider: ProviderDescriptor;
  profile: string;
}

export async function runLogout(options: LogoutOptions, deps: Deps): Promise<number> {
  const { provider, profile } = options;
  resolveEndpoints(provider, deps.env);
  const settings = settingsFor(await loadConfig(deps), profile, provider.id);
  if (!settings) throw new NotConfiguredError(`${provider.id} is not configured for profile "${profile}"; nothing to log out`);
  const adapter = await provider.loadAdapter();
  const store = await deps.openStore();
  await store.check();

  if (adapter.hasSession?.(settings) && adapter.signOut) {
    try {
      const credential = await new TokenBroker(deps).get(provider, profile, { minTtlSeconds: 0, forceRefresh: false });
      if (credential.kind === 'token') await adapter.signOut(providerContext(deps, provider, profile, settings), credential.token);
      deps.io.stderr.write(`Signed out of ${provider.title}.\n`);
    } catch (error) {
      const why = isTokensError(error) ? error.message : 'unexpected error';
      deps.io.stderr.write(`warning: could not sign out at ${provider.title} (${why}); removing the local credentials anyway\n`);
    }
  }

  await withLock(deps, lockPath(deps.paths.stateDir, profile, provider.id), `${provider.id} (profile ${profile})`, async () => {
    await store.delete(secretKey(profile, provider.id));
    await deleteCache(deps.paths, profile, provider.id);
    await updateSettings(deps, profile, provider.id, undefined);
  }, { root: deps.paths.stateDir });
  deps.io.stderr.write(`Removed the ${provider.title} credentials${profileNote(profile)}.\n`);
  return 0;
}
