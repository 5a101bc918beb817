// Typed errors. Each carries the exit code of the contract; src/main.ts is the one place that
// turns them into a message and a process exit code.

export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  notConfigured: 3,
  rejected: 4,
  unavailable: 5,
  store: 6,
  login: 7,
  apiStatus: 8,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export abstract class TokensError extends Error {
  abstract readonly exitCode: ExitCodeValue;
  /** What the user can do next, printed after the message. */
  readonly hint?: string;
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options?.hint;
  }
}

export class UsageError extends TokensError {
  readonly exitCode = ExitCode.usage;
}

export class NotConfiguredError extends TokensError {
  readonly exitCode = ExitCode.notConfigured;
}

/** The provider answered, and said no: 400/401/403, invalid_grant, invalid_client. */
export class CredentialsRejectedError extends TokensError {
  readonly exitCode = ExitCode.rejected;
  constructor(
    message: string,
    readonly details: OAuthErrorDetails = {},
    options?: { hint?: string },
  ) {
    super(message, options);
  }
}

/** The provider or network cannot answer usefully now: retries spent, rate limit, bad response. */
export class UnavailableError extends TokensError {
  readonly exitCode = ExitCode.unavailable;
}

export class StoreError extends TokensError {
  readonly exitCode = ExitCode.store;
}

export class LoginError extends TokensError {
  readonly exitCode = ExitCode.login;
}

/** `tokens api`: the API answered with an error status; its body is already on stdout. */
export class ApiStatusError extends TokensError {
  readonly exitCode = ExitCode.apiStatus;
}

/** The fields of an OAuth error response we surface; never the raw body. */
export interface OAuthErrorDetails {
  status?: number;
  error?: string;
  error_description?: string;
}

/** A usage error from Commander or our own checks, raised before anything is looked at. */
export function isTokensError(e: unknown): e is TokensError {
  return e instanceof TokensError;
}

/**
 * The line on stderr for any error: a typed one's message and hint; anything else is a bug, told
 * as an internal error (its stack only with --verbose).
 */
export function describeError(error: unknown, verbose: boolean): string {
  if (isTokensError(error)) return describeTokensError(error);
  const detail =
    verbose && error instanceof Error ? `\n${error.stack ?? error.message}` : ' (run with --verbose for details)';
  return `tokens: internal error${detail}\n`;
}

/** The one line on stderr for a typed error: its message, then its hint (src/main.ts; the fast path). */
export function describeTokensError(error: TokensError): string {
  const message = error.message.replace(/[.\s]+$/, '');
  return `tokens: ${visible(`${message}${error.hint ? `. ${error.hint}` : ''}`)}\n`;
}

/**
 * Control characters, line separators and bidi overrides as escapes (\u001b): a message that
 * quotes what it was given (an argument, a value) stays one line and cannot drive the terminal.
 */
function visible(text: string): string {
  return text.replace(
    /[\p{Cc}\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
