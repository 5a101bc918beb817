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
