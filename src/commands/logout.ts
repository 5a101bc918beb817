// `tokens logout PROVIDER`: sign out at the provider where there is a session (SoundCloud user
// logins), then remove the secrets, the cached token and the settings, whatever the sign-out said.
import { secretKey, TokenBroker } from '../broker/broker.js';
import { deleteCache } from '../files/cache.js';
import { resolveEndpoints } from '../model/endpoints.js';
import { updateSettings } from '../files/config.js';
import { findSettings, providerContext } from '../broker/context.js';
import { NotConfiguredError, isTokensError } from '../base/errors.js';
import { profileNote } from '../model/hints.js';
import { forgetStoredSecrets } from '../files/secret-note.js';
import type { Deps } from '../broker/deps.js';
import { runLocked } from '../store/store.js';
import type { ProviderDescriptor } from '../model/model.js';

export interface LogoutOptions {
  provider: ProviderDescriptor;
  profile: string;
}

export async function runLogout(options: LogoutOptions, deps: Deps): Promise<number> {
  const { provider, profile } = options;
  resolveEndpoints(provider, deps.env);
  const store = await deps.openStore();
  const coordination = store.coordination(profile, provider.id, deps);
  const settings = await findSettings(deps, provider, profile, coordination.sharedSettings);
  if (!settings)
    throw new NotConfiguredError(`${provider.id} is not configured for profile "${profile}"; nothing to log out`);
  const adapter = await provider.loadAdapter();
  await store.secrets.check();

  if (adapter.hasSession?.(settings) && adapter.signOut) {
    try {
      const credential = await new TokenBroker(deps).get(provider, profile, { minTtlSeconds: 0, forceRefresh: false });
      if (credential.kind === 'token')
        await adapter.signOut(providerContext(deps, provider, profile, settings), credential.token);
      deps.io.stderr.write(`Signed out of ${provider.title}.\n`);
    } catch (error) {
      const why = isTokensError(error) ? error.message : 'unexpected error';
      deps.io.stderr.write(
        `warning: could not sign out at ${provider.title} (${why}); removing the local credentials anyway\n`,
      );
    }
  }

  await runLocked(coordination, `${provider.id} (profile ${profile})`, async () => {
    await forgetStoredSecrets(deps.paths, profile, provider.id);
    await store.secrets.delete(secretKey(profile, provider.id));
    await coordination.sharedCache?.delete();
    // After the shared token: no machine's cached token of this login is used any more.
    await coordination.login?.delete();
    await coordination.sharedSettings?.delete();
    await deleteCache(deps.paths, profile, provider.id);
    await updateSettings(deps, profile, provider.id, undefined);
    await coordination.failures.clear();
  });
  const everywhere = store.shared
    ? ` from the shared ${store.secrets.where} store: every machine using it is logged out`
    : '';
  deps.io.stderr.write(`Removed the ${provider.title} credentials${profileNote(profile)}${everywhere}.\n`);
  return 0;
}
