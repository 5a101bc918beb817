// Picks the secret store named by TOKENS_STORE. Only the chosen backend's module is loaded.

import { readEnv, TOKENS_KEYCHAIN_TIMEOUT, TOKENS_LOCK_TIMEOUT, TOKENS_STORE, TOKENS_STORE_FILE } from '../core/env.js';
import type { IO } from '../core/deps.js';
import type { Env, Paths } from '../core/paths.js';
import type { EarlyStore } from './early-start.js';
import type { SecretStore, UserStoreKind } from './store.js';

/** The store kind TOKENS_STORE names (default keychain), without loading anything. */
export function storeKindFromEnv(env: Env): UserStoreKind {
  return readEnv(env, TOKENS_STORE);
}

/** The largest secrets file read (a few KB in practice). */
export const MAX_SECRETS_FILE_BYTES = 4 * 1024 * 1024;

export function secretsFilePath(env: Env, paths: Paths): string {
  return readEnv(env, TOKENS_STORE_FILE) ?? `${paths.dataDir}/secrets.enc`;
}

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
): Promise<SecretStore> {
  const kind = storeKindFromEnv(env);
  if (kind === 'redis') {
    const [{ RedisStore }, { redisSettings }, { passphraseFromEnvironment }] = await Promise.all([
      import('./redis.js'),
      import('./redis-env.js'),
      import('./passphrase.js'),
    ]);
    return new RedisStore({
      ...redisSettings(env),
      passphrase: passphraseFromEnvironment(env, kind, io),
      waitMs: readEnv(env, TOKENS_LOCK_TIMEOUT),
    });
  }
  if (kind === 'file') {
    const [{ FileStore }, { passphraseFromEnvironment }] = await Promise.all([
      import('./file.js'),
      import('./passphrase.js'),
    ]);
    return new FileStore({
      path: secretsFilePath(env, paths),
      passphrase: passphraseFromEnvironment(env, kind, io),
      privateRoot: paths.dataDir,
      ...(early.fileKeys ? { keys: early.fileKeys } : {}),
    });
  }
  const { KeychainStore } = await import('./keychain.js');
  return new KeychainStore({
    env: childEnv,
    timeoutMs: readEnv(env, TOKENS_KEYCHAIN_TIMEOUT),
    ...(early.keychainHelper ? { helper: early.keychainHelper } : {}),
  });
}
