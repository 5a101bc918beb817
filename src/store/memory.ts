import {
  plainPreparedWrite,
  SecretNotFoundError,
  type PreparedWrite,
  type SecretStore,
  type StoreKind,
} from './store.js';

/**
 * In-memory backend for unit tests; `standsFor` a kind a login may record (config.json accepts
 * only the user's kinds), 'memory' by default.
 */
export class MemoryStore implements SecretStore {
  readonly where = 'memory';
  constructor(readonly kind: StoreKind = 'memory') {}
  readonly #items = new Map<string, string>();

  async check(): Promise<void> {}

  async get(key: string): Promise<string> {
    const value = this.#items.get(key);
    if (value === undefined) throw new SecretNotFoundError(key);
    return value;
  }

  async set(key: string, value: string): Promise<void> {
    this.#items.set(key, value);
  }

  async delete(key: string): Promise<boolean> {
    return this.#items.delete(key);
  }

  async list(): Promise<string[]> {
    return [...this.#items.keys()].sort();
  }

  prepareWrite(key: string): Promise<PreparedWrite> {
    return plainPreparedWrite(this, key);
  }
}
