// The file store's key, started early. A cold `get` or `exec` with the file store spends most of
// its time in one scrypt (~0.2 s of one core) and, before that, loading the full program (~0.1 s
// of the main thread). Begun here, by the fast path, before it hands over to the full program, the
// derivation runs on libuv's thread pool while the program loads: the two overlap instead of adding
// up. The full program's file store takes the deriver (FileStore option `keys`) and so derives at
// most once per process, as before.
//
// Nothing read here is trusted. The early read only picks the salt and parameters a derivation
// starts with (bounded by parseKdfHeader, as for the store's own read); the file store reads the
// file again with all its checks (its directory, the owner, no link) and uses this key only when
// that file has the same header, else it derives anew. A file that is absent, unreadable or
// anything in doubt here simply means no early start.
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { readOpenFile } from '../core/cache.js';
import { readEnv, TOKENS_PASSPHRASE } from '../core/env.js';
import type { Env, Paths } from '../core/paths.js';
import { isRecord, KeyDeriver, parseKdfHeader } from './crypto.js';
import { MAX_SECRETS_FILE_BYTES, secretsFilePath, storeKindFromEnv } from './open.js';

/** A deriver already deriving the key of the secrets file as it is now, or undefined. */
export function prefetchFileKey(env: Env, paths: Paths): KeyDeriver | undefined {
  try {
    if (storeKindFromEnv(env) !== 'file') return undefined;
    const passphrase = readEnv(env, TOKENS_PASSPHRASE);
    if (passphrase === undefined || passphrase === '') return undefined;
    const fd = openSync(
      secretsFilePath(env, paths),
      constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0),
    );
    let text: string;
    try {
      const info = fstatSync(fd);
      if (!info.isFile() || info.uid !== process.getuid?.() || info.size > MAX_SECRETS_FILE_BYTES) return undefined;
      text = readOpenFile(fd, info.size);
    } finally {
      closeSync(fd);
    }
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
