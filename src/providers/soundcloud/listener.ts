// The loopback listener that finishes the SoundCloud authorization code flow (RFC 8252 §7.3): it
// binds exactly the redirect URI's loopback address and port, waits for one redirect carrying the
// right `state`, answers the browser with a small page and hands the code to the caller.
// The same checks apply to a redirected URL pasted on stdin (--no-browser).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { loadHttp } from '../../model/node-builtins.js';
import type { Socket } from 'node:net';
import { LoginError } from '../../base/errors.js';
import { sanitizeProviderText } from '../../base/untrusted-text.js';
import { renderCallbackPage, type CallbackPageResult } from './callback-page.js';
import { timingSafeEqualString } from './pkce.js';
import { expectedHostHeaders, type ParsedRedirectUri } from './redirect-uri.js';

export interface CallbackResult {
  /** The authorization code; a secret for its short life, never logged. */
  code: string;
}

export interface CallbackListenerOptions {
  redirect: ParsedRedirectUri;
  /** The `state` sent in the authorization URL. */
  state: string;
  /** How long to wait for the browser before `result` rejects (LoginError). */
  timeoutMs: number;
  /** Aborting rejects `result` (LoginError) and closes the listener. */
  signal?: AbortSignal;
  /** The command named in "run … again" advice; default `tokens login soundcloud`. */
  retryCommand?: string;
}

export interface CallbackListener {
  /** The redirect URI being listened on, as given (what the browser will be sent to). */
  url: string;
  /**
   * Settles once: resolves with the code of the first valid redirect (browser or paste); rejects
   * with LoginError on a provider error, a pasted URL that fails the checks, timeout, abort or close.
   * Already marked handled, so leaving it unobserved never crashes the process.
   */
  result: Promise<CallbackResult>;
  /**
   * Completes the login from the full redirected URL the user pasted (--no-browser). Settles
   * `result` either way (a bad paste rejects it); returns false when `result` was already settled.
   */
  completeFromPastedUrl(pasted: string): boolean;
  /**
   * As completeFromPastedUrl, except that a paste that is not this login's redirect (no URL,
   * another address, the wrong state) leaves `result` pending and returns why, to ask again.
   */
  offerPastedUrl(pasted: string): string | undefined;
  /** Stops listening and destroys every connection; rejects `result` if still pending. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_RETRY = 'tokens login soundcloud';
const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_CODE_LENGTH = 4096;

/** Headers on every response of the listener. */
export const CALLBACK_RESPONSE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy':
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  Connection: 'close',
};

type Outcome =
  | { kind: 'code'; code: string }
  | { kind: 'error'; error: string; description: string }
  | { kind: 'bad-state' }
  | { kind: 'empty' };

function classify(params: URLSearchParams, expectedState: string): Outcome {
  const states = params.getAll('state');
  if (states.length !== 1 || !timingSafeEqualString(states[0]!, expectedState)) return { kind: 'bad-state' };
  const errors = params.getAll('error');
  if (errors.length > 0) {
    return {
      kind: 'error',
      error: sanitizeProviderText(errors[0]!, 100) || 'unknown_error',
      description: sanitizeProviderText(params.get('error_description') ?? '', 200),
    };
  }
  const codes = params.getAll('code');
  if (codes.length === 1 && codes[0]! !== '' && codes[0]!.length <= MAX_CODE_LENGTH) {
    return { kind: 'code', code: codes[0]! };
  }
  return { kind: 'empty' };
}

function providerError(o: { error: string; description: string }, retry: string): LoginError {
  const detail = o.description ? `${o.error}: ${o.description}` : o.error;
  const message =
    o.error === 'access_denied'
      ? `the SoundCloud authorization was denied in the browser (${detail})`
      : `SoundCloud did not authorize the login (${detail})`;
  return new LoginError(message, { hint: `Run \`${retry}\` again.` });
}

function emptyError(retry: string): LoginError {
  return new LoginError('the redirect from SoundCloud carried neither an authorization code nor an error', {
    hint: `Run \`${retry}\` again.`,
  });
}

/** A pasted text that is not this login's redirect: the user may paste again. */
class NotThisRedirect extends LoginError {}

function stateMismatch(retry: string): LoginError {
  return new NotThisRedirect("state mismatch: the redirected URL doesn't belong to the login in progress", {
    hint: `Paste the URL of the latest login attempt, or run \`${retry}\` again.`,
  });
}

function effectivePort(url: URL): number {
  return url.port === '' ? 80 : Number(url.port);
}

/**
 * The authorization code from a redirected URL pasted by the user: the URL must be the redirect
 * URI (same scheme, host, port and path) and carry the expected state. Throws LoginError
 * otherwise, or when it carries the provider's error. Never echoes the pasted text (it holds the code).
 */
export function codeFromRedirectUrl(
  pasted: string,
  redirect: ParsedRedirectUri,
  state: string,
  retryCommand: string = DEFAULT_RETRY,
): string {
  const text = pasted.trim();
  const expectation = `paste the full address the browser was sent to; it starts with ${redirect.uri}`;
  if (text === '') throw new NotThisRedirect(`no redirected URL was pasted; ${expectation}`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new NotThisRedirect(`the pasted text is not a URL; ${expectation}`);
  }
  const host = redirect.hostname === '::1' ? '[::1]' : redirect.hostname;
  if (
    url.protocol !== 'http:' ||
    url.hostname !== host ||
    effectivePort(url) !== redirect.port ||
    url.pathname !== redirect.path
  ) {
    throw new NotThisRedirect(`the pasted URL is not the redirect URI; ${expectation}`);
  }
  const outcome = classify(url.searchParams, state);
  switch (outcome.kind) {
    case 'bad-state':
      throw stateMismatch(retryCommand);
    case 'error':
      throw providerError(outcome, retryCommand);
    case 'empty':
      throw emptyError(retryCommand);
    case 'code':
      return outcome.code;
  }
}

function formatSeconds(ms: number): string {
  return String(Number((ms / 1000).toFixed(3)));
}

function listenError(err: NodeJS.ErrnoException, redirect: ParsedRedirectUri): LoginError {
  const where = `port ${redirect.port} on ${redirect.bindAddress}`;
  const registered = '(it must be registered with your SoundCloud app)';
  switch (err.code) {
    case 'EADDRINUSE':
      return new LoginError(
        `${where} is in use; close the program using it or pass --redirect-uri with another port ${registered}`,
        { cause: err },
      );
    case 'EACCES':
      return new LoginError(
        `not allowed to listen on ${where}${redirect.port < 1024 ? ' (ports below 1024 need administrator rights)' : ''}; pass --redirect-uri with another port ${registered}`,
        { cause: err },
      );
    case 'EADDRNOTAVAIL':
    case 'EAFNOSUPPORT':
      return new LoginError(
        `cannot listen on ${redirect.bindAddress}: the address is not available on this machine; pass --redirect-uri with http://127.0.0.1:PORT/PATH ${registered}`,
        { cause: err },
      );
    default:
      return new LoginError(`cannot listen on ${where}: ${err.code ?? err.message}`, { cause: err });
  }
}

export async function startCallbackListener(opts: CallbackListenerOptions): Promise<CallbackListener> {
  const { redirect, state, signal } = opts;
  const retry = opts.retryCommand ?? DEFAULT_RETRY;
  const cancelled = (reason?: unknown) =>
    new LoginError('the login was cancelled', reason === undefined ? undefined : { cause: reason });
  if (signal?.aborted) throw cancelled(signal.reason);

  const expectedHosts = expectedHostHeaders(redirect);
  const sockets = new Set<Socket>();
  const busy = new Set<Socket>();

  let settled = false;
  let resolveResult!: (r: CallbackResult) => void;
  let rejectResult!: (e: Error) => void;
  const result = new Promise<CallbackResult>((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });
  result.catch(() => {});

  const server = loadHttp().createServer();
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 1_000;
  server.maxHeadersCount = 100;

  const closed = new Promise<void>((resolve) => server.once('close', () => resolve()));

  let timer: NodeJS.Timeout | undefined;
  let shuttingDown = false;
  const shutdown = () => {
    if (shuttingDown) return;
    shuttingDown = true;
    server.close();
    // Idle connections (browsers pre-connect speculatively) would keep the server, and the
    // process, alive: destroy them now. A connection still sending its page ends by itself
    // (Connection: close); the grace timer catches any that does not.
    for (const s of sockets) if (!busy.has(s)) s.destroy();
    setTimeout(() => {
      for (const s of sockets) s.destroy();
    }, 1_000).unref();
  };

  const onAbort = () => settle(cancelled(signal?.reason));

  function settle(outcome: CallbackResult | Error): boolean {
    if (settled) return false;
    settled = true;
    if (timer) clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    if (outcome instanceof Error) rejectResult(outcome);
    else resolveResult(outcome);
    shutdown();
    return true;
  }

  const send = (res: ServerResponse, status: number, page: CallbackPageResult, extra?: Record<string, string>) => {
    const html = renderCallbackPage(page);
    res.statusCode = status;
    for (const [k, v] of Object.entries(CALLBACK_RESPONSE_HEADERS)) res.setHeader(k, v);
    if (extra) for (const [k, v] of Object.entries(extra)) res.setHeader(k, v);
    res.setHeader('Content-Length', Buffer.byteLength(html));
    res.end(html);
  };

  const fail = (title: string, reason: string, nextStep: string): CallbackPageResult => ({
    ok: false,
    title,
    reason,
    nextStep,
  });
  const again = `Run \`${retry}\` again in your terminal.`;

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (settled) {
      send(
        res,
        409,
        fail(
          'This login has already finished',
          'tokens is no longer waiting for a response from SoundCloud.',
          'Return to your terminal. You can close this window.',
        ),
      );
      return;
    }
    // DNS-rebinding defence: a page of another site whose name resolves to 127.0.0.1 sends its own Host.
    const host = (req.headers.host ?? '').toLowerCase();
    if (!expectedHosts.includes(host)) {
      send(
        res,
        400,
        fail(
          'Unexpected request',
          "This request wasn't addressed to the tokens login listener.",
          'Open the login link that tokens printed in your terminal.',
        ),
      );
      return;
    }
    const target = req.url ?? '';
    let url: URL | undefined;
    if (target.startsWith('/')) {
      try {
        url = new URL(target, `http://${expectedHosts[0]}`);
      } catch {
        url = undefined;
      }
    }
    if (!url) {
      send(
        res,
        400,
        fail(
          'Bad request',
          'tokens could not read this request.',
          'Open the login link that tokens printed in your terminal.',
        ),
      );
      return;
    }
    if (url.pathname !== redirect.path) {
      send(
        res,
        404,
        fail('Not found', 'This address is not part of the SoundCloud login.', 'Return to your terminal.'),
      );
      return;
    }
    if (req.method !== 'GET') {
      send(
        res,
        405,
        fail(
          'Method not allowed',
          'The SoundCloud login only accepts the browser redirect (GET).',
          'Return to your terminal.',
        ),
        { Allow: 'GET' },
      );
      return;
    }
    const outcome = classify(url.searchParams, state);
    switch (outcome.kind) {
      case 'bad-state':
        send(
          res,
          400,
          fail(
            "This response doesn't belong to the login in progress",
            "Its state parameter is missing or doesn't match the login tokens started, so it was ignored. It may come from an earlier login attempt or from another site.",
            `Use the login link tokens printed most recently, or run \`${retry}\` again.`,
          ),
        );
        return;
      case 'error': {
        const shown = outcome.description || outcome.error;
        send(
          res,
          200,
          fail(
            outcome.error === 'access_denied' ? 'SoundCloud login was denied' : 'SoundCloud login failed',
            `SoundCloud said: ${shown} (${outcome.error})`,
            again,
          ),
        );
        settle(providerError(outcome, retry));
        return;
      }
      case 'empty':
        send(
          res,
          400,
          fail('SoundCloud login failed', 'The redirect carried neither an authorization code nor an error.', again),
        );
        settle(emptyError(retry));
        return;
      case 'code':
        send(res, 200, { ok: true });
        settle({ code: outcome.code });
        return;
    }
  };

  server.on('connection', (socket: Socket) => {
    if (shuttingDown) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      busy.delete(socket);
    });
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    busy.add(socket);
    // With Connection: close, Node ends the socket once the page is sent.
    res.once('close', () => busy.delete(socket));
    try {
      handle(req, res);
    } catch {
      if (!res.headersSent) send(res, 500, fail('Internal error', 'tokens could not handle this request.', again));
      else res.destroy();
    }
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(listenError(err, redirect));
    server.once('error', onError);
    server.listen(
      { host: redirect.bindAddress, port: redirect.port, exclusive: true, ipv6Only: redirect.bindAddress === '::1' },
      () => {
        server.off('error', onError);
        resolve();
      },
    );
  });
  server.on('error', (err: NodeJS.ErrnoException) =>
    settle(new LoginError(`the callback listener failed: ${err.code ?? err.message}`, { cause: err })),
  );

  const timeoutMs = Math.max(0, Math.min(opts.timeoutMs, MAX_TIMER_MS));
  timer = setTimeout(() => {
    settle(
      new LoginError(
        `timed out after ${formatSeconds(opts.timeoutMs)} s waiting for the browser to come back to ${redirect.uri}`,
        {
          hint: `Check that ${redirect.uri} is registered as a redirect URI of your SoundCloud app, then run \`${retry}\` again (--timeout SECONDS allows more time).`,
        },
      ),
    );
  }, timeoutMs);
  signal?.addEventListener('abort', onAbort, { once: true });

  return {
    url: redirect.uri,
    result,
    completeFromPastedUrl(pasted: string): boolean {
      if (settled) return false;
      try {
        return settle({ code: codeFromRedirectUrl(pasted, redirect, state, retry) });
      } catch (e) {
        return settle(e instanceof Error ? e : new LoginError(String(e)));
      }
    },
    offerPastedUrl(pasted: string): string | undefined {
      if (settled) return undefined;
      try {
        settle({ code: codeFromRedirectUrl(pasted, redirect, state, retry) });
      } catch (e) {
        if (e instanceof NotThisRedirect) return e.message;
        settle(e instanceof Error ? e : new LoginError(String(e)));
      }
      return undefined;
    },
    async close(): Promise<void> {
      settle(new LoginError('the login was cancelled: the callback listener was closed'));
      await closed;
    },
  };
}
