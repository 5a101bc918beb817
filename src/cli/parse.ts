// Flag values to typed options; every failure is a usage error (exit 2) raised before any I/O.
import { MAX_TIMEOUT_SECONDS } from '../model/env.js';
import { UsageError } from '../base/errors.js';
import { PROVIDERS } from '../providers/registry.js';
import type { ProviderDescriptor } from '../model/model.js';

export function parseProvider(name: string, providers: readonly ProviderDescriptor[] = PROVIDERS): ProviderDescriptor {
  const provider = providers.find((p) => p.id === name);
  if (!provider)
    throw new UsageError(`unknown provider "${name}"; known providers: ${providers.map((p) => p.id).join(', ')}`);
  return provider;
}

export { PROFILE_PATTERN, parseProfile } from '../base/profile.js';

export function parseWholeNumber(value: string, flag: string, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    const range = max < Number.MAX_SAFE_INTEGER ? ` from ${min} to ${max}` : ` ≥ ${min}`;
    throw new UsageError(`${flag} takes a whole number${range}, not "${value}"`);
  }
  return Number(value);
}

/** A number of seconds that sets a timer: bounded as the TOKENS_*_TIMEOUT variables are (env.ts). */
export function parseSeconds(value: string, flag: string, { min = 0 } = {}): number {
  return parseWholeNumber(value, flag, { min, max: MAX_TIMEOUT_SECONDS });
}
