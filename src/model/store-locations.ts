// Which store TOKENS_STORE names, and where the file store keeps its file: read from the
// environment alone, loading no store (the fast path, status and the early start ask this).
import { readEnv, TOKENS_STORE, TOKENS_STORE_FILE } from './env.js';
import type { Env, Paths } from './paths.js';
import type { UserStoreKind } from './model.js';

/** The store kind TOKENS_STORE names (default keychain). */
export function storeKindFromEnv(env: Env): UserStoreKind {
  return readEnv(env, TOKENS_STORE);
}

/** The largest secrets file read (a few KB in practice). */
export const MAX_SECRETS_FILE_BYTES = 4 * 1024 * 1024;

export function secretsFilePath(env: Env, paths: Paths): string {
  return readEnv(env, TOKENS_STORE_FILE) ?? `${paths.dataDir}/secrets.enc`;
}
