// Small pieces the provider adapters share.
import { isB64Token, MAX_LIFETIME_SECONDS, MAX_TOKEN_CHARS } from '../files/cache.js';
import { UnavailableError, UsageError } from '../base/errors.js';
import { LOGIN_FLAG_KEYS, loginFlagName } from '../model/login-flags.js';
import type { AccessToken, LoginFlags, MintResult, Secrets } from '../model/model.js';

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

/**
 * A token endpoint answered 200 with an access token tokens refuses to use (exit 5). When that
 * answer also rotated the refresh token, `rotated` is the new bundle: the broker stores it before
 * it reports this error, so a bad access token never costs the login.
 */
export class UnusableTokenError extends UnavailableError {
  rotated?: Secrets;
}

/**
 * An access token from a token response, with an absolute expiry and the time it was obtained.
 * Every token any provider answers passes here: one that is not an RFC 6750 b64token (it would
 * break out of an Authorization header or write escapes to a terminal), longer than
 * MAX_TOKEN_CHARS, or with a lifetime over MAX_LIFETIME_SECONDS is refused (UnusableTokenError).
 */
export function accessToken(
  fields: { access_token: string; token_type?: string | null; expires_in: number; scope?: string | null },
  nowMs: number,
  providerTitle: string,
): AccessToken {
  const refuse = (why: string) => new UnusableTokenError(`${providerTitle} answered ${why}; refused`);
  if (fields.access_token.length > MAX_TOKEN_CHARS)
    throw refuse(`an access token longer than ${MAX_TOKEN_CHARS} characters`);
  if (!isB64Token(fields.access_token))
    throw refuse('an access token with characters a bearer token cannot have (RFC 6750)');
  if (!(fields.expires_in > 0) || fields.expires_in > MAX_LIFETIME_SECONDS) {
    throw refuse(`a token lifetime (expires_in) beyond ${MAX_LIFETIME_SECONDS / (365 * 24 * 3600)} years`);
  }
  return {
    access_token: fields.access_token,
    token_type: fields.token_type || 'bearer',
    expires_at: nowMs + Math.floor(fields.expires_in * 1000),
    obtained_at: nowMs,
    ...(fields.scope ? { scope: fields.scope } : {}),
  };
}

/** What a mint returns: the validated token, and `secrets` when the answer changed the bundle. */
export function mintResult(
  fields: Parameters<typeof accessToken>[0],
  nowMs: number,
  providerTitle: string,
  secrets?: Secrets,
): MintResult {
  try {
    return { token: accessToken(fields, nowMs, providerTitle), ...(secrets ? { secrets } : {}) };
  } catch (error) {
    if (secrets && error instanceof UnusableTokenError) error.rotated = secrets;
    throw error;
  }
}
