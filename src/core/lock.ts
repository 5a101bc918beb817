// Cross-process mutual exclusion per provider + profile, with proper-lockfile: an mkdir lock whose
// holder touches it every second, so a lock left by a killed process goes stale within seconds while
// a live holder's lock is never broken.
import { join } from 'node:path';
import { UnavailableError } from './errors.js';
import { ensurePrivateDir } from './private-files.js';
import type { Deps } from './deps.js';

const STALE_MS = 5_000;
const UPDATE_MS = 1_000;
/** A holder gives up within about 60 s (the HTTP budget); waiting longer than this means trouble. */
const DEFAULT_WAIT_MS = 90_000;

export function lockPath(stateDir: string, profile: string, name: string): string {
  return join(stateDir, profile, `${name}.lock`);
}

export async function withLock<T>(deps: Deps, path: string, what: string, fn: () => Promise<T>): Promise<T> {
  const { default: lockfile } = await import('proper-lockfile');
  await ensurePrivateDir(join(path, '..'));
  const waitMs = lockWaitMs(deps.env);
  const deadline = deps.now() + waitMs;
  let waited = false;
  for (;;) {
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(path, {
        realpath: false,
        lockfilePath: path,
        stale: STALE_MS,
        update: UPDATE_MS,
        retries: 0,
        // Losing the lock (the machine slept for longer than STALE_MS) must not crash the process;
        // the work under it is ordered so that the store is still written before anything else.
        onCompromised: () => deps.debug(`lock ${what} was taken over while held`),
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
      if (!waited) deps.debug(`waiting for another tokens process (${what})`);
      waited = true;
      if (deps.now() >= deadline) {
        throw new UnavailableError(`gave up after ${Math.round(waitMs / 1000)} s waiting for another tokens process to finish with ${what}`);
      }
      // Sleep 100–300 ms: waiters poll gently rather than spin.
      await deps.sleep(100 + Math.round(deps.random() * 200));
      continue;
    }
    try {
      return await fn();
    } finally {
      await release().catch(() => undefined);
    }
  }
}

function lockWaitMs(env: Deps['env']): number {
  const seconds = Number(env.TOKENS_LOCK_TIMEOUT);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : DEFAULT_WAIT_MS;
}
