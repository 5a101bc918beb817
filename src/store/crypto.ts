// The one encryption of tokens' stores (the encrypted file, Redis): a key derived from
// TOKENS_PASSPHRASE with scrypt (memory-hard), and AES-256-GCM boxes under a fresh 12-byte IV each,
// with what the box belongs to bound as additional authenticated data, so that changing any byte of
// header, IV, tag or ciphertext, or moving a box to another place, makes it undecryptable.
import { createCipheriv, createDecipheriv, randomBytes, scrypt, type ScryptOptions } from 'node:crypto';

export const ENVELOPE_VERSION = 1;
const DEFAULT_KDF = { N: 2 ** 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

export interface KdfParams {
  N: number;
  r: number;
  p: number;
  /** base64 */
  salt: string;
}

/** A sealed box, binary fields in canonical base64. */
export interface Box {
  iv: string;
  tag: string;
  ct: string;
}

export function newKdfParams(): KdfParams {
  return { ...DEFAULT_KDF, salt: randomBytes(SALT_BYTES).toString('base64') };
}

/** The KDF header as written and authenticated: fields in a fixed order. */
export function kdfHeader(kdf: KdfParams): { name: 'scrypt'; N: number; r: number; p: number; salt: string } {
  return { name: 'scrypt', N: kdf.N, r: kdf.r, p: kdf.p, salt: kdf.salt };
}

/** Validates a KDF header read back; undefined when it is not one we wrote (edited, truncated). */
export function parseKdfHeader(value: unknown): KdfParams | undefined {
  if (!isRecord(value) || !hasExactKeys(value, ['name', 'N', 'r', 'p', 'salt']) || value.name !== 'scrypt')
    return undefined;
  const { N, r, p } = value;
  // Bounded so that an edited header cannot make us allocate gigabytes.
  if (!isInt(N, 2 ** 14, 2 ** 20) || (N & (N - 1)) !== 0) return undefined;
  if (!isInt(r, 1, 32) || !isInt(p, 1, 16)) return undefined;
  if (!strictBase64(value.salt, SALT_BYTES)) return undefined;
  return { N, r, p, salt: value.salt as string };
}

/** Validates a box read back; undefined when it is not one we wrote. */
export function parseBox(value: Record<string, unknown>): Box | undefined {
  const { iv, tag, ct } = value;
  if (!strictBase64(iv, IV_BYTES) || !strictBase64(tag, TAG_BYTES) || !strictBase64(ct)) return undefined;
  return { iv: iv as string, tag: tag as string, ct: ct as string };
}

export function seal(key: Buffer, plain: Buffer, aad: Buffer): Box {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
  return { iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ct: ct.toString('base64') };
}

/** The plaintext, or undefined when the box does not open under this key and AAD. */
export function open(key: Buffer, box: Box, aad: Buffer): Buffer | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(box.iv, 'base64'), { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(Buffer.from(box.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(box.ct, 'base64')), decipher.final()]);
  } catch {
    return undefined;
  }
}

/**
 * Derives keys from one passphrase, each (salt, parameters) at most once per instance, asynchronously
 * so the event loop keeps running. A failed derivation is not kept.
 */
export class KeyDeriver {
  readonly #passphrase: string;
  #key: { id: string; key: Promise<Buffer> } | undefined;

  constructor(passphrase: string) {
    this.#passphrase = passphrase;
  }

  /** Whether this deriver works from `passphrase` (a deriver handed over is used only then). */
  holds(passphrase: string): boolean {
    return this.#passphrase === passphrase;
  }

  keyFor(kdf: KdfParams): Promise<Buffer> {
    const id = `${kdf.N}:${kdf.r}:${kdf.p}:${kdf.salt}`;
    if (this.#key?.id !== id) {
      const passphrase = Buffer.from(this.#passphrase.normalize('NFC'), 'utf8');
      const options: ScryptOptions = { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r + 16 * 1024 * 1024 };
      const key = new Promise<Buffer>((resolve, reject) => {
        scrypt(passphrase, Buffer.from(kdf.salt, 'base64'), KEY_BYTES, options, (err, derived) => {
          passphrase.fill(0);
          if (err) reject(err);
          else resolve(derived);
        });
      });
      key.catch(() => {
        if (this.#key?.key === key) this.#key = undefined;
      });
      this.#key = { id, key };
    }
    return this.#key.key;
  }
}

/** Decodes canonical base64 only (Node's decoder is lenient; a changed padding bit must not pass). */
export function strictBase64(value: unknown, length?: number): Buffer | undefined {
  if (typeof value !== 'string') return undefined;
  const buf = Buffer.from(value, 'base64');
  if (buf.toString('base64') !== value) return undefined;
  if (length !== undefined && buf.length !== length) return undefined;
  return buf;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function hasExactKeys(obj: Record<string, unknown>, keys: string[]): boolean {
  const actual = Object.keys(obj);
  return actual.length === keys.length && keys.every((k) => Object.hasOwn(obj, k));
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}
