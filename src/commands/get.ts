import { TokenBroker } from '../broker/broker.js';
import { resolveEndpoints } from '../model/endpoints.js';
import { formatCredential, type Format } from '../model/format.js';
import type { Deps } from '../broker/deps.js';
import type { ProviderDescriptor } from '../model/model.js';

export interface GetOptions {
  provider: ProviderDescriptor;
  profile: string;
  format: Format;
  minTtlSeconds: number;
  /** --min-ttl was given (not the default margin). */
  minTtlGiven?: boolean;
  forceRefresh: boolean;
}

export async function runGet(options: GetOptions, deps: Deps): Promise<number> {
  // A bad endpoint override is a usage error, reported before the cache is looked at.
  resolveEndpoints(options.provider, deps.env);
  const broker = new TokenBroker(deps);
  const credential = await broker.get(options.provider, options.profile, options);
  deps.io.stdout.write(formatCredential(options.format, options.provider, options.profile, credential));
  return 0;
}
