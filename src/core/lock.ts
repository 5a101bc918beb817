// Cross-process mutual exclusion per provider + profile, with proper-lockfile: an mkdir lock whose
// holder touches it every second, so a lock left by a killed process goes stale within seconds while
// a live holder's lock is never broken.
//
// Two things proper-lockfile does not do for us:
// - Taking over a stale lock safely. Its own takeover is stat → rmdir → mkdir, so two waiters that
//   both saw the dead lock can both remove it, the second removing the first one's fresh lock, and
//   both go on as holders (or one fails with ENOENT). Here proper-lockfile never judges a lock stale;
//   a waiter that finds one stale breaks it under a second, short-lived lock (`…lock.breaking`) and
//   only after checking again that it is still the same stale lock.
// - Sharing a failure. When the holder gives up (the provider is down, rate limiting, rejected the
//   credentials), the processes that were already waiting would each repeat the same doomed request
//   one after the other, N times the time and N times the load. With `shareFailure` the failure is
//   recorded next to the lock, and those waiters get it (`held.recentFailure`) instead; a process
//   that asks later tries again. A failure that leaves the store holding a spent refresh token is
//   shared with every later process too, until a login replaces it.
import { mkdir, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CredentialsRejectedError, StoreError, TokensError, UnavailableError } from './errors.js';
import { readEnv, TOKENS_LOCK_TIMEOUT } from './env.js';
import { describeErrno, ensurePrivateDir, errnoCode, readPrivateFile } from './private-files.js';
import { sanitizeProviderText } from './untrusted-text.js';
import type { Deps } from './deps.js';

const STALE_MS = 5_000;
const UPDATE_MS = 1_000;
/** What proper-lockfile is told: never take a lock over by itself (see above). */
const NEVER_STALE_MS = 2 ** 31;
/**
 * A 'waiting' failure is shared only when recorded between the moment this process asked for the
 * lock and now (plus this much): a record "from the future" was written under a clock that ran
 * ahead, and must not block every later process until the real clock passes it.
 */
const RECORD_CLOCK_TOLERANCE_MS = 5_000;

/**
 * Who else gets a failure of `fn` (a TokensError with exit code 4, 5 or 6), among the callers that
 * share failures: nobody; those that asked for the lock before it happened ('waiting'); or also every
 * later one ('sticky'), until a caller that does not share failures completes under the lock (a login
 * or a logout: what replaces the credentials that failed).
 */
export type FailureSharing = 'none' | 'waiting' | 'sticky';

/** What withLock uses of Deps; a caller without a full Deps (the file store) passes just these. */
export type LockDeps = Pick<Deps, 'env' | 'now' | 'sleep' | 'random' | 'debug'>;

export interface LockOptions {
  shareFailure?: (error: TokensError) => FailureSharing;
  /** How long to wait for the lock before giving up; default TOKENS_LOCK_TIMEOUT, else 90 s. */
  waitMs?: number;
  /**
   * Whether to create the lock's directory (0700, tightening a loose one we own); default true.
   * False for a caller that has prepared the directory itself (the file store, whose directory may
   * be a shared one such as /tmp, or the home directory, which must not be tightened).
   */
  createDir?: boolean;
  /**
   * The directory of ours the lock lives under (Paths.stateDir): every directory from it down to
   * the lock's is made private (src/core/private-files.ts). Default: the lock's own directory.
   */
  root?: string;
}

export interface HeldLock {
  /** A failure shared with this process (see FailureSharing): throw it rather than try again. */
  readonly recentFailure?: TokensError;
  /**
   * True once the lock was found taken over while held (the holder stopped touching it for longer
   * than the stale period, say the machine slept, and another process broke it): whatever this
   * holder writes from then on may overwrite that process's work.
   */
  readonly compromised: boolean;
}

export function lockPath(stateDir: string, profile: string, name: string): string {
  return join(stateDir, profile, `${name}.lock`);
}

export async function withLock<T>(deps: LockDeps, path: string, what: string, fn: (held: HeldLock) => Promise<T>, options: LockOptions = {}): Promise<T> {
  const { default: lockfile } = await import('proper-lockfile');
  const root = options.root ?? dirname(path);
  if (options.createDir !== false) await ensurePrivateDir(root, dirname(path));
  const waitMs = options.waitMs ?? lockWaitMs(deps.env);
  const asked = deps.now();
  const deadline = asked + waitMs;
  let waited = false;
  for (;;) {
    let release: () => Promise<void>;
    let compromised = false;
    try {
      release = await lockfile.lock(path, {
        realpath: false,
        lockfilePath: path,
        stale: NEVER_STALE_MS,
        update: UPDATE_MS,
        retries: 0,
        // Losing the lock (the machine slept for longer than STALE_MS) must not crash the process;
        // the work under it is ordered so that the store is still written before anything else.
        onCompromised: () => {
          compromised = true;
          deps.debug(`lock ${what} was taken over while held`);
        },
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // ENOENT: the lock vanished between proper-lockfile's mkdir and its first touch; try again.
      // Anything else (EROFS, EACCES, ENOTDIR, ENOSPC): the state directory cannot hold a lock.
      if (code !== 'ELOCKED' && code !== 'ENOENT') throw cannotLock(path, error);
      if (code === 'ELOCKED' && (await breakIfStale(path, deps, what))) continue;
      if (!waited) deps.debug(`waiting for another tokens process (${what})`);
      waited = true;
      if (deps.now() >= deadline) {
        throw new UnavailableError(`gave up after ${Math.round(waitMs / 1000)} s waiting for another tokens process to finish with ${what}`, {
          hint: `If no other tokens process is running, remove ${path}.`,
        });
      }
      // Sleep 100–300 ms: waiters poll gently rather than spin.
      await deps.sleep(100 + Math.round(deps.random() * 200));
      continue;
    }
    const recorded = await readRecord(path);
    const recentFailure = options.shareFailure && recorded ? sharedWith(recorded, asked, deps.now()) : undefined;
    try {
      const held: HeldLock = {
        ...(recentFailure ? { recentFailure } : {}),
        get compromised() {
          return compromised;
        },
      };
      const result = await fn(held);
      if (recorded !== undefined && !(options.shareFailure && recorded !== 'damaged' && recorded.sharing === 'sticky')) {
        await rm(failurePath(path), { force: true }).catch(() => undefined);
      }
      return result;
    } catch (error) {
      // A shared failure thrown again stays recorded as it was (its time, its sharing).
      if (options.shareFailure && error !== recentFailure) await recordFailure(path, error, options.shareFailure, deps);
      throw error;
    } finally {
      await release().catch(() => undefined);
    }
  }
}

/** The lock path cannot be used at all: exit 6, naming it. */
function cannotLock(path: string, error: unknown): StoreError {
  return new StoreError(`cannot take the lock ${path}: ${describeErrno(error)}`, {
    hint: `tokens keeps its locks in ${dirname(path)}; it must be a writable directory.`,
  });
}

function isStale(mtimeMs: number, nowMs: number): boolean {
  return mtimeMs < nowMs - STALE_MS;
}

/**
 * Removes the lock at `path` when its holder stopped touching it more than STALE_MS ago (it died),
 * one waiter at a time. True when the caller should try to lock again at once.
 */
async function breakIfStale(path: string, deps: LockDeps, what: string): Promise<boolean> {
  const seen = await stat(path).catch(() => undefined);
  if (!seen) return true;
  if (!isStale(seen.mtimeMs, Date.now())) return false;
  const breaker = `${path}.breaking`;
  try {
    await mkdir(breaker, { mode: 0o700 });
  } catch (error) {
    if (errnoCode(error) !== 'EEXIST') throw cannotLock(path, error);
    // Another waiter is breaking it right now (it takes milliseconds), or died doing so long ago.
    const other = await stat(breaker).catch(() => undefined);
    if (other && isStale(other.mtimeMs, Date.now())) await rmdir(breaker).catch(() => undefined);
    return false;
  }
  try {
    // Still the lock we judged stale, and not one that a faster waiter has taken since?
    const now = await stat(path).catch(() => undefined);
    if (!now) return true;
    if (now.ino !== seen.ino || !isStale(now.mtimeMs, Date.now())) return false;
    await rmdir(path).catch((error: NodeJS.ErrnoException) => {
      // ENOTDIR: something that is not a lock (a file, a FIFO) sits at the lock's path.
      if (error.code !== 'ENOENT') throw cannotLock(path, error);
    });
    deps.debug(`took over the lock for ${what} from a tokens process that stopped without releasing it`);
    return true;
  } finally {
    await rmdir(breaker).catch(() => undefined);
  }
}

// --- shared failures -----------------------------------------------------------------------------

interface RecordedFailure {
  at: number;
  sharing: FailureSharing;
  exitCode: number;
  message: string;
  hint?: string;
}

function failurePath(path: string): string {
  return `${path}.failure.json`;
}

async function recordFailure(path: string, error: unknown, share: (error: TokensError) => FailureSharing, deps: LockDeps): Promise<void> {
  if (!(error instanceof TokensError) || ![4, 5, 6].includes(error.exitCode)) return;
  const sharing = share(error);
  if (sharing === 'none') return;
  const record: RecordedFailure = { at: deps.now(), sharing, exitCode: error.exitCode, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  try {
    const { replaceFile } = await import('./private-files.js');
    // The lock's directory was made private when the lock was taken.
    await replaceFile(failurePath(path), `${JSON.stringify(record)}\n`);
  } catch (e) {
    deps.debug(`could not record the failure for other tokens processes (${describeErrno(e)})`);
  }
}

/**
 * The recorded failure, if there is one and it is well-formed; 'damaged' for a record that is there
 * but unusable (not JSON, the wrong shape, a FIFO, a link, not ours): never trusted, removed later.
 */
async function readRecord(path: string): Promise<RecordedFailure | 'damaged' | undefined> {
  let record: Partial<RecordedFailure> | null;
  try {
    const bytes = await readPrivateFile(failurePath(path), 64 * 1024);
    if (bytes === undefined) return undefined;
    record = JSON.parse(bytes.toString('utf8')) as Partial<RecordedFailure> | null;
  } catch {
    return 'damaged';
  }
  if (typeof record !== 'object' || record === null) return 'damaged';
  const { at, sharing, exitCode, message, hint } = record;
  if (typeof at !== 'number' || !Number.isFinite(at) || Math.abs(at) > 8.64e15 || typeof message !== 'string' || typeof exitCode !== 'number') return 'damaged';
  if (sharing !== 'waiting' && sharing !== 'sticky') return 'damaged';
  return { at, sharing, exitCode, message, ...(typeof hint === 'string' ? { hint } : {}) };
}

/**
 * The recorded failure as an error to throw, when it is shared with a process that asked at `asked`
 * and looks now: a 'waiting' one only when recorded in [asked, now + tolerance]. Its texts are
 * untrusted (anyone who could write the file chose them): sanitized like any provider text.
 */
function sharedWith(record: RecordedFailure | 'damaged', asked: number, now: number): TokensError | undefined {
  if (record === 'damaged') return undefined;
  if (record.sharing === 'waiting' && (record.at < asked || record.at > now + RECORD_CLOCK_TOLERANCE_MS)) return undefined;
  const when = new Date(record.at).toISOString().replace(/\.\d+Z$/, 'Z');
  const text = `${sanitizeProviderText(record.message, 500).replace(/[.\s…]+$/, '')} (as another tokens process found at ${when})`;
  const options = record.hint === undefined ? {} : { hint: sanitizeProviderText(record.hint, 500) };
  switch (record.exitCode) {
    case 4:
      return new CredentialsRejectedError(text, {}, options);
    case 5:
      return new UnavailableError(text, options);
    case 6:
      return new StoreError(text, options);
    default:
      return undefined;
  }
}

function lockWaitMs(env: Deps['env']): number {
  return readEnv(env, TOKENS_LOCK_TIMEOUT);
}
