// Flag values to typed options; every failure is a usage error (exit 2) raised before any I/O.
import { UsageError } from '../core/errors.js';
import { PROVIDER_IDS, findProvider } from '../providers/registry.js';
import type { ProviderDescriptor } from '../core/model.js';

export function parseProvider(name: string): ProviderDescriptor {
  const provider = findProvider(name);
  if (!provider) throw new UsageError(`unknown provider "${name}"; known providers: ${PROVIDER_IDS.join(', ')}`);
  return provider;
}

/** Profile names: also the filter of the names offered by shell completion. */
export const PROFILE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Profile names become directory names, so they are kept to a safe alphabet. */
export function parseProfile(name: string | undefined): string {
  const profile = name === undefined || name === '' ? 'default' : name;
  if (!PROFILE_PATTERN.test(profile)) {
    throw new UsageError(`invalid profile name "${profile}": use letters, digits, "-" and "_" (up to 64, starting with a letter or digit)`);
  }
  return profile;
}

export function parseWholeNumber(value: string, flag: string, { min = 0 } = {}): number {
  if (!/^\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`${flag} takes a whole number${min > 0 ? ` ≥ ${min}` : ' ≥ 0'}, not "${value}"`);
  }
  return Number(value);
}
