// Small pieces the provider adapters share.
import { UsageError } from '../core/errors.js';
import { LOGIN_FLAG_KEYS, loginFlagName } from '../core/login-flags.js';
import type { AccessToken, LoginFlags } from '../core/model.js';

/** A usage error for the first given flag that this provider (or mode) does not take. */
export function refuseFlags(flags: LoginFlags, allowed: ReadonlyArray<keyof LoginFlags>, what: string): void {
  for (const key of LOGIN_FLAG_KEYS) {
    if (flags[key] !== undefined && !allowed.includes(key)) {
      throw new UsageError(`${loginFlagName(key)} does not apply to ${what}`, { hint: 'See `tokens login --help`.' });
    }
  }
}

export function requireFlag(value: string | undefined, flag: string, what: string): string {
  if (!value) throw new UsageError(`${what} needs ${flag}`, { hint: 'See `tokens login --help`.' });
  return value;
}

/** An access token from a token response, with an absolute expiry. */
export function accessToken(fields: { access_token: string; token_type?: string | null; expires_in: number; scope?: string | null }, nowMs: number): AccessToken {
  return {
    access_token: fields.access_token,
    token_type: fields.token_type || 'bearer',
    expires_at: nowMs + Math.floor(fields.expires_in * 1000),
    ...(fields.scope ? { scope: fields.scope } : {}),
  };
}
