// Cross-process mutual exclusion per provider + profile, with proper-lockfile: an mkdir lock whose
// holder touches it every second, so a lock left by a killed process goes stale within seconds while
// a live holder's lock is never broken.
//
// What proper-lockfile does not do for us: taking over a stale lock safely. Its own takeover is
// stat → rmdir → mkdir, so two waiters that both saw the dead lock can both remove it, the second
// removing the first one's fresh lock, and both go on as holders (or one fails with ENOENT). Here
// proper-lockfile never judges a lock stale; a waiter that finds one stale breaks it under a second,
// short-lived lock (`…lock.breaking`) and only after checking again that it is still the same stale lock.
// Only a lock: which failures the processes waiting on it share is the broker's business.
import { mkdir, rmdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StoreError, UnavailableError } from '../base/errors.js';
import { describeErrno, ensurePrivateDir, errnoCode } from './private-files.js';
import { lockPath, lockWaitMs, STALE_MS } from './lock-files.js';
import type { Runtime } from '../model/runtime.js';

const UPDATE_MS = 1_000;
/** What proper-lockfile is told: never take a lock over by itself (see above). */
const NEVER_STALE_MS = 2 ** 31;

/** What withLock uses of the runtime; a caller without a whole one (the file store) passes just these. */
export type LockDeps = Pick<Runtime, 'env' | 'now' | 'sleep' | 'random' | 'debug' | 'askedAt'>;

export interface LockOptions {
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
   * the lock's is made private (src/files/private-files.ts). Default: the lock's own directory.
   */
  root?: string;
}

export interface LockFileHold {
  /**
   * True once the lock was found taken over while held (the holder stopped touching it for longer
   * than the stale period, say the machine slept, and another process broke it): whatever this
   * holder writes from then on may overwrite that process's work.
   */
  readonly compromised: boolean;
}

export { lockPath };

export async function withLock<T>(
  deps: LockDeps,
  path: string,
  what: string,
  fn: (held: LockFileHold) => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const { default: lockfile } = await import('proper-lockfile');
  const root = options.root ?? dirname(path);
  if (options.createDir !== false) await ensurePrivateDir(root, dirname(path));
  const waitMs = options.waitMs ?? lockWaitMs(deps.env);
  // A process that began waiting earlier (Runtime.askedAt: on the fast path) has waited that long already.
  const deadline = Math.min(deps.askedAt ?? Infinity, deps.now()) + waitMs;
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
        throw new UnavailableError(
          `gave up after ${Math.round(waitMs / 1000)} s waiting for another tokens process to finish with ${what}`,
          {
            hint: `If no other tokens process is running, remove ${path}.`,
          },
        );
      }
      // Sleep 100–300 ms: waiters poll gently rather than spin.
      await deps.sleep(100 + Math.round(deps.random() * 200));
      continue;
    }
    try {
      return await fn({
        get compromised() {
          return compromised;
        },
      });
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
