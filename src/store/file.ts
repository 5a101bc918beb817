// The `file` store: one encrypted file holding a JSON map key → value, for machines with no keychain.
//
// File format (JSON, all binary fields base64):
//   {"v":1,"kdf":{"name":"scrypt","N":32768,"r":8,"p":1,"salt":"…"},"iv":"…","tag":"…","ct":"…"}
// The key is scrypt(passphrase, salt) (src/store/passphrase.ts says where the passphrase comes from); the map is sealed (src/store/crypto.ts, shared with Redis) with AES-256-GCM under a fresh 12-byte IV
// on every write, with the header ({v, kdf}) bound as additional authenticated data, so any change to
// the header, IV, tag or ciphertext makes the file undecryptable. Plaintext never touches the disk.

import { chmod, mkdir, open, stat, statfs, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { StoreError, TokensError, UnavailableError } from '../base/errors.js';
import { withLock, type LockDeps } from '../files/lock.js';
import { describeErrno, ensurePrivateDir, readPrivateFile, replaceFile } from '../files/private-files.js';
import { judgeEntry } from '../files/file-judge.js';
import {
  ENVELOPE_VERSION,
  hasExactKeys,
  isRecord,
  kdfHeader,
  KeyDeriver,
  newKdfParams,
  open as openBox,
  parseBox,
  parseKdfHeader,
  seal,
  type Box,
  type KdfParams,
} from './crypto.js';
import { MAX_SECRETS_FILE_BYTES } from '../model/store-locations.js';
import { asPassphraseSource, type PassphraseOption, type PassphraseSource } from './passphrase.js';
import { ChainMovedError, SecretNotFoundError, type PreparedWrite, type SecretStore } from './store.js';

/** How long set()/delete() wait for another process's lock before giving up. */
const LOCK_WAIT_MS = 20_000;
/** Free space a write must find (prepareWrite): the new file beside the old one, with room to spare. */
const MIN_FREE_BYTES = 1024 * 1024;

interface Envelope extends Box {
  kdf: KdfParams;
}

export interface FileStoreOptions {
  path: string;
  /** Asked when the key is first needed (src/store/passphrase.ts); a string is used as given. */
  passphrase: PassphraseOption;
  /** What the write lock uses (clock, sleep, jitter, env, debug); default: the real ones, no debug. */
  lockDeps?: LockDeps;
  /**
   * tokens' own data directory, when the file lives in it (the default path): that directory is
   * then made private like every directory of ours (src/files/private-files.ts). A file elsewhere
   * (TOKENS_STORE_FILE) keeps the directory it was given, tightened only when ours and not shared.
   */
  privateRoot?: string;
  /**
   * A deriver already at work (src/store/early-start.ts): used when it holds the same passphrase,
   * so that the key is derived at most once per process; it derives anew for another header.
   */
  keys?: KeyDeriver;
}

const defaultLockDeps: LockDeps = {
  env: process.env,
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms)),
  random: () => Math.random(),
  debug: () => {},
};

export class FileStore implements SecretStore {
  readonly kind = 'file' as const;
  readonly where = 'file';
  readonly path: string;
  readonly #passphrase: PassphraseSource;
  readonly #lockDeps: LockDeps;
  readonly #privateRoot: string | undefined;
  readonly #earlyKeys: KeyDeriver | undefined;
  /** Derives the key for one (salt, params) once; normally the only one this instance ever derives. */
  #keys: Promise<KeyDeriver> | undefined;

  constructor({ path, passphrase, lockDeps, privateRoot, keys }: FileStoreOptions) {
    this.path = resolve(path);
    this.#privateRoot = privateRoot === undefined ? undefined : resolve(privateRoot);
    this.#passphrase = asPassphraseSource(passphrase, 'file');
    this.#earlyKeys = keys;
    this.#lockDeps = lockDeps ?? defaultLockDeps;
  }

  async check(): Promise<void> {
    await this.#readAll();
  }

  async get(key: string): Promise<string> {
    const value = (await this.#readAll()).get(key);
    if (value === undefined) throw new SecretNotFoundError(key);
    return value;
  }

  async set(key: string, value: string): Promise<void> {
    await this.#update((items) => {
      items.set(key, value);
      return true;
    });
  }

  /**
   * Before a refresh token is spent: the directory exists and is ours, the lock can be taken (and is
   * let go again: holding it for the whole exchange would block every other provider's write), a
   * file can be created in the directory (not read-only, not full of inodes), and statfs finds room.
   */
  async #checkWritable(): Promise<void> {
    await this.#deriver();
    await this.#ensureDir();
    await this.#locked(async () => {
      const dir = dirname(this.path);
      const probe = `${this.path}.${process.pid}.probe`;
      try {
        await (await open(probe, 'wx', 0o600)).close();
        await unlink(probe);
      } catch (e) {
        await unlink(probe).catch(() => undefined);
        throw new StoreError(`cannot write in ${dir}: ${describeErrno(e)}`, { cause: e });
      }
      const fs = await statfs(dir).catch(() => undefined);
      if (fs && fs.bavail * fs.bsize < MIN_FREE_BYTES) {
        throw new StoreError(
          `cannot write in ${dir}: no space left on the device (${fs.bavail * fs.bsize} bytes free)`,
        );
      }
    });
  }

  async delete(key: string): Promise<boolean> {
    let deleted = false;
    await this.#update((items) => {
      deleted = items.delete(key);
      return deleted;
    });
    return deleted;
  }

  async list(): Promise<string[]> {
    return [...(await this.#readAll()).keys()].sort();
  }

  /**
   * The value, checked writable (#checkWritable); the commit rewrites it only while it is still the
   * one read (under the file's lock).
   */
  async prepareWrite(key: string): Promise<PreparedWrite> {
    await this.#checkWritable();
    const value = await this.get(key);
    return {
      value,
      commit: (next) =>
        this.#update((items) => {
          if (items.get(key) !== value) throw new ChainMovedError(key);
          items.set(key, next);
          return true;
        }),
    };
  }

  // --- reading -------------------------------------------------------------------------------------

  /** The key deriver, once the passphrase is known: the early one when it holds the same passphrase. */
  #deriver(): Promise<KeyDeriver> {
    this.#keys ??= this.#passphrase().then((passphrase) =>
      this.#earlyKeys?.holds(passphrase) ? this.#earlyKeys : new KeyDeriver(passphrase),
    );
    this.#keys.catch(() => (this.#keys = undefined));
    return this.#keys;
  }

  async #readAll(): Promise<Map<string, string>> {
    await this.#deriver();
    const file = await this.#readFile();
    return file === undefined ? new Map() : (await this.#open(file)).items;
  }

  /** The raw file, or undefined when there is none (an empty store). */
  async #readFile(): Promise<Buffer | undefined> {
    // Never through a link, never blocking on a FIFO, only a regular file of ours (exit 6 otherwise),
    // in our own directory when it is the default one.
    const dir = dirname(this.path);
    if (this.#privateRoot !== undefined && (dir === this.#privateRoot || dir.startsWith(`${this.#privateRoot}/`))) {
      await ensurePrivateDir(this.#privateRoot, dir, { create: false });
    }
    return readPrivateFile(this.path, MAX_SECRETS_FILE_BYTES);
  }

  async #open(raw: Buffer): Promise<{ kdf: KdfParams; items: Map<string, string> }> {
    const env = parseEnvelope(raw);
    if (env === undefined) throw this.#undecryptable();
    const key = await this.#keyFor(env.kdf);
    const plain = openBox(key, env, headerAad(env.kdf));
    if (plain === undefined) throw this.#undecryptable();
    let parsed: unknown;
    try {
      parsed = JSON.parse(plain.toString('utf8'));
    } catch {
      parsed = undefined;
    } finally {
      plain.fill(0);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw this.#undecryptable();
    const items = new Map<string, string>();
    for (const [k, v] of Object.entries(parsed)) {
      if (typeof v !== 'string') throw this.#undecryptable();
      items.set(k, v);
    }
    return { kdf: env.kdf, items };
  }

  #undecryptable(): StoreError {
    return new StoreError(`cannot decrypt ${this.path}: wrong passphrase, or the file was changed`, {
      hint: 'Check TOKENS_PASSPHRASE or TOKENS_PASSPHRASE_FILE. If the passphrase is lost, delete the file and log in again.',
    });
  }

  /** The key for these KDF parameters (derived once per instance). */
  async #keyFor(kdf: KdfParams): Promise<Buffer> {
    const keys = await this.#deriver();
    try {
      return await keys.keyFor(kdf);
    } catch (err) {
      throw new StoreError(`cannot derive the key for ${this.path}: ${err instanceof Error ? err.message : 'error'}`);
    }
  }

  // --- writing -------------------------------------------------------------------------------------

  /** Read-modify-write under a cross-process lock; `change` returns false when there is nothing to write. */
  async #update(change: (items: Map<string, string>) => boolean): Promise<void> {
    await this.#deriver();
    await this.#ensureDir();
    await this.#locked(async (held) => {
      // Re-read inside the lock: another process may have written since we last looked.
      const raw = await this.#readFile();
      let kdf: KdfParams;
      let items: Map<string, string>;
      if (raw === undefined) {
        kdf = newKdfParams();
        items = new Map();
      } else {
        ({ kdf, items } = await this.#open(raw));
      }
      if (!change(items)) return;
      const sealed = await this.#seal(kdf, items);
      if (held.compromised) {
        throw new StoreError(`lost the lock on ${this.path} while updating it; nothing was written`, {
          hint: 'Another tokens process may have taken it over. Try again.',
        });
      }
      try {
        await replaceFile(this.path, sealed);
      } catch (e) {
        throw new StoreError(`cannot write ${this.path}: ${describeErrno(e)}`, { cause: e });
      }
    });
  }

  /**
   * Runs `fn` holding the lock `<path>.lock` (withLock: a stale lock left by a killed process is
   * taken over safely, by one waiter only). Failing to get the lock is a StoreError (exit 6).
   */
  async #locked(fn: (held: { readonly compromised: boolean }) => Promise<void>): Promise<void> {
    const lockFile = `${this.path}.lock`;
    let entered = false;
    try {
      await withLock(
        this.#lockDeps,
        lockFile,
        `the secret store ${this.path}`,
        (held) => {
          entered = true;
          return fn(held);
        },
        // #ensureDir prepared the directory, leaving shared ones (/tmp, the home directory) as they are.
        { waitMs: LOCK_WAIT_MS, createDir: false },
      );
    } catch (e) {
      if (entered) throw e;
      if (e instanceof UnavailableError) {
        throw new StoreError(`${this.path} is locked by another tokens process`, {
          hint: `Waited ${LOCK_WAIT_MS / 1000} s. If no other tokens process is running, remove ${lockFile}.`,
          cause: e,
        });
      }
      if (e instanceof TokensError) throw e;
      throw new StoreError(`cannot lock ${this.path}: ${describeErrno(e)}`, { cause: e });
    }
  }

  async #seal(kdf: KdfParams, items: Map<string, string>): Promise<string> {
    const key = await this.#keyFor(kdf);
    const plain = Buffer.from(JSON.stringify(Object.fromEntries(items)), 'utf8');
    let box: Box;
    try {
      box = seal(key, plain, headerAad(kdf));
    } finally {
      plain.fill(0);
    }
    return `${JSON.stringify({ v: ENVELOPE_VERSION, kdf: kdfHeader(kdf), ...box })}\n`;
  }

  /** Creates the parent directory 0700, and tightens it when it is ours and looser than that. */
  async #ensureDir(): Promise<void> {
    const dir = dirname(this.path);
    if (this.#privateRoot !== undefined && (dir === this.#privateRoot || dir.startsWith(`${this.#privateRoot}/`))) {
      await ensurePrivateDir(this.#privateRoot, dir);
      return;
    }
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      // A directory the user chose (followed if it is a link): tightened when it is ours, but never
      // a shared one (/tmp: sticky bit) or the home directory itself.
      const st = await stat(dir);
      const judgement = judgeEntry(st, 'directory');
      const shared = (st.mode & 0o1000) !== 0 || resolve(dir) === resolve(process.env.HOME || homedir());
      if (judgement.kind === 'tighten' && !shared) await chmod(dir, judgement.mode);
    } catch (e) {
      throw new StoreError(`cannot create ${dir}: ${describeErrno(e)}`, { cause: e });
    }
  }
}

// --- envelope ------------------------------------------------------------------------------------
// {"v":1,"kdf":{…},"iv":"…","tag":"…","ct":"…"}: the box of crypto.ts under its KDF header.

/** The authenticated header: rebuilt from validated fields in a fixed order. */
function headerAad(kdf: KdfParams): Buffer {
  return Buffer.from(JSON.stringify({ v: ENVELOPE_VERSION, kdf: kdfHeader(kdf) }), 'utf8');
}

/** Parses and validates the envelope; undefined when it is not one we wrote (truncated, edited). */
function parseEnvelope(raw: Buffer): Envelope | undefined {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isRecord(json) || !hasExactKeys(json, ['v', 'kdf', 'iv', 'tag', 'ct']) || json.v !== ENVELOPE_VERSION)
    return undefined;
  const kdf = parseKdfHeader(json.kdf);
  const box = parseBox(json);
  return kdf && box ? { kdf, ...box } : undefined;
}
