// The proxy's side of the transport (src/http/node-fetch.ts), loaded only for a request that goes
// through one: a CONNECT tunnel with TLS to the origin inside it (the proxy sees only the host and
// port), and the Proxy-Authorization header from the proxy URL's user and password.
//
// Written here rather than taken from https-proxy-agent: that is an Agent (agent-base, debug) for a
// pool we do not keep, whose TLS options come from the caller; here the tunnel is twenty lines with
// certificate checks that no caller can turn off.
import { isIP } from 'node:net';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createRequire } from 'node:module';
import { loadHttp } from '../model/node-builtins.js';
import { proxyHostPort } from './proxy.js';
import { PROXY_REFUSED } from '../model/transport.js';

const require = createRequire(import.meta.url);

/** `Proxy-Authorization` for a proxy URL with a user or password, else nothing. */
export function proxyAuthorization(proxy: URL): Record<string, string> {
  if (!proxy.username && !proxy.password) return {};
  const pair = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { 'proxy-authorization': `Basic ${Buffer.from(pair).toString('base64')}` };
}

/** A TLS connection to `url`'s origin through `proxy`, its certificate verified whatever the environment says. */
export function openTunnel(url: URL, proxy: URL, signal: AbortSignal): Promise<TLSSocket> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const authority = `${url.hostname}:${url.port || '443'}`;
  return new Promise<TLSSocket>((resolve, reject) => {
    let tunnel: Socket | undefined;
    let secured: TLSSocket | undefined;
    const onAbort = () => {
      const reason = signal.reason instanceof Error ? signal.reason : new DOMException('aborted', 'AbortError');
      connect.destroy(reason);
      tunnel?.destroy(reason);
      secured?.destroy(reason);
      reject(reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const fail = (error: Error) => {
      signal.removeEventListener('abort', onAbort);
      tunnel?.destroy();
      reject(error);
    };
    const connect = loadHttp().request({
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: proxy.port,
      method: 'CONNECT',
      path: authority,
      headers: { host: authority, ...proxyAuthorization(proxy) },
    });
    connect.on('error', fail);
    connect.on('connect', (res, socket, head) => {
      tunnel = socket;
      if (res.statusCode !== 200) {
        const refused = new Error(`the proxy ${proxyHostPort(proxy)} answered CONNECT with ${res.statusCode}`);
        return fail(Object.assign(refused, { code: PROXY_REFUSED, syscall: 'connect' }));
      }
      if (head.length > 0) socket.unshift(head);
      const tls: typeof import('node:tls') = require('node:tls');
      secured = tls.connect({
        socket,
        ...(isIP(host) ? {} : { servername: host }),
        // Explicit: NODE_TLS_REJECT_UNAUTHORIZED=0 must not reach a request that carries a secret.
        rejectUnauthorized: true,
        ALPNProtocols: ['http/1.1'],
      });
      secured.once('error', fail);
      secured.once('secureConnect', () => {
        signal.removeEventListener('abort', onAbort);
        secured!.off('error', fail);
        resolve(secured!);
      });
    });
    connect.end();
  });
}
