// The slow part of opening a store, started early. Before the fast path hands a `get` or `exec`
// over to the full program, which then loads for ~0.1 s of the main thread before it opens the
// store, it starts what the store will wait for, so that the two overlap instead of adding up:
//  - the file store: the key derivation, one scrypt (~0.2 s), which runs on libuv's thread pool.
//    The file store takes the deriver (FileStore option `keys`), so it still derives at most once
//    per process.
//  - the keychain store: the keytar helper process (src/store/keychain-helper.ts), one Node start
//    of its own. The keychain store takes it (KeychainStore option `helper`) for its first call.
// A guess that was wrong (the full program needs no secret after all) costs that work and nothing
// else: nothing waits for it, and an unused helper ends when its stdin closes with us.
//
// For the file store, nothing read here is trusted. The early read only picks the salt and
// parameters a derivation starts with (bounded by parseKdfHeader, as for the store's own read); the
// file store reads the file again with all its checks (its directory, the owner, no link) and uses
// this key only when that file has the same header, else it derives anew. A file that is absent,
// unreadable, not ours, a link, or anything in doubt here simply means no early start.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { readOwnFileSync } from '../files/cache.js';
import { readEnv, TOKENS_PASSPHRASE } from '../model/env.js';
import type { Env, Paths } from '../model/paths.js';
import { isRecord, KeyDeriver, parseKdfHeader } from './crypto.js';
import { KeychainHelper } from './keychain-helper.js';
import { MAX_SECRETS_FILE_BYTES, secretsFilePath, storeKindFromEnv } from '../model/store-locations.js';

/** What was started early, for openStore (each store takes only its own). */
export interface EarlyStore {
  fileKeys?: KeyDeriver;
  keychainHelper?: KeychainHelper;
}

/**
 * Starts the slow part of opening the store TOKENS_STORE names. `childEnv`: the environment a
 * helper process may see; `packageRoot`: where tokens is installed (keytar is resolved from there).
 */
export function startStoreEarly(env: Env, paths: Paths, childEnv: Env, packageRoot: string): EarlyStore {
  let kind: string;
  try {
    kind = storeKindFromEnv(env);
  } catch {
    return {};
  }
  if (kind === 'file') {
    const fileKeys = startFileKey(env, paths);
    return fileKeys ? { fileKeys } : {};
  }
  if (kind === 'keychain') {
    try {
      const keytarPath = createRequire(join(packageRoot, 'package.json')).resolve('keytar');
      return { keychainHelper: new KeychainHelper(keytarPath, childEnv) };
    } catch {
      // No keytar where we look: the keychain store says so itself.
    }
  }
  return {};
}

/** A deriver already deriving the key of the secrets file as it is now, or undefined. */
function startFileKey(env: Env, paths: Paths): KeyDeriver | undefined {
  try {
    const passphrase = readEnv(env, TOKENS_PASSPHRASE);
    if (passphrase === undefined || passphrase === '') return undefined;
    const text = readOwnFileSync(secretsFilePath(env, paths), MAX_SECRETS_FILE_BYTES);
    if (text === undefined) return undefined;
    const envelope: unknown = JSON.parse(text);
    const kdf = isRecord(envelope) ? parseKdfHeader(envelope.kdf) : undefined;
    if (!kdf) return undefined;
    const keys = new KeyDeriver(passphrase);
    // Started now; a failure is the file store's to report when it asks for the key.
    keys.keyFor(kdf).catch(() => undefined);
    return keys;
  } catch {
    return undefined;
  }
}
