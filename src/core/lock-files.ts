// Where the provider locks and their companions live, and when a lock counts as stale: the facts
// lock.ts acts on and the fast path's waiters (src/fast-refresh.ts) only look at. No I/O here.
import { join } from 'node:path';
import type { Env } from './paths.js';

/** A lock whose holder has not touched it for this long is taken to be dead. */
export const STALE_MS = 5_000;

export function lockPath(stateDir: string, profile: string, name: string): string {
  return join(stateDir, profile, `${name}.lock`);
}

/** A holder gives up within about 60 s (the HTTP budget); waiting longer than this means trouble. */
const DEFAULT_WAIT_MS = 90_000;

/** How long a process waits for a provider lock: TOKENS_LOCK_TIMEOUT seconds, else 90 s. */
export function lockWaitMs(env: Env): number {
  const seconds = Number(env.TOKENS_LOCK_TIMEOUT);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : DEFAULT_WAIT_MS;
}

/** The failure a lock holder recorded for the processes that were waiting (lock.ts). */
export function failurePath(lock: string): string {
  return `${lock}.failure.json`;
}
