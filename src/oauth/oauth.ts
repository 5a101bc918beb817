// Strict processing of token endpoint answers (after oauth4webapi): every field read is validated
// with zod, errors carry status / error / error_description, and never the raw body.
import * as z from '../base/zod.js';
import { CredentialsRejectedError, UnavailableError, type OAuthErrorDetails } from '../base/errors.js';
import type { TokenResponse } from '../http/http.js';
import { sanitizeProviderText } from '../base/untrusted-text.js';

const OAuthErrorBody = z.object({
  error: z.optional(z.string().check(z.maxLength(200))),
  error_description: z.optional(z.string()),
  message: z.optional(z.string()),
});

/** Statuses that mean "these credentials are not accepted": the user must log in again. */
const REJECTED_STATUS = new Set([400, 401, 403]);

export interface ProcessOptions<T extends z.ZodMiniType> {
  providerTitle: string;
  schema: T;
  /** Printed after a rejection, e.g. "Run `tokens login chartmetric`." */
  loginHint: string;
}

export function processTokenResponse<T extends z.ZodMiniType>(
  response: TokenResponse,
  options: ProcessOptions<T>,
): z.infer<T> {
  const { providerTitle } = options;
  // 200 only: every provider documents it, and RFC 6749 §5.1 names no other.
  if (response.status === 200) {
    let body: unknown;
    try {
      body = JSON.parse(response.text);
    } catch {
      throw new UnavailableError(`${providerTitle} answered 200 with a body that is not JSON`);
    }
    const parsed = options.schema.safeParse(body);
    if (!parsed.success)
      throw new UnavailableError(
        `${providerTitle} answered 200 without the documented fields: ${describeIssues(parsed.error)}`,
      );
    return parsed.data;
  }
  const details = oauthErrorDetails(response);
  if (REJECTED_STATUS.has(response.status)) {
    throw new CredentialsRejectedError(
      `${providerTitle} rejected the stored credentials (${describeOAuthError(details)})`,
      details,
      {
        hint: options.loginHint,
      },
    );
  }
  throw new UnavailableError(`${providerTitle} token endpoint answered ${describeOAuthError(details)}`);
}

/** The error fields of a non-200 answer, validated; a body that is not an OAuth error adds nothing. */
export function oauthErrorDetails(response: TokenResponse): OAuthErrorDetails {
  let body: unknown;
  try {
    body = JSON.parse(response.text);
  } catch {
    return { status: response.status };
  }
  const parsed = OAuthErrorBody.safeParse(body);
  if (!parsed.success) return { status: response.status };
  const description = parsed.data.error_description ?? parsed.data.message;
  return {
    status: response.status,
    ...(parsed.data.error ? { error: sanitizeProviderText(parsed.data.error, 100, response.redact) } : {}),
    ...(description ? { error_description: sanitizeProviderText(description, 200, response.redact) } : {}),
  };
}

export function describeOAuthError(details: OAuthErrorDetails): string {
  const parts = [details.status ? `HTTP ${details.status}` : undefined, details.error, details.error_description];
  return parts.filter(Boolean).join(': ');
}

/** Names the fields that failed, e.g. "token (expected string, received undefined)". */
export function describeIssues(error: z.core.$ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => {
      const field = issue.path.join('.') || 'body';
      return issue.code === 'invalid_type' && issue.message.includes('undefined')
        ? `${field} missing`
        : `${field} invalid`;
    })
    .join(', ');
}

/** Form-encodes a body, leaving out undefined values. */
export function formBody(fields: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) params.set(key, value);
  return params.toString();
}

/** HTTP Basic as both providers document it (curl -u): base64 of "id:secret", not form-encoded first. */
export function basicAuth(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
}

export function isInvalidGrant(error: unknown): boolean {
  return error instanceof CredentialsRejectedError && error.details.error === 'invalid_grant';
}

/** Common schema for `expires_in`: a positive number of seconds (some servers send a string). */
export const ExpiresIn = z.coerce.number().check(z.positive());
