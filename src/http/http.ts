// The one way tokens talks HTTP, to token endpoints and to the providers' APIs alike: a timeout on
// every attempt (token requests: on the whole attempt, body included; API calls: for the answer's
// head, then for each wait on its body), the proxy the standard variables name, at most three attempts
// with backoff and jitter on network errors and 500/502/503/504 where repeating is safe, 429 waited
// out when the provider says for how long and that is short enough, redirects followed only where
// allowed, credentials that never follow a redirect off where they belong (tokens api: the API base)
// and the caller's own headers never off the request's origin. A token request that spends a
// single-use secret (a refresh token, a code) is repeated only where the server cannot have
// processed it: it may have, after a timeout, a reset or a 504.
//
// Hand-written rather than a client library: the policy above is the part that matters and no
// library has it whole (got/ky retry what they are told and forward custom credential headers such
// as x-api-key across origins). It speaks a subset of the fetch interface (Runtime.fetch,
// src/model/transport.ts), which the real program carries over node:http (src/http/node-fetch.ts)
// and unit tests script.
import { DEFAULT_MAX_WAIT_SECONDS, PROXY_VARIABLES, readEnv, TOKENS_HTTP_TIMEOUT } from '../model/env.js';
import { UnavailableError } from '../base/errors.js';
import { sanitizeProviderText } from '../base/untrusted-text.js';
import type { RequestBody } from './request-body.js';
import type { Runtime } from '../model/runtime.js';
import { PROXY_REFUSED, type TransportHeaders, type TransportResponse } from '../model/transport.js';

export const MAX_ATTEMPTS = 3;
/** The longest 429 wait a token request sits out; beyond it the user is better served by exit 5. */
export const MAX_RATE_LIMIT_WAIT_MS = DEFAULT_MAX_WAIT_SECONDS * 1000;
export const MAX_REDIRECTS = 5;
/** The largest token-endpoint answer read (real ones are under 4 KB); beyond it: exit 5, read no further. */
export const MAX_BODY_BYTES = 1024 * 1024;
const RETRYABLE_STATUS = new Set([500, 502, 503, 504]);
/**
 * The one retryable status that says the request was not served: SoundCloud's guide has 503 as
 * "temporarily unavailable. Implement retry logic with backoff", but of 504 "The request may still
 * have been processed; verify resource state before retrying".
 */
const NOT_SERVED_STATUS = 503;
/** Error codes of a connection that was never made: the server cannot have seen the request. */
const NOT_CONNECTED_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  PROXY_REFUSED,
]);
/** The calls those codes come from before a connection exists (a read or a write comes after one). */
const BEFORE_CONNECTING_SYSCALLS = new Set(['connect', 'getaddrinfo']);
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);
/** Methods whose repetition does no harm: retried after a network error or a 5xx. */
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
/** The most of a server's status text (untrusted: cleaned, untrusted-text.ts) a debug line shows. */
const STATUS_TEXT_LIMIT = 60;
/** A 429 body is read for SoundCloud's reset_time; no more than this of it. */
const RATE_LIMIT_BODY_LIMIT = 64 * 1024;

export function httpTimeoutMs(env: Runtime['env']): number {
  return readEnv(env, TOKENS_HTTP_TIMEOUT);
}

// --- the exchange -----------------------------------------------------------------------------

export interface Exchange {
  method: string;
  url: URL;
  /**
   * The caller's headers (tokens api: -H): sent while the request stays on the origin of `url`, and
   * dropped for good once a redirect leaves it, as curl does since CVE-2022-27776 (a Cookie or
   * Proxy-Authorization given for the API is not the CDN's to see).
   */
  headers: Record<string, string>;
  /** Sent only where `credentialsGoTo` allows; dropped for good once a redirect leads elsewhere. */
  credentials?: ReadonlyArray<readonly [string, string]>;
  /** Where the credentials may go (tokens api: under the API base, api-url.ts). */
  credentialsGoTo?: (url: URL) => boolean;
  body?: RequestBody;
  /** Whether network errors and 500/502/503/504 are retried (token requests: always). */
  retry: boolean;
  /**
   * Set when the request spends a single-use secret: then `retry` applies only where the server
   * cannot have processed it (no connection made, 503); anything else is exit 5 saying why.
   */
  spends?: SingleUseSecret;
  /** 'follow' (at most MAX_REDIRECTS), 'return' (the 3xx is the answer) or 'refuse' (exit 5). */
  redirects: 'follow' | 'return' | 'refuse';
  maxRateLimitWaitMs: number;
  /** Names what failed in messages: "Chartmetric token endpoint", "soundcloud (GET /me)". */
  what: string;
  /** A short name for debug lines: "Chartmetric", "soundcloud". */
  label: string;
  /** How to describe the rate limit in a message: "token requests" → "rate limiting token requests". */
  rateLimitNoun: string;
  /** Debug lines name the full URL (tokens api --verbose) or only the host (token endpoints). */
  verboseUrls: boolean;
  /** Run before each sending of the request, retries and redirects included; may throw to stop it. */
  beforeSend?: () => Promise<void>;
  /**
   * The timeout bounds the whole attempt, body included, rather than each wait for the network.
   * Set for token requests: their answers are a few KB, and one that trickles a byte at a time
   * would otherwise hold the lock, and every `get` waiting on it, for ever. Not for API calls: a
   * large download may rightly take minutes, and a wait bound still ends a connection gone quiet.
   */
  wholeAttemptTimeout?: boolean;
  /**
   * The last answer of a status the policy gives up on (a 429 not waited out, a 500/502/503/504
   * not repeated) is returned rather than turned into an error: `tokens serve` passes it back as it came.
   */
  passBack?: boolean;
}

export interface Answer {
  status: number;
  /** The server's reason phrase, cleaned for a terminal line (untrusted-text.ts). */
  statusText: string;
  headers: TransportHeaders;
  /** Where the answer came from, after redirects. */
  url: URL;
  /** Whether the request that got this answer carried the credentials. */
  credentialsSent: boolean;
  /** The body, chunk by chunk, each wait for the network bounded by the timeout. */
  chunks(): AsyncIterable<Uint8Array>;
  /** The whole body as text, or undefined when it is longer than `limit` bytes. */
  text(limit: number): Promise<string | undefined>;
  /** Drops the body unread. */
  discard(): Promise<void>;
}

/** Whether a request may be repeated after a network error or a 5xx (token requests are always). */
export function retryableRequest(method: string, body: RequestBody | undefined): boolean {
  return IDEMPOTENT_METHODS.has(method) && (body?.replayable ?? true);
}

export async function exchange(deps: Runtime, request: Exchange): Promise<Answer> {
  const timeoutMs = httpTimeoutMs(deps.env);
  let { url, method, body } = request;
  let credentialsOn = true;
  let headersOn = true;
  let redirects = 0;
  let bodySent = false;
  let lastProblem = '';
  const mayRepeat = () => !bodySent || (body?.replayable ?? true);
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const withCredentials =
      credentialsOn && request.credentials !== undefined && request.credentialsGoTo?.(url) === true;
    const headers: Record<string, string> = headersOn ? { ...request.headers } : {};
    if (withCredentials) for (const [name, value] of request.credentials!) headers[name] = value;
    if (body?.length !== undefined) headers['content-length'] = String(body.length);
    // Past a redirect the query is the redirecting server's: a signed CDN link carries its signature there.
    const where = request.verboseUrls
      ? `${method} ${redactUrl(url, { everyValue: redirects > 0 })}`
      : `${method} ${url.host}`;
    const proxy = await proxyFor(url, deps.env);
    await request.beforeSend?.();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new TimeoutMarker()), timeoutMs);
    const endAttempt = () => clearTimeout(timer);
    let response: TransportResponse;
    try {
      // An upload that makes progress is not a timeout: each chunk taken restarts the clock.
      const payload =
        body === undefined
          ? undefined
          : refreshing(body.open(), () => (request.wholeAttemptTimeout ? undefined : timer.refresh()));
      bodySent = body !== undefined;
      if (proxy) deps.debug(`${request.label}: ${where} through the proxy ${proxy.shown}`);
      response = await deps.fetch(url, {
        method,
        headers,
        ...(payload === undefined ? {} : { body: payload, duplex: 'half' }),
        redirect: 'manual',
        signal: controller.signal,
        ...(proxy ? { proxy: proxy.url } : {}),
      });
    } catch (error) {
      endAttempt();
      lastProblem = describeNetworkError(error, timeoutMs);
      deps.debug(`${request.label}: ${where} (attempt ${attempt}) failed: ${lastProblem}`);
      // Refused in the TLS handshake, before a byte of the request: nothing spent, and a repeat would fail alike.
      if (untrustedCertificate(error))
        throw new UnavailableError(`${request.what}'s certificate is not trusted (${lastProblem})`, {
          hint: 'tokens always verifies certificates, whatever NODE_TLS_REJECT_UNAUTHORIZED says; to trust a private CA, give its certificate in NODE_EXTRA_CA_CERTS.',
        });
      if (request.spends && !neverConnected(error)) throw notRepeated(request, lastProblem, request.spends);
      if (request.retry && mayRepeat() && attempt < MAX_ATTEMPTS) {
        await deps.sleep(backoffMs(attempt, deps.random));
        continue;
      }
      throw new UnavailableError(`${request.what} ${failedAfter(attempt, request.retry, method)} (${lastProblem})`, {
        hint: 'Check your network connection and try again later.',
      });
    }
    if (!request.wholeAttemptTimeout) endAttempt();
    const { status } = response;
    const statusText = sanitizeProviderText(response.statusText, STATUS_TEXT_LIMIT);
    deps.debug(`${request.label}: ${where} → ${status}${statusText ? ` ${statusText}` : ''} (attempt ${attempt})`);
    const answer = makeAnswer(
      response,
      statusText,
      url,
      withCredentials,
      controller,
      timeoutMs,
      request.what,
      endAttempt,
    );

    if (REDIRECT_STATUS.has(status)) {
      if (request.redirects === 'refuse') {
        await answer.discard();
        throw new UnavailableError(
          `${request.what} answered with a redirect (${status}); tokens does not follow redirects from a token endpoint`,
          {
            hint: 'Check the endpoint URL (TOKENS_*_URL overrides) and any proxy in between.',
          },
        );
      }
      const location = response.headers.get('location');
      if (request.redirects === 'return' || !location) return answer;
      await answer.discard();
      if (++redirects > MAX_REDIRECTS)
        throw new UnavailableError(`${request.what} redirected more than ${MAX_REDIRECTS} times`);
      const next = followable(location, url);
      if (!next)
        throw new UnavailableError(
          `${request.what} redirected to a location tokens does not follow (only https://, or http:// to a loopback host)`,
        );
      if (credentialsOn && request.credentials && !request.credentialsGoTo?.(next)) {
        credentialsOn = false;
        deps.debug(`${request.label}: the redirect leads outside where the credentials go; they stay behind`);
      }
      if (headersOn && next.origin !== request.url.origin) {
        headersOn = false;
        if (Object.keys(request.headers).length > 0)
          deps.debug(`${request.label}: the redirect leaves ${request.url.origin}; the request's headers stay behind`);
      }
      if (status === 303 && method !== 'HEAD') method = 'GET';
      if (method === 'GET' || method === 'HEAD') body = undefined;
      url = next;
      attempt = 0; // a new location gets its own attempts
      continue;
    }

    if (status === 429) {
      const held = await heldBody(answer, RATE_LIMIT_BODY_LIMIT);
      const waitMs = rateLimitWaitMs(response.headers, deps.now(), held?.toString('utf8'));
      lastProblem = 'rate limited (429)';
      const passBack = () => answerWithBody(answer, held ?? Buffer.alloc(0));
      if (request.passBack && (waitMs === undefined || waitMs > request.maxRateLimitWaitMs || !mayRepeat()))
        return passBack();
      if (request.passBack && attempt >= MAX_ATTEMPTS) return passBack();
      if (waitMs === undefined || waitMs > request.maxRateLimitWaitMs) {
        throw new UnavailableError(
          `${request.label} is rate limiting ${request.rateLimitNoun}${describeReset(waitMs, deps.now(), request.maxRateLimitWaitMs)}`,
          {
            hint: 'Wait and try again; tokens reuses cached tokens to stay under the limit.',
          },
        );
      }
      if (!mayRepeat())
        throw new UnavailableError(
          `${request.label} is rate limiting ${request.rateLimitNoun}; the body read from stdin was sent once and cannot be sent again`,
        );
      if (attempt < MAX_ATTEMPTS) {
        deps.debug(`${request.label}: waiting ${waitMs} ms as asked by the 429`);
        await deps.sleep(waitMs);
      }
      continue;
    }

    if (RETRYABLE_STATUS.has(status)) {
      if (request.passBack && !(request.retry && mayRepeat() && attempt < MAX_ATTEMPTS)) return answer;
      await answer.discard();
      lastProblem = `HTTP ${status}`;
      if (request.spends && status !== NOT_SERVED_STATUS) throw notRepeated(request, lastProblem, request.spends);
      if (request.retry && mayRepeat() && attempt < MAX_ATTEMPTS) {
        await deps.sleep(backoffMs(attempt, deps.random));
        continue;
      }
      throw new UnavailableError(`${request.what} ${failedAfter(attempt, request.retry, method)} (${lastProblem})`, {
        hint: 'Try again later.',
      });
    }
    return answer;
  }
  throw new UnavailableError(`${request.what} unavailable after ${MAX_ATTEMPTS} attempts (${lastProblem})`, {
    hint: 'Check your network connection and try again later.',
  });
}

/** The proxy for `url` per the standard variables, and how a debug line shows it; its rules are loaded only when one is set. */
async function proxyFor(url: URL, env: Runtime['env']): Promise<{ url: URL; shown: string } | undefined> {
  if (!PROXY_VARIABLES.some((name) => env[name])) return undefined;
  const rules = await import('./proxy.js');
  const proxy = rules.proxyFor(url, env);
  return proxy && { url: proxy, shown: rules.proxyHostPort(proxy) };
}

/** Exit 5 for a request that spends a single-use secret and may have been processed: never sent again. */
function notRepeated(
  request: Pick<Exchange, 'what' | 'label'>,
  problem: string,
  spends: SingleUseSecret,
): UnavailableError {
  return new UnavailableError(
    `${request.what} unavailable (${problem}); the request was sent once, not repeated, because it spends a single-use ${spends.secret} that ${request.label} may have accepted`,
    { hint: spends.hint },
  );
}

/**
 * Whether a fetch error says no connection was made, by its code: on the error itself (node-fetch.ts,
 * from node:http) or on its cause (Node's fetch). A code raised by a read or write came after connecting.
 */
function neverConnected(error: unknown): boolean {
  const { code, syscall } = networkErrorCode(error);
  return code !== undefined && NOT_CONNECTED_CODES.has(code) && (!syscall || BEFORE_CONNECTING_SYSCALLS.has(syscall));
}

/** Node's codes for a server certificate that did not verify (expired, self-signed, wrong name, unknown CA). */
const UNTRUSTED_CERTIFICATE_CODE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/;

function untrustedCertificate(error: unknown): boolean {
  const { code } = networkErrorCode(error);
  return code !== undefined && UNTRUSTED_CERTIFICATE_CODE.test(code);
}

function failedAfter(attempt: number, retry: boolean, method: string): string {
  if (attempt > 1) return `unavailable after ${attempt} attempts`;
  return retry ? 'unavailable' : `unavailable (sent once: ${method} is not repeated)`;
}

/** A redirect target tokens follows: https, or http to a loopback host (tests). */
function followable(location: string, from: URL): URL | undefined {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    return undefined;
  }
  if (next.username || next.password) return undefined;
  if (next.protocol === 'https:') return next;
  const host = next.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (next.protocol === 'http:' && (host === 'localhost' || host === '::1' || /^127\./.test(host))) return next;
  return undefined;
}

function refreshing(
  payload: AsyncIterable<Uint8Array> | Uint8Array,
  onChunk: () => void,
): AsyncIterable<Uint8Array> | Uint8Array {
  if (payload instanceof Uint8Array) return payload;
  return (async function* () {
    for await (const chunk of payload) {
      onChunk();
      yield chunk;
    }
  })();
}

class TimeoutMarker extends Error {
  override name = 'TimeoutError';
}

/** An answer whose body broke off; `problem` says how ("ECONNRESET", "no answer within 15 s"). */
class BrokenOffError extends UnavailableError {
  constructor(
    what: string,
    readonly problem: string,
  ) {
    super(`${what}: the answer broke off (${problem})`);
  }
}

function makeAnswer(
  response: TransportResponse,
  statusText: string,
  url: URL,
  credentialsSent: boolean,
  controller: AbortController,
  timeoutMs: number,
  what: string,
  /** Stops the attempt's clock (a whole-attempt timeout runs until the body is read or dropped). */
  endAttempt: () => void,
): Answer {
  let used = false;
  const take = () => {
    if (used) throw new Error('internal error: an answer body read twice');
    used = true;
  };
  /**
   * The body, chunk by chunk. An iterator written out rather than an async generator: under
   * `tokens serve`, a generator here kept about a tenth of each request's objects alive past a young
   * collection, so every request was promoted to the old generation (measured: V8 kept 11% of new
   * space at each scavenge, against 0.4% with this iterator, and the old generation grew by ~60 MB
   * over 5,000 requests). It does what the generator did: nothing until the first next(), then
   * the per-read clock, and once the body ends, breaks off or is left (return()), the attempt's
   * clock stopped, the reader released and the stream cancelled.
   */
  function chunks(): AsyncIterable<Uint8Array> {
    let state: 'new' | 'reading' | 'over' = 'new';
    let reader: ReturnType<NonNullable<TransportResponse['body']>['getReader']> | undefined;
    const over = { done: true, value: undefined } as const;
    const finish = async () => {
      state = 'over';
      endAttempt();
      if (!reader) return;
      reader.releaseLock();
      if (!controller.signal.aborted) await response.body?.cancel().catch(() => undefined);
    };
    const iterator: AsyncIterator<Uint8Array, undefined> = {
      async next() {
        if (state === 'over') return over;
        if (state === 'new') {
          take();
          state = 'reading';
          if (!response.body) {
            state = 'over';
            endAttempt();
            return over;
          }
          reader = response.body.getReader();
        }
        // The clock runs only while we wait for the network, not while the reader (stdout) is slow.
        const timer = setTimeout(() => controller.abort(new TimeoutMarker()), timeoutMs);
        let next: Awaited<ReturnType<NonNullable<typeof reader>['read']>>;
        try {
          next = await reader!.read();
        } catch (error) {
          clearTimeout(timer);
          const broken = new BrokenOffError(what, describeNetworkError(error, timeoutMs));
          await finish();
          throw broken;
        }
        clearTimeout(timer);
        if (next.done) {
          await finish();
          return over;
        }
        return { done: false, value: next.value };
      },
      async return() {
        if (state === 'reading') await finish();
        state = 'over';
        return over;
      },
    };
    return { [Symbol.asyncIterator]: () => iterator };
  }
  return {
    status: response.status,
    statusText,
    headers: response.headers,
    url,
    credentialsSent,
    chunks,
    /** Read as it streams in, and given up (the stream cancelled) as soon as it passes `limit`. */
    async text(limit) {
      const declared = Number(response.headers.get('content-length'));
      if (Number.isFinite(declared) && declared > limit) {
        await this.discard();
        return undefined;
      }
      const parts: Buffer[] = [];
      let size = 0;
      for await (const chunk of chunks()) {
        size += chunk.length;
        if (size > limit) return undefined;
        parts.push(Buffer.from(chunk));
      }
      return Buffer.concat(parts).toString('utf8');
    },
    async discard() {
      if (used) return;
      used = true;
      endAttempt();
      await response.body?.cancel().catch(() => undefined);
    },
  };
}

/** The body's bytes, or undefined (the rest dropped) when it is longer than `limit`. */
async function heldBody(answer: Answer, limit: number): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of answer.chunks()) {
    size += chunk.length;
    if (size > limit) return undefined;
    parts.push(Buffer.from(chunk));
  }
  return Buffer.concat(parts);
}

/** An answer whose body was read already, served again from the bytes held. */
function answerWithBody(answer: Answer, bytes: Buffer): Answer {
  return {
    ...answer,
    async *chunks() {
      if (bytes.length > 0) yield bytes;
    },
    text: async (limit) => (bytes.length > limit ? undefined : bytes.toString('utf8')),
    discard: async () => undefined,
  };
}

// --- token endpoints ----------------------------------------------------------------------------

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
  /** The single-use secret the request spends, if it does (grants.ts: the refresh and code grants). */
  spends?: SingleUseSecret;
}

/** A secret the server accepts once: a request that carries it is not repeated once it may have arrived. */
export interface SingleUseSecret {
  /** Named in the message: "refresh token", "authorization code". Never the value. */
  secret: string;
  /** What to do next, e.g. "If the next call says to log in again, run `tokens login soundcloud`." */
  hint: string;
}

export interface TokenResponse {
  status: number;
  headers: TransportHeaders;
  text: string;
  /** The request's secrets, for redacting any text of this answer that is shown (untrusted-text.ts). */
  redact?: readonly string[];
}

/**
 * A token request, never redirected: retried like an idempotent one (a token exchange is), unless
 * it spends a single-use secret (`spends`), which goes again only where it cannot have been processed.
 */
export async function sendTokenRequest(deps: Runtime, request: TokenRequest): Promise<TokenResponse> {
  const bytes = Buffer.from(request.body);
  // A repeat is a new sending: it goes only if the caller (the broker: its lock) still says so.
  let sent = false;
  const beforeSend = async () => {
    if (sent) await deps.beforeResend?.();
    sent = true;
  };
  for (let attempt = 1; ; attempt++) {
    const answer = await exchange(deps, {
      method: request.method ?? 'POST',
      url: new URL(request.url),
      headers: { accept: 'application/json', ...request.headers },
      body: { open: () => bytes, replayable: true },
      retry: true,
      spends: request.spends,
      redirects: 'refuse',
      maxRateLimitWaitMs: MAX_RATE_LIMIT_WAIT_MS,
      what: `${request.providerTitle} token endpoint`,
      label: request.providerTitle,
      rateLimitNoun: 'token requests',
      verboseUrls: false,
      beforeSend,
      wholeAttemptTimeout: true,
    });
    let text: string | undefined;
    try {
      text = await answer.text(MAX_BODY_BYTES);
    } catch (error) {
      // A body that broke off: the exchange as a whole is retried, like a network error; unless it
      // spent a single-use secret: the server answered, so it has processed the request.
      if (request.spends) {
        const problem = error instanceof BrokenOffError ? error.problem : 'network error';
        throw notRepeated(
          { what: `${request.providerTitle} token endpoint`, label: request.providerTitle },
          `the answer to HTTP ${answer.status} broke off: ${problem}`,
          request.spends,
        );
      }
      if (attempt >= MAX_ATTEMPTS) throw error;
      await deps.sleep(backoffMs(attempt, deps.random));
      continue;
    }
    if (text === undefined) {
      throw new UnavailableError(
        `${request.providerTitle} token endpoint answered ${answer.status} with a body over ${MAX_BODY_BYTES / 1024 / 1024} MB; not read further`,
      );
    }
    return { status: answer.status, headers: answer.headers, text, redact: request.secrets };
  }
}

// --- policy pieces ------------------------------------------------------------------------------

/** Exponential backoff with full jitter: about 0.25–0.5 s, then 0.5–1 s. */
export function backoffMs(attempt: number, random: () => number): number {
  const base = 250 * 2 ** (attempt - 1);
  return Math.round(base + random() * base);
}

/**
 * How long a 429 asks us to wait, from Retry-After (seconds or an HTTP date), X-RateLimit-Reset
 * (a Unix time in seconds; a small number is taken as seconds to wait), or the body's `reset_time`
 * (SoundCloud: `{"errors":[{"meta":{"reset_time":"2015/06/01 09:49:40 +0000", …}}]}`).
 */
export function rateLimitWaitMs(headers: TransportHeaders, nowMs: number, body?: string): number | undefined {
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
  const resetTime = body === undefined ? undefined : findResetTime(body);
  if (resetTime !== undefined) return Math.max(0, resetTime - nowMs);
  return undefined;
}

/** SoundCloud's reset_time, wherever the JSON body carries it, as milliseconds since the epoch. */
export function findResetTime(body: string): number | undefined {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    return undefined;
  }
  const seen: unknown[] = [data];
  for (let i = 0; i < seen.length && i < 1000; i++) {
    const node = seen[i];
    if (typeof node !== 'object' || node === null) continue;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'reset_time' && typeof value === 'string') {
        const time = parseResetTime(value);
        if (time !== undefined) return time;
      } else if (key === 'reset_time' && typeof value === 'number' && Number.isFinite(value)) {
        return value > 1e12 ? value : value * 1000;
      } else if (typeof value === 'object') seen.push(value);
    }
  }
  return undefined;
}

/** "2015/06/01 09:49:40 +0000" (SoundCloud's form), or any ISO 8601 time. */
function parseResetTime(text: string): number | undefined {
  const m = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2}):?(\d{2})$/.exec(text.trim());
  if (m) {
    const [, y, mo, d, h, mi, s, sign, oh, om] = m;
    const offsetMs = (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000;
    return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) - offsetMs;
  }
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text)) return undefined;
  const time = Date.parse(text);
  return Number.isNaN(time) ? undefined : time;
}

/**
 * Waits longer than this are described as such, without a reset time: a server may ask for any
 * number of seconds (even more than a Date can hold, or Infinity once parsed), and no such date helps.
 */
const LONGEST_DESCRIBED_WAIT_MS = 366 * 24 * 3600 * 1000;

/** " for 120 s (the limit resets at 2026-12-01T20:30:00Z; tokens waits at most 30 s)". */
function describeReset(waitMs: number | undefined, nowMs: number, capMs: number): string {
  if (waitMs === undefined) return ' and did not say when the limit resets';
  const cap = `tokens waits at most ${Math.round(capMs / 1000)} s`;
  if (!(waitMs <= LONGEST_DESCRIBED_WAIT_MS)) return ` for more than a year (${cap})`;
  const seconds = Math.ceil(waitMs / 1000);
  const at = new Date(nowMs + waitMs).toISOString().replace(/\.\d+Z$/, 'Z');
  return ` for ${seconds} s (the limit resets at ${at}; ${cap})`;
}

function describeNetworkError(error: unknown, timeoutMs: number): string {
  if (error instanceof UnavailableError) return error.message;
  if (error instanceof Error) {
    if (error.name === 'TimeoutError' || error.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
    const { code } = networkErrorCode(error);
    if (code === PROXY_REFUSED) return error.message;
    if (code) return code;
  }
  return 'network error';
}

/** The system error code of a fetch error and the call that raised it: Node's fetch puts them on `cause`. */
function networkErrorCode(error: unknown): { code?: string; syscall?: string } {
  if (!(error instanceof Error)) return {};
  const cause = (error as { cause?: { code?: unknown; syscall?: unknown } }).cause;
  const source = typeof cause?.code === 'string' ? cause : (error as { code?: unknown; syscall?: unknown });
  return {
    ...(typeof source.code === 'string' ? { code: source.code } : {}),
    ...(typeof source.syscall === 'string' ? { syscall: source.syscall } : {}),
  };
}

/** Query values whose names say they are secrets, masked for debug lines. */
const SECRET_QUERY =
  /^(access_token|oauth_token|token|client_secret|refresh_token|api_key|apikey|key|code|password|secret)$/i;

/** A URL for a debug line: no user info, secret-looking query values (or, with `everyValue`, all of them) masked. */
export function redactUrl(url: URL, { everyValue = false } = {}): string {
  const copy = new URL(url);
  copy.username = '';
  copy.password = '';
  for (const name of [...copy.searchParams.keys()])
    if (everyValue || SECRET_QUERY.test(name)) copy.searchParams.set(name, '[redacted]');
  return copy.toString().replace(/%5Bredacted%5D/g, '[redacted]');
}
