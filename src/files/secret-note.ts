// What tokens last stored for a provider and profile, noted without the secrets, so that `status`
// can say whether a refresh token is stored without deriving the file store's key or starting the
// keychain helper. One small file per provider and profile beside its lock:
//   $XDG_STATE_HOME/tokens/PROFILE/PROVIDER.stored.json  {"v":1,"store":"file","location":"/…/secrets.enc","refresh_token":true}
// login and a rotation write it after the secrets reach the store; logout removes it before they go.
// A note is believed only for the store TOKENS_STORE selects now (the same kind, the same file),
// and for the file store only while the secrets file exists; anything else (no note, an older
// tokens that kept none, a note for another store, a damaged or unsafe file) is "not known", and
// `status` asks the store. This module is on the fast path: no writes at load time, no
// zod, and only synchronous reads.
import { rm, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { secretsFilePath, storeKindFromEnv } from '../model/store-locations.js';
import { readOwnFileSync } from './cache.js';
import type { Env, Paths } from '../model/paths.js';
import type { ProviderName, Secrets } from '../model/model.js';

interface SecretNote {
  v: 1;
  store: string;
  location: string;
  refresh_token: boolean;
}

/** The largest note we read; a real one is under 200 bytes. */
const MAX_NOTE_BYTES = 4096;

export function secretNotePath(paths: Paths, profile: string, provider: ProviderName): string {
  return join(paths.stateDir, profile, `${provider}.stored.json`);
}

/**
 * The store TOKENS_STORE selects, as a note names it: its kind and where it keeps the secrets.
 * Undefined for a store whose notes we do not keep (or an invalid TOKENS_STORE).
 */
function currentStore(env: Env, paths: Paths): { store: string; location: string } | undefined {
  let kind: string;
  try {
    kind = storeKindFromEnv(env);
  } catch {
    return undefined;
  }
  if (kind === 'file') return { store: kind, location: resolve(secretsFilePath(env, paths)) };
  if (kind === 'keychain') return { store: kind, location: 'keychain' };
  return undefined;
}

/**
 * Whether a refresh token is stored for this provider and profile in the store TOKENS_STORE selects,
 * as the note says; undefined when that is not known from the note (ask the store).
 */
export function notedRefreshToken(
  paths: Paths,
  env: Env,
  profile: string,
  provider: ProviderName,
): boolean | undefined {
  const store = currentStore(env, paths);
  if (!store) return undefined;
  const text = readOwnFileSync(secretNotePath(paths, profile, provider), MAX_NOTE_BYTES);
  if (text === undefined) return undefined;
  let note: Partial<SecretNote> | null;
  try {
    note = JSON.parse(text) as Partial<SecretNote> | null;
  } catch {
    return undefined;
  }
  if (typeof note !== 'object' || note === null || note.v !== 1 || typeof note.refresh_token !== 'boolean')
    return undefined;
  if (note.store !== store.store || note.location !== store.location) return undefined;
  if (store.store === 'file') {
    try {
      if (!statSync(store.location).isFile()) return undefined;
    } catch {
      return undefined;
    }
  }
  return note.refresh_token;
}

/** After `secrets` reached the store TOKENS_STORE selects: notes what is stored now. Never throws. */
export async function noteStoredSecrets(
  paths: Paths,
  env: Env,
  profile: string,
  provider: ProviderName,
  secrets: Secrets,
): Promise<void> {
  const store = currentStore(env, paths);
  const path = secretNotePath(paths, profile, provider);
  try {
    if (!store) return await forget(path);
    const note: SecretNote = { v: 1, ...store, refresh_token: typeof secrets.refresh_token === 'string' };
    const { writePrivateFile } = await import('./private-files.js');
    await writePrivateFile(paths.stateDir, path, `${JSON.stringify(note)}\n`, { durable: false });
  } catch {
    // A note that could not be written must not stand for what is stored now.
    await forget(path).catch(() => undefined);
  }
}

/** Before the secrets leave the store (logout): no note says they are there. */
export async function forgetStoredSecrets(paths: Paths, profile: string, provider: ProviderName): Promise<void> {
  await forget(secretNotePath(paths, profile, provider));
}

function forget(path: string): Promise<void> {
  return new Promise((resolvePromise, reject) =>
    rm(path, { force: true }, (error) => (error ? reject(error) : resolvePromise())),
  );
}
