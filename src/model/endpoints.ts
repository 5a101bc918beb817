// Endpoint URLs: the provider's documented default, or a TOKENS_*_URL override (tests, proxies).
// Plain http:// is allowed only to a loopback host, so a typo cannot send secrets in clear text.
import { UsageError } from '../base/errors.js';
import type { Env } from './paths.js';
import type { ProviderDescriptor } from './model.js';

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export function checkEndpointUrl(raw: string, variable: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${variable} is not a valid URL`);
  }
  if (url.protocol === 'https:') return url.toString();
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return url.toString();
  if (url.protocol === 'http:')
    throw new UsageError(
      `${variable}: http:// is only allowed for a loopback host (127.0.0.1, localhost, ::1); use https://`,
    );
  throw new UsageError(`${variable} must be an https:// URL`);
}

/** Every endpoint of the provider, resolved and checked. */
export function resolveEndpoints(provider: ProviderDescriptor, env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, { env: variable, default: fallback }] of Object.entries(provider.endpoints)) {
    const override = env[variable];
    out[name] = override ? checkEndpointUrl(override, variable) : fallback;
  }
  return out;
}
