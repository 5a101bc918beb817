// Flag values to typed options; every failure is a usage error (exit 2) raised before any I/O.
import { UsageError } from '../core/errors.js';
import { PROVIDERS } from '../providers/registry.js';
import type { ProviderDescriptor } from '../core/model.js';

export function parseProvider(name: string, providers: readonly ProviderDescriptor[] = PROVIDERS): ProviderDescriptor {
  const provider = providers.find((p) => p.id === name);
  if (!provider)
    throw new UsageError(`unknown provider "${name}"; known providers: ${providers.map((p) => p.id).join(', ')}`);
  return provider;
}

export { PROFILE_PATTERN, parseProfile } from '../core/profile.js';

export function parseWholeNumber(value: string, flag: string, { min = 0 } = {}): number {
  if (!/^\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`${flag} takes a whole number${min > 0 ? ` ≥ ${min}` : ' ≥ 0'}, not "${value}"`);
  }
  return Number(value);
}
