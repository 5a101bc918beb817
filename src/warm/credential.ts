// The token TokenBroker.get would return first, read from the cache alone: the cached one while it
// has the asked validity left, else the one another process's refresh leaves there (waited for).
import { isFresh, loginStandsLocally, readCache } from '../files/cache.js';
import { awaitRefresh } from '../files/refresh-claims.js';
import type { Credential, ProviderDescriptor } from '../model/model.js';
import type { WarmContext } from './context.js';

/**
 * Undefined when the full program must get it; the context's leftovers then say what this process
 * claimed or waited for. `mayClaim`: this process may take the refresh on itself (one provider only).
 */
export async function cachedCredential(
  context: WarmContext,
  provider: ProviderDescriptor,
  profile: string,
  minTtl: { seconds: number; given: boolean },
  mayClaim: boolean,
): Promise<Credential | undefined> {
  const { env, paths, leftovers } = context;
  const read = await readCache(paths, profile, provider.id);
  if (read.kind === 'hit' && isFresh(read.token, Date.now(), minTtl.seconds, minTtl.given))
    return loginStandsLocally(read, env, Date.now()) ? { kind: 'token', token: read.token } : undefined;
  // A damaged cache is the full program's to report (with --verbose) and rebuild.
  if (read.kind === 'damaged') return undefined;
  // Waiting can take a while: from here on, as in every run but a warm get, no inspector on SIGUSR1.
  context.refuseInspector();
  const waited = await awaitRefresh(paths, env, profile, provider.id, minTtl, { mayClaim });
  if (waited.kind === 'token')
    return loginStandsLocally(waited.read, env, Date.now()) ? { kind: 'token', token: waited.token } : undefined;
  if (waited.claim) leftovers.claims.push(waited.claim);
  if (waited.askedAt !== undefined) leftovers.askedAt = Math.min(leftovers.askedAt ?? Infinity, waited.askedAt);
  return undefined;
}
