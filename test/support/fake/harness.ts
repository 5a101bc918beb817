// What every fake server in this folder shares: an HTTP server on 127.0.0.1 that keeps the requests it
// received and the violations it saw (requests the CLI should never send), the fault kinds and their
// queue, and small helpers to parse requests and build answers.
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

export type ProviderName = 'chartmetric' | 'soundcharts' | 'soundcloud';
export const PROVIDERS: readonly ProviderName[] = ['chartmetric', 'soundcharts', 'soundcloud'];

// ───────────────────────────── faults ─────────────────────────────

/**
 * Answer with this status instead of processing. 429 with `retryAfter` sets `Retry-After`
 * (a number → seconds, a string → sent as is, a Date → HTTP date); `rateLimitReset` sets
 * `X-RateLimit-Reset` (sent as is) and `X-RateLimit-Remaining: 0`; `resetTime` gives a body in
 * SoundCloud's rate-limit form, `{"errors":[{"meta":{…,"reset_time":"2015/06/01 09:49:40 +0000"}}]}`
 * (a Date is formatted that way, a string is sent as is).
 * With `afterProcessing: true` the request is processed first (tokens issued, refresh token rotated,
 * upload stored) and the answer is then replaced by this status, like a 504 from a gateway whose
 * upstream succeeded.
 */
export interface StatusFault {
  kind?: undefined;
  status: number;
  /** Raw string body, or an object sent as JSON. A default body per status otherwise. */
  body?: string | Record<string, unknown>;
  headers?: Record<string, string>;
  retryAfter?: number | string | Date;
  rateLimitReset?: number;
  resetTime?: Date | string;
  afterProcessing?: boolean;
}
/** Accept the request and never answer. close() destroys the socket. */
export interface HangFault {
  kind: 'hang';
  afterProcessing?: boolean;
}
/** Destroy the socket (TCP RST) without answering. */
export interface ResetFault {
  kind: 'reset';
  afterProcessing?: boolean;
}
/** 200 with a body that is not JSON. Nothing is processed. The default body contains MALFORMED_MARKER. */
export interface MalformedFault {
  kind: 'malformed';
  body?: string;
}
/** Process normally; if the answer is a 200 JSON object, remove `field` from it. */
export interface MissingFault {
  kind: 'missing';
  field: string;
}
/** Answer with a redirect (default 302) to `location`. Nothing is processed. */
export interface RedirectFault {
  kind: 'redirect';
  location: string;
  status?: 301 | 302 | 303 | 307 | 308;
}
/** Wait `ms`, then process and answer normally. */
export interface DelayFault {
  kind: 'delay';
  ms: number;
}
/** Every way a fake server can misbehave; each server adds its own way of saying where a fault applies. */
export type FaultKind =
  | StatusFault
  | HangFault
  | ResetFault
  | MalformedFault
  | MissingFault
  | RedirectFault
  | DelayFault;

/** Marker contained in the default body of a 'malformed' fault: tests assert it is never printed. */
export const MALFORMED_MARKER = 'MALFORMED_SECRET_DO_NOT_PRINT';

/** True when the fault is applied after the request was processed. */
export function isAfterProcessing(f: FaultKind): boolean {
  return 'afterProcessing' in f && f.afterProcessing === true;
}

/** Faults queued for one target: each queued one used once, in order; standing ones until cleared. */
export class FaultQueue<F extends FaultKind> {
  private readonly queued: F[] = [];
  private readonly standing: F[] = [];

  add(fault: F | F[]): void {
    this.queued.push(...(Array.isArray(fault) ? fault : [fault]));
  }

  addStanding(fault: F): void {
    this.standing.push(fault);
  }

  clear(): void {
    this.queued.length = 0;
    this.standing.length = 0;
  }

  get pending(): number {
    return this.queued.length;
  }

  /** The first queued fault that `applies` (removed from the queue), else the latest standing one. */
  take(applies: (f: F) => boolean): F | undefined {
    const i = this.queued.findIndex(applies);
    if (i >= 0) return this.queued.splice(i, 1)[0];
    const standing = this.standing.filter(applies);
    return standing[standing.length - 1];
  }
}

// ───────────────────────────── answers ─────────────────────────────

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Set for JSON answers, so a 'missing' fault can drop a field. */
  json?: Record<string, unknown>;
}

export const JSON_TYPE = 'application/json; charset=utf-8';
export const JSON_HEADERS = { 'content-type': JSON_TYPE, 'cache-control': 'no-store', pragma: 'no-cache' };

export function jsonReply(status: number, json: Record<string, unknown>, headers: Record<string, string> = {}): Reply {
  return { status, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(json), json };
}

export function oauthError(
  status: number,
  error: string,
  description?: string,
  headers: Record<string, string> = {},
): Reply {
  const json: Record<string, unknown> = { error };
  if (description !== undefined) json.error_description = description;
  return jsonReply(status, json, headers);
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function htmlReply(status: number, title: string, inner: string): Reply {
  const body =
    `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>` +
    `<body><h1>${escapeHtml(title)}</h1>${inner}</body></html>`;
  return { status, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }, body };
}

export function redirectReply(location: string, status = 302): Reply {
  return { status, headers: { location, 'cache-control': 'no-store' }, body: '' };
}

/** The body a status fault gets when it names none: a gateway's HTML page for 5xx, else a small JSON error. */
export function defaultFaultBody(status: number): { body: string; type: string } {
  if (status === 429) return { body: JSON.stringify({ error: 'too_many_requests' }), type: JSON_TYPE };
  if (status === 500) return { body: JSON.stringify({ error: 'server_error' }), type: JSON_TYPE };
  if (status >= 500) {
    return {
      body: `<html><head><title>${status}</title></head><body><center><h1>${status} ${http.STATUS_CODES[status] ?? ''}</h1></center></body></html>`,
      type: 'text/html; charset=utf-8',
    };
  }
  return { body: JSON.stringify({ error: http.STATUS_CODES[status] ?? 'error' }), type: JSON_TYPE };
}

/** `yyyy/MM/dd HH:mm:ss +0000`, the form of SoundCloud's `reset_time`. */
export function soundcloudResetTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getUTCFullYear()}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`
  );
}

/** SoundCloud's documented 429 body, for the play-request limit. */
export function soundcloudRateLimitBody(resetTime: Date | string): Record<string, unknown> {
  return {
    errors: [
      {
        meta: {
          rate_limit: { group: 'plays', max_nr_of_requests: 15000, time_window: 'PT24H' },
          remaining_requests: 0,
          reset_time: typeof resetTime === 'string' ? resetTime : soundcloudResetTime(resetTime),
        },
      },
    ],
  };
}

/** The answer of a status fault; `defaultBody` chooses the body when the fault names none. */
export function statusFaultReply(
  f: StatusFault,
  defaultBody: (status: number) => { body: string; type: string } = defaultFaultBody,
): Reply {
  const headers: Record<string, string> = {};
  let body: string;
  if (f.body === undefined && f.resetTime !== undefined) {
    body = JSON.stringify(soundcloudRateLimitBody(f.resetTime));
    headers['content-type'] = JSON_TYPE;
  } else if (f.body === undefined) {
    const d = defaultBody(f.status);
    body = d.body;
    headers['content-type'] = d.type;
  } else if (typeof f.body === 'string') {
    body = f.body;
    headers['content-type'] = f.body.trimStart().startsWith('{') ? JSON_TYPE : 'text/plain; charset=utf-8';
  } else {
    body = JSON.stringify(f.body);
    headers['content-type'] = JSON_TYPE;
  }
  if (f.retryAfter !== undefined) {
    headers['retry-after'] = f.retryAfter instanceof Date ? f.retryAfter.toUTCString() : String(f.retryAfter);
  }
  if (f.rateLimitReset !== undefined) {
    headers['x-ratelimit-reset'] = String(f.rateLimitReset);
    headers['x-ratelimit-remaining'] = '0';
  }
  return { status: f.status, headers: { ...headers, ...(f.headers ?? {}) }, body };
}

// ───────────────────────────── parsing requests ─────────────────────────────

export function mediaType(value: string | undefined): string {
  return (value ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Form or query parameters: the first value of each name, and the names that came more than once. */
export function parseParams(text: string): { values: Record<string, string>; duplicates: string[] } {
  const values: Record<string, string> = {};
  const duplicates: string[] = [];
  for (const [k, v] of new URLSearchParams(text)) {
    if (Object.hasOwn(values, k)) duplicates.push(k);
    else values[k] = v;
  }
  return { values, duplicates };
}

export function formDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

export type Basic = { kind: 'none' } | { kind: 'malformed'; why: string } | { kind: 'ok'; id: string; secret: string };

export function parseBasic(header: string | undefined): Basic {
  if (header === undefined || header === '') return { kind: 'none' };
  const m = /^(\S+)\s+(\S+)\s*$/.exec(header);
  if (!m || m[1]!.toLowerCase() !== 'basic') return { kind: 'malformed', why: 'Authorization header is not Basic' };
  const b64 = m[2]!;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return { kind: 'malformed', why: 'Basic credentials are not base64' };
  const decoded = Buffer.from(b64, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return { kind: 'malformed', why: 'Basic credentials have no colon' };
  return { kind: 'ok', id: decoded.slice(0, i), secret: decoded.slice(i + 1) };
}

/** Header names lower-case; repeated headers joined with ', '. */
export function headerRecord(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return headers;
}

/** The whole body as UTF-8, refused (rejected) past `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        done = true;
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      done = true;
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (e) => {
      if (!done) reject(e);
      done = true;
    });
    req.on('close', () => {
      if (!done) reject(new Error('request closed'));
      done = true;
    });
  });
}

// ───────────────────────────── tokens ─────────────────────────────

/** `prefix` and 24 random bytes, base64url. */
export function randomToken(prefix: string): string {
  return prefix + randomBytes(24).toString('base64url');
}

export interface AccessRecord {
  /** The grant family (SoundCloud session) it belongs to, if any. */
  familyId?: string;
  expiresAt: number;
  revoked: boolean;
}

/** The access tokens one provider issued. */
export class AccessTokens {
  private readonly records = new Map<string, AccessRecord>();

  constructor(private readonly prefix: string) {}

  issue(expiresInSeconds: number, familyId?: string): string {
    const t = randomToken(this.prefix);
    this.records.set(t, { familyId, expiresAt: Date.now() + expiresInSeconds * 1000, revoked: false });
    return t;
  }

  get(t: string): AccessRecord | undefined {
    return this.records.get(t);
  }

  delete(t: string): void {
    this.records.delete(t);
  }

  all(): IterableIterator<AccessRecord> {
    return this.records.values();
  }

  /** Issued here, not revoked and not expired (a family's revocation is the caller's to check). */
  isAlive(t: string): boolean {
    const a = this.records.get(t);
    return a !== undefined && !a.revoked && a.expiresAt > Date.now();
  }
}

// ───────────────────────────── the server ─────────────────────────────

/**
 * An HTTP server on 127.0.0.1 on a free port that records requests of type R and violations. The
 * handler owns the answers; an exception in it is recorded as a violation and answered 500.
 */
export class LoopbackServer<R> {
  /** Every request received, in arrival order. */
  readonly requests: R[] = [];
  /** Requests the CLI should never have sent (and server-internal errors). Should stay empty. */
  readonly violations: string[] = [];
  url = '';
  port = 0;

  private readonly http: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private closedFlag = false;
  private closing: Promise<void> | undefined;

  constructor(handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>) {
    this.http = http.createServer((req, res) => {
      handler(req, res).catch((err: unknown) => {
        this.violations.push(
          `internal server error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
        );
        if (!res.headersSent && !res.destroyed) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('internal test-server error');
        }
      });
    });
    this.http.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(0, '127.0.0.1', () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const addr = this.http.address();
    if (addr === null || typeof addr === 'string') throw new Error('unexpected server address');
    this.port = addr.port;
    this.url = `http://127.0.0.1:${addr.port}`;
  }

  /** Waits `ms`; close() ends the wait early. */
  sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.closedFlag) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.timers.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.timers.add(entry);
    });
  }

  /** Sends the reply (unless closed or already answered) and notes its status and time in `rec`. */
  send(rec: { status?: number; finishedAt?: number }, res: ServerResponse, reply: Reply): void {
    if (this.closedFlag || res.destroyed || res.writableEnded) return;
    rec.status = reply.status;
    rec.finishedAt = Date.now();
    res.writeHead(reply.status, { ...reply.headers, 'content-length': String(Buffer.byteLength(reply.body)) });
    res.end(reply.body);
  }

  /** Destroys the connection with a TCP RST. */
  reset(res: ServerResponse): void {
    const s = res.socket as Socket | null;
    if (!s) return;
    if (typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
    else s.destroy();
  }

  /** Stop listening and destroy every socket, hung ones included. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closedFlag = true;
    for (const t of this.timers) {
      clearTimeout(t.timer);
      t.resolve();
    }
    this.timers.clear();
    this.closing = new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      for (const s of this.sockets) s.destroy();
      this.http.closeAllConnections();
    });
    return this.closing;
  }
}

/**
 * What a fault does before the request is processed, the same in every fake server: true when it
 * answered the request (or left it hanging), false when the handler goes on to process it (after a
 * delay; 'missing' and after-processing faults change the answer instead). `bodies` are the
 * server's own: a status fault's default body, a malformed answer's.
 */
export async function faultBeforeProcessing(
  server: LoopbackServer<unknown>,
  rec: { status?: number; finishedAt?: number },
  res: ServerResponse,
  fault: FaultKind | undefined,
  bodies: { status?: (status: number) => { body: string; type: string }; malformed: () => string },
): Promise<boolean> {
  if (!fault || isAfterProcessing(fault)) return false;
  switch (fault.kind) {
    case undefined:
      server.send(rec, res, statusFaultReply(fault, bodies.status));
      return true;
    case 'hang':
      return true;
    case 'reset':
      server.reset(res);
      return true;
    case 'malformed':
      server.send(rec, res, {
        status: 200,
        headers: { 'content-type': JSON_TYPE },
        body: fault.body ?? bodies.malformed(),
      });
      return true;
    case 'redirect':
      server.send(rec, res, redirectReply(fault.location, fault.status ?? 302));
      return true;
    case 'delay':
      await server.sleep(fault.ms);
      return server.closed;
    case 'missing':
      return false;
  }
}
