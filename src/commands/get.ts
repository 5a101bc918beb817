import { TokenBroker } from '../core/broker.js';
import { formatCredential, type Format } from '../core/format.js';
import type { Deps } from '../core/deps.js';
import type { ProviderDescriptor } from '../providers/types.js';

export interface GetOptions {
  provider: ProviderDescriptor;
  profile: string;
  format: Format;
  minTtlSeconds: number;
  forceRefresh: boolean;
}

export async function runGet(options: GetOptions, deps: Deps): Promise<number> {
  const broker = new TokenBroker(deps);
  const credential = await broker.get(options.provider, options.profile, options);
  deps.io.stdout.write(formatCredential(options.format, options.provider, options.profile, credential));
  return 0;
}
