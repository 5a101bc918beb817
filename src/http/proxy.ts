// Which proxy a request goes through, read from the standard variables as curl reads them:
// https:// URLs use https_proxy/HTTPS_PROXY, http:// URLs http_proxy/HTTP_PROXY (lower case first),
// no_proxy/NO_PROXY lists the hosts reached directly, and loopback hosts are always reached directly.
// Loaded only when one of the variables is set (http.ts), so a run without a proxy pays nothing.
//
// Written here rather than taken from proxy-from-env: its rules differ from curl's where it matters
// here (it treats a missing port as the scheme's, not curl's 1080, and honours npm_config_* proxies),
// and what it would save is the forty lines below.
import { UsageError } from '../base/errors.js';
import type { Env } from '../model/paths.js';

/** curl's port for a proxy URL that names none. */
const DEFAULT_PROXY_PORT = '1080';

/** The proxy for `url`, or undefined to connect directly. A proxy variable that is not a URL is a UsageError. */
export function proxyFor(url: URL, env: Env): URL | undefined {
  const host = bareHost(url.hostname);
  if (isLoopback(host)) return undefined;
  const names = url.protocol === 'https:' ? ['https_proxy', 'HTTPS_PROXY'] : ['http_proxy', 'HTTP_PROXY'];
  const name = names.find((n) => env[n]);
  if (name === undefined) return undefined;
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  if (bypassed(host, port, env.no_proxy || env.NO_PROXY || '')) return undefined;
  return parseProxy(name, env[name]!);
}

/** "HOST:PORT" of a proxy: what a debug line may show (never its credentials). */
export function proxyHostPort(proxy: URL): string {
  return `${proxy.hostname}:${proxy.port || DEFAULT_PROXY_PORT}`;
}

function parseProxy(name: string, raw: string): URL {
  // curl takes a proxy without a scheme as http://.
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw.trim()) ? raw.trim() : `http://${raw.trim()}`;
  let proxy: URL;
  try {
    proxy = new URL(text);
  } catch {
    // The value is not echoed: it may carry the proxy's password.
    throw new UsageError(`${name} is not a proxy URL (http://[USER:PASSWORD@]HOST[:PORT])`);
  }
  if (proxy.protocol !== 'http:' || !proxy.hostname)
    throw new UsageError(`${name}: only http:// proxies are supported (https is tunnelled through them with CONNECT)`);
  if (!proxy.port) proxy.port = DEFAULT_PROXY_PORT;
  return proxy;
}

/**
 * Whether NO_PROXY sends `host` direct: a comma list of `*`, host names (a name also covers its
 * subdomains; a leading dot is ignored), IP addresses, each with an optional `:PORT`.
 */
function bypassed(host: string, port: string, noProxy: string): boolean {
  for (const raw of noProxy.split(/[,\s]+/)) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    const m = /^(\[[^\]]+\]|[^:]+|[^\]]*:[^\]]*:[^\]]*)(?::(\d+))?$/.exec(entry);
    if (!m) continue;
    const [, name, entryPort] = m;
    if (entryPort && entryPort !== port) continue;
    const pattern = bareHost(name!).replace(/^\*?\./, '');
    if (host === pattern || host.endsWith(`.${pattern}`)) return true;
  }
  return false;
}

/** 127.0.0.0/8, ::1, localhost (and names under it): never through a proxy. */
function isLoopback(host: string): boolean {
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
  );
}

/** A URL's host name in lower case without IPv6 brackets or a trailing dot. */
function bareHost(hostname: string): string {
  return hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
}
