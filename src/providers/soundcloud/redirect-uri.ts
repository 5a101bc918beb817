// The redirect URI of the SoundCloud login: a loopback address, an explicit port and a path, which
// the callback listener binds exactly (RFC 8252 §7.3, loopback interface redirection).

import { UsageError } from '../../base/errors.js';

/**
 * A fixed port rather than an ephemeral one: SoundCloud compares the redirect_uri of the
 * authorization request with the one registered for the app, character for character, and does not
 * allow a port wildcard. So the user registers this exact URI once (or another with --redirect-uri).
 */
export const DEFAULT_REDIRECT_URI = 'http://127.0.0.1:8976/callback';

export type LoopbackHostname = '127.0.0.1' | 'localhost' | '::1';

export interface ParsedRedirectUri {
  /** The host as written (lower-cased; `::1` without brackets). */
  hostname: LoopbackHostname;
  /** The address the listener binds: 127.0.0.1 for 127.0.0.1 and localhost, ::1 for [::1]. */
  bindAddress: string;
  port: number;
  /** The path requests must have, as a browser sends it (WHATWG-normalized; `/` when none given). */
  path: string;
  /** The URI exactly as given: sent verbatim as redirect_uri, since it must match the registration. */
  uri: string;
}

const HELP = `use http://127.0.0.1:PORT/PATH or http://localhost:PORT/PATH, e.g. ${DEFAULT_REDIRECT_URI}`;

function invalid(uri: string, reason: string): UsageError {
  const shown = uri.length > 200 ? `${uri.slice(0, 200)}…` : uri;
  // JSON.stringify keeps control characters of a bad value out of the terminal.
  return new UsageError(`invalid redirect URI ${JSON.stringify(shown)}: ${reason}; ${HELP}`, {
    hint: 'The redirect URI must also be registered, exactly, with your SoundCloud app.',
  });
}

export function parseRedirectUri(uri: string): ParsedRedirectUri {
  if (uri === '') throw invalid(uri, 'it is empty');
  if (/[\s\x00-\x1f\x7f]/.test(uri)) throw invalid(uri, 'it contains whitespace or control characters');

  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(uri);
  if (!m) throw invalid(uri, 'it is not an absolute http:// URL');
  const scheme = m[1]!.toLowerCase();
  const authority = m[2]!;
  const rest = m[3]!;

  if (scheme === 'https') {
    throw invalid(
      uri,
      'https cannot be used, the listener on this machine speaks plain http (loopback traffic never leaves the machine)',
    );
  }
  if (scheme !== 'http') throw invalid(uri, `the scheme must be http, not ${scheme}`);
  if (authority.includes('@')) throw invalid(uri, 'it must not contain a user name or password');

  const hp = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(authority);
  const rawHost = (hp?.[1] ?? '').toLowerCase();
  const rawPort = hp?.[2];
  let hostname: LoopbackHostname;
  let bindAddress: string;
  if (rawHost === '127.0.0.1' || rawHost === 'localhost') {
    hostname = rawHost;
    bindAddress = '127.0.0.1';
  } else if (rawHost === '[::1]') {
    hostname = '::1';
    bindAddress = '::1';
  } else {
    throw invalid(
      uri,
      'the host must be 127.0.0.1, localhost or [::1], as the listener binds only the loopback interface',
    );
  }

  if (rawPort === undefined || rawPort === '') {
    throw invalid(
      uri,
      'an explicit port is required (e.g. :8976), the listener binds it and SoundCloud must have the same URI registered',
    );
  }
  if (!/^[0-9]+$/.test(rawPort)) throw invalid(uri, 'the port must be a number');
  if (rawPort.length > 1 && rawPort.startsWith('0')) throw invalid(uri, 'the port must not have leading zeros');
  const port = Number(rawPort);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(uri, 'the port must be between 1 and 65535');

  if (rest.includes('#')) throw invalid(uri, 'it must not contain a fragment (#…)');
  if (rest.includes('?')) throw invalid(uri, 'it must not contain a query (?…), SoundCloud adds its own');

  let path: string;
  try {
    path = new URL(uri).pathname;
  } catch {
    throw invalid(uri, 'it is not a valid URL');
  }
  return { hostname, bindAddress, port, path, uri };
}

/** The Host header (and URL authority) a browser sends for this redirect: e.g. `127.0.0.1:8976`. */
export function expectedHostHeaders(redirect: ParsedRedirectUri): string[] {
  const host = redirect.hostname === '::1' ? '[::1]' : redirect.hostname;
  // A browser leaves out the default port, so http://127.0.0.1:80/… arrives as Host: 127.0.0.1.
  return redirect.port === 80 ? [`${host}:80`, host] : [`${host}:${redirect.port}`];
}
