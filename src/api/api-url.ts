// Where `tokens api` may send a provider's credentials: under the API base and nowhere else. A base
// may carry a path of its own (behind a proxy); "under" means same origin and under that path, so a
// full URL, a PATH with dot segments or a pagination link cannot lead the token anywhere else.
import { resolveEndpoints } from '../model/endpoints.js';
import { UsageError } from '../base/errors.js';
import type { Env } from '../model/paths.js';
import type { ProviderDescriptor } from '../model/model.js';

export interface ApiBase {
  /** e.g. https://proxy.example */
  origin: string;
  /** The base's own path without a trailing slash: "" or e.g. "/sc". */
  path: string;
  /** origin + path: what a PATH is appended to. */
  href: string;
}

/** The provider's API base, after its TOKENS_*_API_URL override and the loopback-only http:// check. */
export function apiBase(provider: ProviderDescriptor, env: Env): ApiBase {
  const variable = provider.endpoints.api.env;
  const url = new URL(resolveEndpoints(provider, env).api!);
  if (url.search || url.hash || url.username || url.password) {
    throw new UsageError(`${variable} must be a plain base URL (no query, fragment or user name)`);
  }
  const path = url.pathname.replace(/\/+$/, '');
  return { origin: url.origin, path, href: url.origin + path };
}

export function isUnderBase(base: ApiBase, url: URL): boolean {
  if (url.origin !== base.origin || url.username || url.password || hidesDotSegment(url.pathname)) return false;
  return base.path === '' || url.pathname === base.path || url.pathname.startsWith(`${base.path}/`);
}

/** Percent-decodings a path is read through: a proxy may decode once, a chain of them more. */
const MAX_DECODINGS = 4;

/**
 * Whether a path has a dot segment once percent-decoded. The URL parser resolves literal dot
 * segments (and %2e ones), but "/sc/..%2fchartmetric" is one segment to it and two to a proxy that
 * decodes %2F (nginx does): there it climbs out of the base. So a dot segment that only appears
 * after decoding (%2e, %2f, %5c, %25…) means the path is not under the base.
 */
export function hidesDotSegment(path: string): boolean {
  let decoded = path;
  for (let i = 0; i < MAX_DECODINGS; i++) {
    const next = decoded.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
    if (next === decoded) break;
    decoded = next;
  }
  return decoded.split(/[/\\]/).some((segment) => segment === '.' || segment === '..');
}

/** The request URL for the PATH|URL argument; a usage error when it is not under the base. */
export function resolveTarget(base: ApiBase, target: string, providerId: string): URL {
  let url: URL;
  if (target.startsWith('/')) {
    url = new URL(base.href + target);
  } else if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
    try {
      url = new URL(target);
    } catch {
      throw new UsageError(`"${target}" is not a valid URL`);
    }
  } else {
    throw new UsageError(`"${target}" is neither a PATH starting with / nor a full URL`, { hint: `Try /${target}.` });
  }
  url.hash = '';
  if (hidesDotSegment(url.pathname)) {
    throw new UsageError(
      `${describeOutside(url)} hides a dot segment in percent-encoding (%2e, %2f, %5c); a proxy that decodes it could route the ${providerId} credentials outside the API base`,
    );
  }
  if (!isUnderBase(base, url)) {
    throw new UsageError(
      `${describeOutside(url)} is not under the ${providerId} API base ${base.href}; tokens sends the ${providerId} credentials nowhere else`,
    );
  }
  return url;
}

/**
 * The URL of a next-page link, read relative to the page it came from; a path (/…) that lands
 * outside the base that way is taken as a path under the base (an API behind a proxy prefix writes
 * its own paths). `outside` names the origin and path of a link that leaves the base.
 */
export function resolveNextPage(base: ApiBase, current: URL, link: string): { url: URL } | { outside: string } {
  let url: URL;
  try {
    url = new URL(link, current);
    if (link.startsWith('/') && !link.startsWith('//') && !isUnderBase(base, url)) url = new URL(base.href + link);
  } catch {
    return { outside: 'an invalid URL' };
  }
  url.hash = '';
  return isUnderBase(base, url) ? { url } : { outside: describeOutside(url) };
}

/** The path of a URL under the base, for messages: "/users/1" (never the query, which may hold anything). */
export function pathUnderBase(base: ApiBase, url: URL): string {
  const path = isUnderBase(base, url) ? url.pathname.slice(base.path.length) : url.pathname;
  return path === '' ? '/' : path;
}

/** A URL outside the base, for a message: its origin and path, never its query or user info. */
function describeOutside(url: URL): string {
  return url.protocol === 'http:' || url.protocol === 'https:'
    ? `${url.origin}${url.pathname}`
    : `a ${url.protocol} URL`;
}
