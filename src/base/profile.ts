// Profile names become directory names, so they are kept to a safe alphabet.
import { UsageError } from './errors.js';

/** Profile names: also the filter of the names offered by shell completion. */
export const PROFILE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const DEFAULT_PROFILE = 'default';

export function parseProfile(name: string | undefined): string {
  const profile = name === undefined || name === '' ? DEFAULT_PROFILE : name;
  if (!PROFILE_PATTERN.test(profile)) {
    throw new UsageError(
      `invalid profile name "${profile}": use letters, digits, "-" and "_" (up to 64, starting with a letter or digit)`,
    );
  }
  return profile;
}
