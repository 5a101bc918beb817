// The one small interface every secret backend implements (after 99designs/keyring).
// Keys are opaque strings chosen by the broker (`<profile>/<provider>`); values are opaque strings.

import type { UserStoreKind } from '../core/model.js';

export type { UserStoreKind } from '../core/model.js';
/** `memory` is for unit tests only. */
export type StoreKind = UserStoreKind | 'memory';

export interface SecretStore {
  readonly kind: StoreKind;
  /** Throws when the backend cannot be used at all (no keychain, wrong passphrase). Cheap to call twice. */
  check(): Promise<void>;
  /** Throws SecretNotFoundError when the key is absent. */
  get(key: string): Promise<string>;
  set(key: string, value: string): Promise<void>;
  /**
   * Called before something is sent that set(key) must then record (a single-use refresh token
   * about to be exchanged): takes or checks now whatever that write will need, and throws (a
   * StoreError, exit 6) when it is already known to fail, so it fails before the token is spent.
   * Writes nothing. A backend with nothing to check resolves at once. Cheap: once per refresh.
   * File: the lock can be taken, the directory is writable, the file system has room (statfs).
   * Keychain: reachable and unlocked (check()).
   */
  prepareWrite(key: string): Promise<void>;
  /** Returns false when there was nothing to delete. */
  delete(key: string): Promise<boolean>;
  list(): Promise<string[]>;
}

export class SecretNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`no secret stored under ${key}`);
    this.name = 'SecretNotFoundError';
  }
}

export function isNotFound(e: unknown): e is SecretNotFoundError {
  return e instanceof SecretNotFoundError;
}
