import { SecretNotFoundError, type SecretStore } from './store.js';

/** In-memory backend for unit tests. */
export class MemoryStore implements SecretStore {
  readonly kind = 'memory' as const;
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

  async prepareWrite(_key?: string): Promise<void> {}

  async delete(key: string): Promise<boolean> {
    return this.#items.delete(key);
  }

  async list(): Promise<string[]> {
    return [...this.#items.keys()].sort();
  }
}
