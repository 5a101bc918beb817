// Where the provider locks and their companions live, and when a lock counts as stale: the facts
// lock.ts acts on and the fast path's waiters (src/files/refresh-claims.ts) only look at. No I/O here.
import { join } from 'node:path';
import { readEnv, TOKENS_LOCK_TIMEOUT } from '../model/env.js';
import type { Env } from '../model/paths.js';

/** A lock whose holder has not touched it for this long is taken to be dead. */
export const STALE_MS = 5_000;

export function lockPath(stateDir: string, profile: string, name: string): string {
  return join(stateDir, profile, `${name}.lock`);
}

/** How long a process waits for a provider lock: TOKENS_LOCK_TIMEOUT (src/model/env.ts), else 90 s. */
export function lockWaitMs(env: Env): number {
  return readEnv(env, TOKENS_LOCK_TIMEOUT);
}

/** The failure a lock holder recorded for the processes that were waiting (lock.ts). */
export function failurePath(lock: string): string {
  return `${lock}.failure.json`;
}
