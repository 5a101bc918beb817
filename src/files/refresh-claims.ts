// At expiry, many `tokens get` at once: one process refreshes, the others wait for its token. The
// waiting is done here, on the fast path, so that the waiters never load the full program.
//
// The refresh itself is always the full program's, under its lock (src/files/lock.ts: a
// proper-lockfile mkdir lock). But the full program takes that lock only after it has loaded,
// by which time every process started with it has already looked at the cache. So the first fast
// path to find the token expired claims the refresh with a small file beside the lock
// (`PROVIDER.lock.refreshing`, created exclusively, holding its pid and, on Linux, the process's
// start time), hands over to the full program,
// and removes the claim once the full program is done. A fast path that finds the refresh claimed,
// or the lock held, waits: it polls the cache (a few hundred bytes, read synchronously) with a short
// backoff, or, where it can, watches the cache's directory (fs.watch: woken by the rename that
// writes the token) and looks at the lock and the claim every POLL_MS, and answers as soon as the
// token there will do. The claim decides nothing: a waiter
// answers only from a cache that passes the same checks as ever, and whatever is in doubt goes to
// the full program, which decides under the lock — a claim whose process is gone, a stale lock, a
// failure recorded beside the lock (the full program shares it with processes that were waiting:
// the waiter hands over the time it began to wait), a lock and claim gone with no usable token, a
// wait as long as the lock's (TOKENS_LOCK_TIMEOUT; the full program then counts it as waited), or a
// state directory that is not private.
import {
  closeSync,
  lstatSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  watch,
  writeSync,
  type FSWatcher,
} from 'node:fs';
import { dirname } from 'node:path';
import { cacheFile, isFresh, readCache, type CacheRead } from './cache.js';
import { failurePath, lockPath, lockWaitMs, STALE_MS } from './lock-files.js';
import { judgeEntry } from './file-judge.js';
import type { Env } from '../model/paths.js';
import type { AccessToken, ProviderName } from '../model/model.js';
import type { Paths } from '../model/paths.js';

/** Polling without a watcher: from FIRST_POLL_MS, doubling up to MAX_POLL_MS. */
const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 50;
/** With a watcher on the cache directory, the lock and the claim are looked at this often. */
const WATCHED_POLL_MS = 200;

/** A refresh this process claimed; released (the claim file removed) once the full program is done. */
export interface RefreshClaim {
  release(): void;
}

export type Awaited =
  | { kind: 'token'; token: AccessToken; read: CacheRead }
  /** The full program's business; `askedAt` when this process waited first, `claim` when it claimed the refresh. */
  | { kind: 'handoff'; askedAt?: number; claim?: RefreshClaim };

const claimPath = (lock: string) => `${lock}.refreshing`;

/** The state directory holding the lock, if the full program's ensurePrivateDir would leave it as it is. */
function isTrustedDir(dir: string): boolean {
  try {
    return judgeEntry(lstatSync(dir), 'directory').kind === 'trusted';
  } catch {
    return false;
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * When the process started (Linux: field 22 of /proc/PID/stat, clock ticks since boot), or '' where
 * that cannot be read. With the pid it names one process: a pid reused later has another start time.
 */
function startTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return /^\d+$/.test(fields[19] ?? '') ? fields[19]! : '';
  } catch {
    return '';
  }
}

/** What this process writes in a claim: its pid and start time. */
function ownClaim(): string {
  return `${process.pid} ${startTime(process.pid)}`.trim();
}

/**
 * The claim's process: 'absent' (no claim), 'alive', or 'gone' (the process is not running). A
 * claim is proved by its holder being alive with the start time recorded. A claim naming this
 * process was never made by it (it claims only after looking): it was left by an earlier process
 * with the same pid, as in containers, where every run is pid 1.
 */
function claimant(path: string): 'absent' | 'alive' | 'gone' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'absent' : 'gone';
  }
  const [pidText = '', started] = text.trim().split(' ');
  const pid = Number(pidText);
  if (text.trim() === '') {
    // Created an instant ago and not yet written; a claim empty for longer was left by a crash.
    try {
      return Date.now() - statSync(path).mtimeMs < 1000 ? 'alive' : 'gone';
    } catch {
      return 'absent';
    }
  }
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return 'gone';
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return 'gone';
  }
  // A live process whose start time is known and differs is another one that got the pid.
  const now = started === undefined ? '' : startTime(pid);
  return now !== '' && now !== started ? 'gone' : 'alive';
}

/** The provider lock: 'absent', 'held', or 'stale' (its holder stopped touching it: lock.ts breaks it). */
function lockState(lock: string): 'absent' | 'held' | 'stale' {
  try {
    return Date.now() - statSync(lock).mtimeMs > STALE_MS ? 'stale' : 'held';
  } catch {
    return 'absent';
  }
}

/** Claims the refresh: true when this process created the claim file. */
function tryClaim(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch {
    return false;
  }
  try {
    writeSync(fd, `${ownClaim()}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

function claimOf(path: string): RefreshClaim {
  return {
    release() {
      try {
        if (readFileSync(path, 'utf8').trim() === ownClaim()) unlinkSync(path);
      } catch {
        // Gone already, or never fully ours: nothing to release.
      }
    },
  };
}

/**
 * For a token that is missing or will not do: the token another process's refresh leaves in the
 * cache, after waiting for it, or the hand-over to the full program (with this process's claim on
 * the refresh, when no other process was making one and `mayClaim`: a `get`, whose full program is
 * done soon after its refresh; not an `exec`, whose full program lasts as long as its command).
 */
export async function awaitRefresh(
  paths: Paths,
  env: Env,
  profile: string,
  provider: ProviderName,
  minTtl: { seconds: number; given: boolean },
  { mayClaim }: { mayClaim: boolean },
): Promise<Awaited> {
  const lock = lockPath(paths.stateDir, profile, provider);
  const claim = claimPath(lock);
  if (!isTrustedDir(dirname(lock)) || exists(failurePath(lock))) return { kind: 'handoff' };
  const usable = async (): Promise<Awaited | undefined> => {
    const read = await readCache(paths, profile, provider);
    return read.kind === 'hit' && isFresh(read.token, Date.now(), minTtl.seconds, minTtl.given)
      ? { kind: 'token', token: read.token, read }
      : undefined;
  };

  const holder = claimant(claim);
  if (holder === 'gone') {
    // Left by a process that died, most likely holding the lock too: out of the way, and the full
    // program takes over, loaded and waiting at the lock by the time it goes stale, rather than
    // started only then (if another waiter replaced the claim meanwhile, the worst is two full
    // programs, and the lock still lets one refresh).
    try {
      unlinkSync(claim);
    } catch {
      // someone else removed it
    }
    return { kind: 'handoff' };
  }
  const held = lockState(lock);
  if (held === 'stale') return { kind: 'handoff' };
  // Nobody is refreshing: this process will (unless another claimed it a moment ago: then wait).
  if (holder !== 'alive' && held === 'absent') {
    if (!mayClaim) return { kind: 'handoff' };
    if (tryClaim(claim)) return { kind: 'handoff', claim: claimOf(claim) };
  }

  const askedAt = Date.now();
  const waitMs = lockWaitMs(env);
  const waker = new Waker(dirname(cacheFile(paths, profile, provider)));
  try {
    let pause = FIRST_POLL_MS;
    for (;;) {
      await waker.sleep(waker.watching ? WATCHED_POLL_MS : pause);
      pause = Math.min(pause * 2, MAX_POLL_MS);
      const token = await usable();
      if (token) return token;
      if (exists(failurePath(lock)) || Date.now() - askedAt >= waitMs) return { kind: 'handoff', askedAt };
      const who = claimant(claim);
      const lockNow = lockState(lock);
      if (who === 'gone' || lockNow === 'stale') return { kind: 'handoff', askedAt };
      if (who === 'absent' && lockNow === 'absent') {
        const late = await usable();
        return late ?? { kind: 'handoff', askedAt };
      }
    }
  } finally {
    waker.close();
  }
}

/** Sleeps that end early when something changes in a directory (fs.watch), where watching works. */
class Waker {
  readonly #watcher: FSWatcher | undefined;
  #wake: () => void = () => undefined;

  constructor(dir: string) {
    let watcher: FSWatcher | undefined;
    try {
      watcher = watch(dir, { persistent: false }, () => this.#wake());
      watcher.on('error', () => undefined);
    } catch {
      // No directory yet, no inotify watches left, …: poll instead.
      watcher = undefined;
    }
    this.#watcher = watcher;
  }

  get watching(): boolean {
    return this.#watcher !== undefined;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  close(): void {
    this.#watcher?.close();
  }
}
