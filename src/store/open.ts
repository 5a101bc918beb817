// Picks the secret store named by TOKENS_STORE. Only the chosen backend's module is loaded.

import { UsageError } from '../core/errors.js';
import type { Env, Paths } from '../core/paths.js';
import type { SecretStore } from './store.js';

export type UserStoreKind = 'keychain' | 'file';
export const STORE_KINDS: readonly UserStoreKind[] = ['keychain', 'file'];

/** The store kind TOKENS_STORE names (default keychain), without loading anything. */
export function storeKindFromEnv(env: Env): UserStoreKind {
  const value = env.TOKENS_STORE ?? '';
  if (value === '') return 'keychain';
  if ((STORE_KINDS as readonly string[]).includes(value)) return value as UserStoreKind;
  throw new UsageError(`unknown TOKENS_STORE ${JSON.stringify(value)}: use one of ${STORE_KINDS.join(', ')}`);
}

export function secretsFilePath(env: Env, paths: Paths): string {
  return env.TOKENS_STORE_FILE || `${paths.dataDir}/secrets.enc`;
}

export async function openStore(env: Env, paths: Paths): Promise<SecretStore> {
  if (storeKindFromEnv(env) === 'file') {
    const { FileStore } = await import('./file.js');
    return new FileStore({ path: secretsFilePath(env, paths), passphrase: env.TOKENS_PASSPHRASE, privateRoot: paths.dataDir });
  }
  const timeoutMs = keychainTimeoutMs(env);
  const { KeychainStore } = await import('./keychain.js');
  return new KeychainStore(timeoutMs === undefined ? { env } : { env, timeoutMs });
}

function keychainTimeoutMs(env: Env): number | undefined {
  const value = env.TOKENS_KEYCHAIN_TIMEOUT;
  if (value === undefined || value === '') return undefined;
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !(seconds > 0)) {
    throw new UsageError(`TOKENS_KEYCHAIN_TIMEOUT must be a number of seconds greater than 0, not ${JSON.stringify(value)}`);
  }
  return Math.round(seconds * 1000);
}
