// The `keychain` store: the OS keychain through keytar (macOS Keychain, Windows Credential Manager,
// Secret Service on Linux). keytar is an optional native addon, loaded on first use and never bundled.

import { createRequire } from 'node:module';
import { StoreError } from '../core/errors.js';
import { SecretNotFoundError, type SecretStore } from './store.js';

export const KEYCHAIN_SERVICE = 'tokens';
export const DEFAULT_KEYCHAIN_TIMEOUT_MS = 10_000;
/** An account that is never written: looking it up proves the keychain answers, without reading a secret. */
const PROBE_ACCOUNT = '.tokens-keychain-check';

type Keytar = typeof import('keytar');

export interface KeychainStoreOptions {
  /** How long one keychain call may take (TOKENS_KEYCHAIN_TIMEOUT). */
  timeoutMs?: number;
  service?: string;
}

/** Appended to every message: the way out when there is no usable keychain. */
const FALLBACK = 'or use the encrypted file store: TOKENS_STORE=file with TOKENS_PASSPHRASE set';

export class KeychainStore implements SecretStore {
  readonly kind = 'keychain' as const;
  readonly #timeoutMs: number;
  readonly #service: string;
  #keytar: Keytar | undefined;

  constructor({ timeoutMs = DEFAULT_KEYCHAIN_TIMEOUT_MS, service = KEYCHAIN_SERVICE }: KeychainStoreOptions = {}) {
    this.#timeoutMs = timeoutMs;
    this.#service = service;
  }

  async check(): Promise<void> {
    await this.#call('check', (k) => k.getPassword(this.#service, PROBE_ACCOUNT));
  }

  async get(key: string): Promise<string> {
    const value = await this.#call('read', (k) => k.getPassword(this.#service, key));
    if (value === null) throw new SecretNotFoundError(key);
    return value;
  }

  async set(key: string, value: string): Promise<void> {
    await this.#call('write', (k) => k.setPassword(this.#service, key, value));
  }

  async delete(key: string): Promise<boolean> {
    return await this.#call('delete', (k) => k.deletePassword(this.#service, key));
  }

  async list(): Promise<string[]> {
    const found = await this.#call('list', (k) => k.findCredentials(this.#service));
    return found
      .map((c) => c.account)
      .filter((a) => a !== PROBE_ACCOUNT)
      .sort();
  }

  #load(): Keytar {
    if (this.#keytar) return this.#keytar;
    try {
      const mod = createRequire(import.meta.url)('keytar') as Keytar & { default?: Keytar };
      this.#keytar = typeof mod.getPassword === 'function' ? mod : (mod.default as Keytar);
      if (typeof this.#keytar?.getPassword !== 'function') throw new Error('keytar has no getPassword');
      return this.#keytar;
    } catch (e) {
      const reason = firstLine(e);
      const fix =
        process.platform === 'linux'
          ? 'on Linux install libsecret-1-dev, then run `npm rebuild keytar` (or reinstall tokens)'
          : 'reinstall tokens, or run `npm rebuild keytar`';
      throw new StoreError(
        `the keychain module (keytar) is missing or failed to load${reason ? ` (${reason})` : ''}: ${fix}; ${FALLBACK}`,
        { cause: e },
      );
    }
  }

  /** One keytar call, raced against the timeout; every failure becomes a StoreError (exit 6). */
  async #call<T>(what: string, fn: (k: Keytar) => Promise<T>): Promise<T> {
    const keytar = this.#load();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new StoreError(
            `the keychain could not be reached: no answer within ${formatSeconds(this.#timeoutMs)} (${what}); ${FALLBACK}`,
            {
              hint: 'It may be locked and waiting for a password prompt nobody can see. TOKENS_KEYCHAIN_TIMEOUT (seconds) sets how long to wait.',
            },
          ),
        );
      }, this.#timeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([Promise.resolve().then(() => fn(keytar)), timeout]);
    } catch (e) {
      if (e instanceof StoreError) throw e;
      // keytar's errors describe D-Bus / Security framework failures, never the secret.
      const reason = firstLine(e);
      throw new StoreError(`the keychain could not be reached${reason ? ` (${reason})` : ''}; ${FALLBACK}`, {
        cause: e,
        hint:
          process.platform === 'linux'
            ? 'The keychain needs a D-Bus session bus with a running, unlocked Secret Service (e.g. gnome-keyring).'
            : 'Unlock the keychain and allow tokens to use it.',
      });
    } finally {
      clearTimeout(timer);
    }
  }
}

function firstLine(e: unknown): string {
  const message = e instanceof Error ? e.message : typeof e === 'string' ? e : '';
  return (message.split('\n')[0] ?? '').trim().slice(0, 200);
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}
