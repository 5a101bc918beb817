// The pure rules of `tokens serve` (src/serve/server.ts): what a request may ask for and how its
// answer is rewritten. No I/O, so each rule is unit-tested in a table (test/unit/serve-rules.test.ts).
import { timingSafeEqual } from 'node:crypto';
import { hidesDotSegment, isUnderBase, resolveNextPage, type ApiBase } from '../api/api-url.js';

/** Hop-by-hop headers (RFC 9110 7.6.1): each connection's own, never copied across the server. */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];

/**
 * Request headers never passed on: the caller's own credentials, the hop-by-hop ones, and what
 * the request to the provider sets itself (host, its length, an expectation of 100-continue).
 */
const DROPPED_REQUEST_HEADERS = new Set([
  'authorization',
  'x-app-id',
  'x-api-key',
  'proxy-authorization',
  'host',
  'expect',
  'content-length',
  ...HOP_BY_HOP,
]);

/** Answer headers not copied: hop-by-hop ones, which the server's own connection sets. */
const DROPPED_ANSWER_HEADERS = new Set(HOP_BY_HOP);

/** Whether the key in a request's path is the server's: compared in constant time. */
export function keyMatches(given: string, key: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(key);
  // Lengths differ: still one comparison of equal-length buffers, so the time says nothing.
  if (a.length !== b.length) {
    timingSafeEqual(b, b);
    return false;
  }
  return timingSafeEqual(a, b);
}

/** Where the server listens, as the Host check needs it. */
export type Listening = { kind: 'tcp'; host: string; port: number } | { kind: 'socket' };

/**
 * Whether a Host header names this server: the listen address, localhost, 127.0.0.1 or [::1] with
 * its port (over a unix socket: those names with no port or port 80). Anything else may be a DNS
 * rebinding page reaching the loopback port through a name it controls.
 */
export function hostAllowed(host: string | undefined, listening: Listening): boolean {
  if (host === undefined) return false;
  const value = host.trim().toLowerCase();
  const names = ['localhost', '127.0.0.1', '[::1]'];
  if (listening.kind === 'socket') return names.some((n) => value === n || value === `${n}:80`);
  const listen = listening.host.includes(':') ? `[${listening.host}]` : listening.host;
  return [...names, listen.toLowerCase()].some((n) => value === `${n}:${listening.port}`);
}

/** What a request's path asks for, once the key is taken off. */
export type Route =
  | { kind: 'api'; provider: string; path: string; search: string }
  | { kind: 'token'; provider: string; search: string }
  | { kind: 'health' }
  | { kind: 'none' }
  | { kind: 'outside' };

/**
 * The route of a request target (origin form: /KEY/chartmetric/api/artist/1?x=y; without the key
 * over a unix socket). `none`: no key, a wrong one or an unknown route (404, nothing said);
 * `outside`: a path that would leave the provider's API base once normalised (dot segments, plain
 * or percent-encoded, %2f and %5c included: the rules of `tokens api`, api-url.ts) → 400.
 */
export function routeOf(target: string, key: string | undefined, providers: readonly string[]): Route {
  if (!target.startsWith('/')) return { kind: 'none' };
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const search = q < 0 ? '' : target.slice(q);
  let rest = path;
  if (key !== undefined) {
    const end = rest.indexOf('/', 1);
    const given = end < 0 ? rest.slice(1) : rest.slice(1, end);
    if (!keyMatches(given, key)) return { kind: 'none' };
    rest = end < 0 ? '' : rest.slice(end);
  }
  if (rest === '/health') return { kind: 'health' };
  const token = /^\/token\/([a-z]+)$/.exec(rest);
  if (token && providers.includes(token[1]!)) return { kind: 'token', provider: token[1]!, search };
  const api = /^\/([a-z]+)(\/.*)?$/.exec(rest);
  if (!api || !providers.includes(api[1]!)) return { kind: 'none' };
  const under = api[2] ?? '';
  if (hidesDotSegment(under) || under.includes('\\')) return { kind: 'outside' };
  return { kind: 'api', provider: api[1]!, path: under, search };
}

/** The provider URL a route stands for: the base, the path under it, the query as given. */
export function upstreamUrl(base: ApiBase, path: string, search: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(`${base.href}${path === '' ? '/' : path}${search}`);
  } catch {
    return undefined;
  }
  return isUnderBase(base, url) ? url : undefined;
}

/** The caller's headers to pass on: all but its credentials and the hop-by-hop ones (and any Connection names). */
export function forwardedHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || DROPPED_REQUEST_HEADERS.has(name) || named.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** Whether an answer header is copied to the caller. */
export function answerHeaderKept(name: string, connectionNames: ReadonlySet<string>): boolean {
  return !DROPPED_ANSWER_HEADERS.has(name) && !connectionNames.has(name);
}

/**
 * A link the provider gave (a Location, a next-page link), as the caller should follow it: under
 * the API base → the same path and query under the server's URL for the provider (`serverBase`,
 * e.g. http://127.0.0.1:PORT/KEY/soundcloud); anywhere else (a CDN) → undefined: passed back as is.
 * `asPage`: a path-only link that misses the base is read as a path under it (api-url.ts's rule
 * for next-page links: an API behind a proxy prefix writes its own paths).
 */
export function rewriteLink(
  base: ApiBase,
  current: URL,
  link: string,
  serverBase: string,
  { asPage = false } = {},
): string | undefined {
  let url: URL;
  if (asPage) {
    const next = resolveNextPage(base, current, link);
    if (!('url' in next)) return undefined;
    url = next.url;
  } else {
    try {
      url = new URL(link, current);
    } catch {
      return undefined;
    }
    if (!isUnderBase(base, url)) return undefined;
  }
  return `${serverBase}${url.pathname.slice(base.path.length)}${url.search}${url.hash}`;
}

/**
 * A JSON page with its next-page link (SoundCloud's top-level `next_href`, Soundcharts' `page.next`)
 * rewritten by `rewrite`; undefined when there is nothing to rewrite. The link's JSON string is
 * replaced where it stands, so the rest of the bytes stay as they came; when the provider escaped
 * it differently, the document is written out again.
 */
export function rewritePage(text: string, rewrite: (link: string) => string | undefined): string | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const record = data as Record<string, unknown>;
  const page = record.page as Record<string, unknown> | undefined;
  const holders: Array<[Record<string, unknown>, string]> = [];
  if (typeof record.next_href === 'string') holders.push([record, 'next_href']);
  if (page && typeof page === 'object' && typeof page.next === 'string') holders.push([page, 'next']);
  let out = text;
  let changed = false;
  let reserialize = false;
  for (const [holder, field] of holders) {
    const link = holder[field] as string;
    const next = rewrite(link);
    if (next === undefined) continue;
    changed = true;
    holder[field] = next;
    const quoted = JSON.stringify(link);
    if (out.split(quoted).length === 2) out = out.replace(quoted, () => JSON.stringify(next));
    else reserialize = true;
  }
  if (!changed) return undefined;
  return reserialize ? JSON.stringify(data) : out;
}
