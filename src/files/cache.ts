// The access-token cache: one small JSON file per provider and profile, shared by every process.
// This module is on the warm path (dist/fast.cjs bundles it): no zod, no crypto, no store, and not
// node:fs/promises either. Nothing read here is trusted without a shape check; a damaged file is
// treated as absent and later overwritten (src/files/private-files.ts replaces it, never writing
// through a link). The shape of an access token (here and for every token a provider answers, in
// src/providers/common.ts) and the clock rules of freshness live here too, so both paths agree.
import { closeSync, constants, fchmodSync, fstatSync, openSync, readSync, rm } from 'node:fs';
import { join } from 'node:path';
import { judgeEntry } from './file-judge.js';
import { storeKindFromEnv } from '../model/store-locations.js';
import type { Env, Paths } from '../model/paths.js';
import type { AccessToken, ProviderName } from '../model/model.js';

/** Opens for reading without following a symlink, and without blocking on a FIFO. */
export const NOFOLLOW_NONBLOCK = (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/** The text of an open regular file of `size` bytes (as fstat saw it; a file that shrank meanwhile is read to its end). */
export function readOpenFile(fd: number, size: number): string {
  const buffer = Buffer.alloc(size);
  let length = 0;
  while (length < buffer.length) {
    const n = readSync(fd, buffer, length, buffer.length - length, length);
    if (n === 0) break;
    length += n;
  }
  return buffer.toString('utf8', 0, length);
}

/**
 * A small file of ours, read without following a symlink or blocking on a FIFO: its text, or
 * undefined unless it is a regular file of at most `maxBytes`, owned by this user, that nobody else
 * may write.
 */
export function readOwnFileSync(path: string, maxBytes: number): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | NOFOLLOW_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const info = fstatSync(fd);
    const judgement = judgeEntry(info, 'file');
    if (judgement.kind === 'refused' || info.size > maxBytes) return undefined;
    if (judgement.kind === 'tighten') fchmodSync(fd, judgement.mode);
    return readOpenFile(fd, info.size);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

export function cacheFile(paths: Paths, profile: string, provider: ProviderName): string {
  return join(paths.cacheDir, profile, `${provider}.json`);
}

/**
 * `login`: the generation of the shared login the token came from (a Redis store's, see
 * src/store/redis.ts), when it was cached from one, and `loginCheckedAt` when the store last said
 * that login still stands; such a token is used only while that login lasts (loginCheckedRecently).
 */
export type CacheRead =
  | { kind: 'hit'; token: AccessToken; login?: string; loginCheckedAt?: number }
  | { kind: 'absent' }
  | { kind: 'damaged'; reason: string };

/** A login generation as the shared store keeps it: 32 hex digits. */
export const LOGIN_GENERATION = /^[0-9a-f]{32}$/;

/**
 * How long an entry of a shared login answers without asking the store whether that login still
 * stands. Within it a warm `get` reads the local file and never contacts Redis (as the contract
 * says); past it the entry is a miss until the store confirms the login, so a logout or a new login
 * on one machine reaches every other machine's cache within this time.
 */
export const LOGIN_CHECK_MS = 60_000;

/** Whether a cached entry's shared login was confirmed within LOGIN_CHECK_MS (and not in the future). */
export function loginCheckedRecently(read: CacheRead, now: number): boolean {
  if (read.kind !== 'hit' || read.login === undefined || read.loginCheckedAt === undefined) return false;
  return now - read.loginCheckedAt < LOGIN_CHECK_MS && read.loginCheckedAt <= now + CLOCK_TOLERANCE_MS;
}

/**
 * Whether a cached entry may answer without asking the store: always with a local store; with the
 * Redis store only while it confirmed the entry's shared login within LOGIN_CHECK_MS (past that,
 * the broker asks the store and records the answer in the entry).
 */
export function loginStandsLocally(read: CacheRead, env: Env, now: number): boolean {
  return storeKindFromEnv(env) !== 'redis' || loginCheckedRecently(read, now);
}

/** RFC 6750 `b64token`: what may follow "Bearer " in a header, and nothing else (no CR, LF, escapes). */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** The longest access token accepted (providers' are well under 2 KB; an environment holds 128 KB per value). */
export const MAX_TOKEN_CHARS = 16 * 1024;
/** The longest token lifetime accepted: ten years. */
export const MAX_LIFETIME_SECONDS = 10 * 365 * 24 * 3600;
/**
 * How far in the future a token's obtained_at may lie before the clock is taken to have been wrong
 * when it was written (a token minted under a clock that ran ahead): such a token is stale.
 */
export const CLOCK_TOLERANCE_MS = 5_000;
/** The default margin (no --min-ttl): 60 s, or half the token's lifetime when that is shorter. */
export const DEFAULT_MIN_TTL_SECONDS = 60;
const MAX_CACHE_BYTES = 64 * 1024;

export function isB64Token(value: string): boolean {
  return value.length <= MAX_TOKEN_CHARS && B64TOKEN.test(value);
}

/**
 * Reads the cached token. The read is synchronous on purpose: the file is a few hundred bytes, and
 * an asynchronous read would start libuv's thread pool (and load node:fs/promises): about 3 ms of
 * a ~35 ms warm `get`, as much as the rest of the fast path together.
 * The file is opened without following a link and without blocking (a FIFO there cannot hang us),
 * and judged by the fstat of that descriptor: not a regular file, not ours, or writable by group or
 * others is damaged (never served); readable by others is tightened to 0600.
 */
export async function readCache(paths: Paths, profile: string, provider: ProviderName): Promise<CacheRead> {
  let fd: number;
  try {
    fd = openSync(cacheFile(paths, profile, provider), constants.O_RDONLY | NOFOLLOW_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'absent' };
    return { kind: 'damaged', reason: code === 'ELOOP' ? 'it is a symbolic link' : `unreadable (${code ?? 'error'})` };
  }
  let text: string;
  try {
    const info = fstatSync(fd);
    const judgement = judgeEntry(info, 'file');
    if (judgement.kind === 'refused') return { kind: 'damaged', reason: judgement.reason };
    if (judgement.kind === 'tighten') fchmodSync(fd, judgement.mode);
    if (info.size > MAX_CACHE_BYTES) return { kind: 'damaged', reason: 'it is too large' };
    text = readOpenFile(fd, info.size);
  } catch (error) {
    return { kind: 'damaged', reason: `unreadable (${(error as NodeJS.ErrnoException).code ?? 'error'})` };
  } finally {
    closeSync(fd);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { kind: 'damaged', reason: 'not JSON (truncated?)' };
  }
  const token = asAccessToken(data);
  if (!token) return { kind: 'damaged', reason: 'unexpected shape' };
  const { login, login_checked_at: checkedAt } = data as { login?: unknown; login_checked_at?: unknown };
  if (typeof login !== 'string' || !LOGIN_GENERATION.test(login)) return { kind: 'hit', token };
  return Number.isSafeInteger(checkedAt)
    ? { kind: 'hit', token, login, loginCheckedAt: checkedAt as number }
    : { kind: 'hit', token, login };
}

/** The token in `data` when it has the cached shape (also for the shared cache), else undefined. */
export function asAccessToken(data: unknown): AccessToken | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { access_token, token_type, expires_at, obtained_at, scope } = data as Record<string, unknown>;
  // A cache holding a token no provider could have issued (a header injection, escapes) is damaged.
  if (typeof access_token !== 'string' || !isB64Token(access_token)) return undefined;
  if (typeof token_type !== 'string') return undefined;
  if (!isTime(expires_at)) return undefined;
  // obtained_at is absent from caches written before it was kept.
  if (obtained_at !== undefined) {
    if (!isTime(obtained_at)) return undefined;
    // (An expiry before it was obtained is just an expired token: a test, or a hand edit.)
    if (expires_at - obtained_at > MAX_LIFETIME_SECONDS * 1000) return undefined;
  }
  if (scope !== undefined && typeof scope !== 'string') return undefined;
  return {
    access_token,
    token_type,
    expires_at,
    ...(obtained_at === undefined ? {} : { obtained_at }),
    ...(scope === undefined ? {} : { scope }),
  };
}

/** A time in ms that a Date can show (|t| ≤ 8.64e15), so no caller meets a RangeError. */
function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && Math.abs(value) <= 8.64e15;
}

/** The token's whole lifetime in ms, when the cache knows when it was obtained. */
export function lifetimeMs(token: AccessToken): number | undefined {
  return token.obtained_at === undefined ? undefined : token.expires_at - token.obtained_at;
}

/**
 * The validity a token must still have: minTtlSeconds when the caller asked for it (`given`), else
 * the default margin, which for a short-lived token is half its lifetime (a 30 s token is used for
 * 15 s instead of never).
 */
export function requiredTtlMs(token: AccessToken, minTtlSeconds: number, given: boolean): number {
  const asked = minTtlSeconds * 1000;
  const lifetime = lifetimeMs(token);
  return given || lifetime === undefined || lifetime <= 0 ? asked : Math.min(asked, lifetime / 2);
}

/**
 * True when the token has the required validity left (see requiredTtlMs). A token obtained "in the
 * future" (written while the clock ran ahead; it then also has more left than its whole lifetime)
 * is stale whatever its expiry says: the provider's clock decides when it really ends.
 */
export function isFresh(token: AccessToken, nowMs: number, minTtlSeconds: number, given = false): boolean {
  if (token.obtained_at !== undefined && token.obtained_at > nowMs + CLOCK_TOLERANCE_MS) return false;
  if (token.expires_at - nowMs > MAX_LIFETIME_SECONDS * 1000) return false;
  return token.expires_at - nowMs >= requiredTtlMs(token, minTtlSeconds, given);
}

export async function writeCache(
  paths: Paths,
  profile: string,
  provider: ProviderName,
  token: AccessToken,
  shared?: { login: string; checkedAt: number },
): Promise<void> {
  const { writePrivateFile } = await import('./private-files.js');
  const entry = shared === undefined ? token : { ...token, login: shared.login, login_checked_at: shared.checkedAt };
  await writePrivateFile(paths.cacheDir, cacheFile(paths, profile, provider), `${JSON.stringify(entry)}\n`);
}

export async function deleteCache(paths: Paths, profile: string, provider: ProviderName): Promise<void> {
  const file = cacheFile(paths, profile, provider);
  await new Promise<void>((resolve, reject) =>
    rm(file, { force: true }, (error) => (error ? reject(error) : resolve())),
  );
}
