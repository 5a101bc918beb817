// The one way tokens talks to a token endpoint: a timeout on every attempt, at most three
// attempts, backoff with jitter on network errors and 5xx, 429 waited out when the wait is short,
// and never a redirect followed. Returns the final response; callers validate its body.
import { readEnv, TOKENS_HTTP_TIMEOUT } from './env.js';
import { UnavailableError } from './errors.js';
import type { Deps } from './deps.js';

export const MAX_ATTEMPTS = 3;
/** The longest 429 wait we sit out; beyond it the user is better served by exit 5. */
export const MAX_RATE_LIMIT_WAIT_MS = 30_000;
const RETRYABLE_STATUS = new Set([500, 502, 503, 504]);
/** The largest token-endpoint answer read (real ones are under 4 KB); beyond it: exit 5, read no further. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface TokenRequest {
  /** For messages: "Chartmetric". */
  providerTitle: string;
  url: string;
  method?: 'POST';
  headers: Record<string, string>;
  body: string;
  /**
   * Every secret value this request carries (client secret, refresh token, code verifier, access
   * token): whatever the provider says back is shown only with these redacted (TokenResponse.redact).
   */
  secrets: readonly string[];
}

export interface TokenResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The request's secrets, for redacting any text of this answer that is shown (untrusted-text.ts). */
  redact?: readonly string[];
}

export function httpTimeoutMs(env: Deps['env']): number {
  return readEnv(env, TOKENS_HTTP_TIMEOUT);
}

export async function sendTokenRequest(deps: Deps, request: TokenRequest): Promise<TokenResponse> {
  const timeoutMs = httpTimeoutMs(deps.env);
  const host = new URL(request.url).host;
  let lastProblem = '';
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    let response: Response;
    try {
      response = await deps.fetch(request.url, {
        method: request.method ?? 'POST',
        headers: { accept: 'application/json', ...request.headers },
        body: request.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      lastProblem = describeNetworkError(error, timeoutMs);
      deps.debug(`${request.providerTitle}: attempt ${attempt} failed: ${lastProblem}`);
      if (attempt < MAX_ATTEMPTS) await deps.sleep(backoffMs(attempt, deps.random));
      continue;
    }

    const { status } = response;
    deps.debug(`${request.providerTitle}: POST ${host} → ${status} (attempt ${attempt})`);
    if (status >= 300 && status < 400) {
      await response.body?.cancel();
      throw new UnavailableError(
        `${request.providerTitle} token endpoint answered with a redirect (${status}); tokens does not follow redirects from a token endpoint`,
        { hint: 'Check the endpoint URL (TOKENS_*_URL overrides) and any proxy in between.' },
      );
    }
    if (status === 429) {
      const waitMs = rateLimitWaitMs(response.headers, deps.now());
      await response.body?.cancel();
      lastProblem = 'rate limited (429)';
      if (waitMs === undefined || waitMs > MAX_RATE_LIMIT_WAIT_MS) {
        const when = waitMs === undefined ? '' : ` for ${Math.ceil(waitMs / 1000)} s`;
        throw new UnavailableError(`${request.providerTitle} is rate limiting token requests${when}`, {
          hint: 'Wait and try again; tokens reuses cached tokens to stay under the limit.',
        });
      }
      if (attempt < MAX_ATTEMPTS) {
        deps.debug(`${request.providerTitle}: waiting ${waitMs} ms as asked by the 429`);
        await deps.sleep(waitMs);
      }
      continue;
    }
    if (RETRYABLE_STATUS.has(status)) {
      await response.body?.cancel();
      lastProblem = `HTTP ${status}`;
      if (attempt < MAX_ATTEMPTS) await deps.sleep(backoffMs(attempt, deps.random));
      continue;
    }
    let text: string | undefined;
    try {
      text = await readCapped(response, MAX_BODY_BYTES);
    } catch (error) {
      lastProblem = describeNetworkError(error, timeoutMs);
      if (attempt < MAX_ATTEMPTS) await deps.sleep(backoffMs(attempt, deps.random));
      continue;
    }
    if (text === undefined) {
      throw new UnavailableError(`${request.providerTitle} token endpoint answered ${status} with a body over ${MAX_BODY_BYTES / 1024 / 1024} MB; not read further`);
    }
    return { status, headers: response.headers, text, redact: request.secrets };
  }
  throw new UnavailableError(
    `${request.providerTitle} token endpoint unavailable after ${MAX_ATTEMPTS} attempts (${lastProblem})`,
    { hint: 'Check your network connection and try again later.' },
  );
}

/**
 * The body as text, read as it streams in; undefined (and the stream cancelled) as soon as it
 * passes maxBytes, so an endless or huge answer costs at most that much memory.
 */
async function readCapped(response: Response, maxBytes: number): Promise<string | undefined> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    return undefined;
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Exponential backoff with full jitter: about 0.25–0.5 s, then 0.5–1 s. */
export function backoffMs(attempt: number, random: () => number): number {
  const base = 250 * 2 ** (attempt - 1);
  return Math.round(base + random() * base);
}

/**
 * How long a 429 asks us to wait, from Retry-After (seconds or an HTTP date) or
 * X-RateLimit-Reset (a Unix time in seconds; a small number is taken as seconds to wait).
 */
export function rateLimitWaitMs(headers: Headers, nowMs: number): number | undefined {
  const retryAfter = headers.get('retry-after')?.trim();
  if (retryAfter) {
    if (/^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - nowMs);
  }
  const reset = headers.get('x-ratelimit-reset')?.trim();
  if (reset && /^\d+(\.\d+)?$/.test(reset)) {
    const value = Number(reset);
    // A Unix time is in the billions; anything under a year of seconds is a delay.
    if (value < 365 * 24 * 3600) return value * 1000;
    return Math.max(0, value * 1000 - nowMs);
  }
  return undefined;
}

function describeNetworkError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError' || error.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
    const cause = (error as { cause?: { code?: string } }).cause;
    if (cause?.code) return cause.code;
  }
  return 'network error';
}
