// `tokens get` from the cache alone: the cached token (or the one another process's refresh leaves),
// formatted as runGet formats it.
import { resolveEndpoints } from '../model/endpoints.js';
import { formatCredential } from '../model/format.js';
import { cachedCredential } from './credential.js';
import type { GetOptions } from '../commands/get.js';
import type { WarmAnswer, WarmContext } from './context.js';

export async function warmGet(options: GetOptions, context: WarmContext): Promise<WarmAnswer | undefined> {
  if (options.forceRefresh) return undefined;
  // A bad endpoint override is the full program's usage error.
  resolveEndpoints(options.provider, context.env);
  const minTtl = { seconds: options.minTtlSeconds, given: options.minTtlGiven ?? false };
  const credential = await cachedCredential(context, options.provider, options.profile, minTtl, true);
  if (!credential) return undefined;
  return { stdout: formatCredential(options.format, options.provider, options.profile, credential), code: 0 };
}
