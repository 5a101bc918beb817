// `tokens login PROVIDER`: check the flags, check the store, read the secrets, let the provider
// verify them (the browser step first, unlocked; then, under the lock, one mint or code exchange),
// then persist: secrets first, then settings, then cache.
import { secretKey } from '../broker/broker.js';
import { deleteCache, writeCache } from '../files/cache.js';
import { loadConfig, settingsFor, updateSettings } from '../files/config.js';
import { providerContext } from '../broker/context.js';
import { InputReader } from '../files/input.js';
import { CredentialsRejectedError } from '../base/errors.js';
import { givenFlags, loginCommand, profileFlag, profileNote } from '../model/hints.js';
import { describeOAuthError } from '../oauth/oauth.js';
import { noteStoredSecrets } from '../files/secret-note.js';
import type { Deps } from '../broker/deps.js';
import { isNotFound, runLocked, type Store } from '../store/store.js';
import { secretRequest, type LoginFlags, type ProviderDescriptor } from '../model/model.js';

export interface LoginOptions {
  provider: ProviderDescriptor;
  profile: string;
  flags: LoginFlags;
}

export async function runLogin(options: LoginOptions, deps: Deps): Promise<number> {
  const { provider, profile } = options;
  const adapter = await provider.loadAdapter();
  const previous = settingsFor(await loadConfig(deps), profile, provider.id);
  const plan = adapter.planLogin(options.flags, previous);
  // Resolving the context checks the endpoint overrides: still a usage error, still before anything else.
  const planned = providerContext(deps, provider, profile, plan.settings);

  const store = await deps.openStore();
  const { secrets: stored } = store;
  await stored.check();
  for (const warning of plan.warnings ?? []) deps.io.stderr.write(`warning: ${warning}\n`);

  const input = new InputReader(deps.io);
  // Whether the provider checked the credentials (a mint or exchange gave a token).
  let verified = false;
  try {
    const secrets: Record<string, string> = {};
    for (const name of plan.secrets) secrets[name] = await input.readSecret(secretRequest(provider, name), deps.env);
    const settings = { ...plan.settings, store: stored.kind };
    const ctx = { ...planned, settings, flags: options.flags, readLine: () => input.readLine() };
    const authorization = await adapter.authorize?.(ctx, secrets);

    // The verifying exchange and the writes share one lock with `get`: a login that spends a
    // rotating refresh token cannot race a refresh that spends the same one.
    const coordination = store.coordination(profile, provider.id, deps);
    await runLocked(coordination, `${provider.id} (profile ${profile})`, async () => {
      // The exchange issues secrets that exist nowhere else: make sure they can be written first.
      await stored.prepareWrite(secretKey(profile, provider.id)).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
      const outcome = await adapter.completeLogin(ctx, secrets, authorization).catch((error: unknown) => {
        throw error instanceof CredentialsRejectedError
          ? rejectedAtLogin(provider, profile, options.flags, error)
          : error;
      });
      await stored.set(secretKey(profile, provider.id), JSON.stringify(outcome.secrets));
      await noteStoredSecrets(deps.paths, deps.env, profile, provider.id, outcome.secrets);
      await coordination.sharedSettings?.write(settings);
      await updateSettings(deps, profile, provider.id, settings);
      // The old login's tokens end here on every machine: the shared one first, then the generation
      // that every machine's cached entry must match (so no entry pairs the new one with an old token).
      await coordination.sharedCache?.delete();
      const generation = await coordination.login?.renew();
      verified = outcome.token !== undefined;
      if (outcome.token) {
        await coordination.sharedCache?.write(outcome.token);
        await writeCache(
          deps.paths,
          profile,
          provider.id,
          outcome.token,
          generation === undefined ? undefined : { login: generation, checkedAt: deps.now() },
        );
      } else {
        await deleteCache(deps.paths, profile, provider.id);
      }
      // New credentials: a failure left by the old ones no longer applies.
      await coordination.failures.clear();
    });
  } finally {
    input.close();
  }
  deps.io.stderr.write(
    verified
      ? `Logged in to ${provider.title}${profileNote(profile)}; secrets kept in ${describeStore(store)}.\n`
      : `Stored the ${provider.title} credentials${profileNote(profile)} in ${describeStore(store)}; not verified (nothing is minted until a token is asked for): verify them with \`${verifyCommand(provider, profile, plan.settings.mode)}\`.\n`,
  );
  return 0;
}

/** What checks credentials stored without a token: a get, or for static legacy keys an API call. */
function verifyCommand(provider: ProviderDescriptor, profile: string, mode: string): string {
  const on = profileFlag(profile);
  return mode === 'legacy' ? `tokens api ${provider.id} PATH${on}` : `tokens get ${provider.id}${on}`;
}

function describeStore(store: Store): string {
  if (store.shared) return `the shared ${store.secrets.where} store (every machine using it is logged in)`;
  return store.secrets.kind === 'file' ? 'the encrypted file store' : 'the OS keychain';
}

/**
 * A refusal while logging in is about the credentials just entered, not stored ones: say so, with
 * the provider's reason when it gave one, and the same command (every flag given) to run again.
 */
function rejectedAtLogin(
  provider: ProviderDescriptor,
  profile: string,
  flags: LoginFlags,
  error: CredentialsRejectedError,
): CredentialsRejectedError {
  const why = error.details.status !== undefined ? describeOAuthError(error.details) : undefined;
  const message = why
    ? `${provider.title} rejected the credentials just entered (${why})`
    : error.message.replace('the stored credentials', 'the credentials just entered');
  return new CredentialsRejectedError(message, error.details, {
    hint: `Check them, then run \`${loginCommand(provider.id, profile, givenFlags(flags))}\` again.`,
  });
}
