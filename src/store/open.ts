// Opens the store named by TOKENS_STORE: its secrets, and their coordination (coordination.ts).
// Only the chosen backend's module is loaded.

import { readEnv, TOKENS_KEYCHAIN_TIMEOUT, TOKENS_LOCK_TIMEOUT } from '../model/env.js';
import type { IO } from '../model/runtime.js';
import type { Env, Paths } from '../model/paths.js';
import type { EarlyStore } from './early-start.js';
import { secretsFilePath, storeKindFromEnv } from '../model/store-locations.js';
import { storeOf } from './coordination.js';
import type { Store } from './store.js';

/**
 * Opens the store TOKENS_STORE names. `childEnv` is the environment a helper process may see (the
 * keychain's): ours without the withheld variables. `early`: what the fast path started before it
 * handed over (src/store/early-start.ts); each store takes only its own. `io`: where the file and
 * Redis stores ask for their passphrase on a terminal, and warn of a short one.
 */
export async function openStore(
  env: Env,
  paths: Paths,
  childEnv: Env,
  early: EarlyStore = {},
  io?: IO,
): Promise<Store> {
  const kind = storeKindFromEnv(env);
  if (kind === 'redis') {
    const [{ RedisStore }, { redisSettings }, { passphraseFromEnvironment }] = await Promise.all([
      import('./redis.js'),
      import('./redis-env.js'),
      import('./passphrase.js'),
    ]);
    const redis = new RedisStore({
      ...redisSettings(env),
      passphrase: passphraseFromEnvironment(env, kind, io),
      waitMs: readEnv(env, TOKENS_LOCK_TIMEOUT),
    });
    return storeOf(redis, redis);
  }
  if (kind === 'file') {
    const [{ FileStore }, { passphraseFromEnvironment }] = await Promise.all([
      import('./file.js'),
      import('./passphrase.js'),
    ]);
    return storeOf(
      new FileStore({
        path: secretsFilePath(env, paths),
        passphrase: passphraseFromEnvironment(env, kind, io),
        privateRoot: paths.dataDir,
        ...(early.fileKeys ? { keys: early.fileKeys } : {}),
      }),
    );
  }
  const { KeychainStore } = await import('./keychain.js');
  return storeOf(
    new KeychainStore({
      env: childEnv,
      timeoutMs: readEnv(env, TOKENS_KEYCHAIN_TIMEOUT),
      ...(early.keychainHelper ? { helper: early.keychainHelper } : {}),
    }),
  );
}
