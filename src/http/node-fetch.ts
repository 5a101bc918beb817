// The transport under src/http/http.ts in the real program (src/model/transport.ts), carried by
// node:http and node:https. Node's built-in fetch (undici) compiles its WASM HTTP parser in every
// process that calls it: about 0.3 s of CPU and 40 MB of memory per `tokens` run (measured: a
// loopback GET costs 0.42 s CPU and 84 MB with fetch, 0.15 s and 44 MB with node:http), which a
// command called in loops cannot afford; and even fetch's Response and Headers classes load all of
// undici's JavaScript (~17 ms), so the answer here is made of small classes of our own. Only what
// http.ts asks of fetch is here: no redirects (it follows them itself), no cookies, no caching;
// the request body is bytes or an async iterable, sent with backpressure; the response body is
// pulled chunk by chunk, so a large download never sits in memory; `signal` aborts the request or
// the body being read. Certificates are always verified (rejectUnauthorized: true, whatever
// NODE_TLS_REJECT_UNAUTHORIZED says; NODE_EXTRA_CA_CERTS adds CAs), and a request with `proxy` goes
// through it (src/http/proxy-tunnel.ts, loaded only then).
import type { ClientRequest, IncomingMessage } from 'node:http';
import { loadHttp, loadHttps } from '../model/node-builtins.js';
import type { TransportBody, TransportHeaders, TransportInit, TransportResponse } from '../model/transport.js';

/** Statuses whose answer may not carry a body. */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

export async function nodeFetch(url: URL, init: TransportInit): Promise<TransportResponse> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TypeError(`unsupported protocol ${url.protocol}`);
  const { signal, body } = init;
  signal.throwIfAborted();
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(init.headers)) headers[name.toLowerCase()] = value;
  if (body instanceof Uint8Array) headers['content-length'] ??= String(body.byteLength);

  const tunnel =
    init.proxy && url.protocol === 'https:'
      ? await (await import('./proxy-tunnel.js')).openTunnel(url, init.proxy, signal)
      : undefined;
  if (signal.aborted) tunnel?.destroy();
  signal.throwIfAborted();
  const proxyHeaders = init.proxy && !tunnel ? (await import('./proxy-tunnel.js')).proxyAuthorization(init.proxy) : {};

  return new Promise<TransportResponse>((resolve, reject) => {
    let req: ClientRequest;
    if (tunnel) {
      req = loadHttps().request(url, { method: init.method, headers, createConnection: () => tunnel });
    } else if (init.proxy) {
      // Plain http through a proxy: the absolute URL as the request target.
      const target = { host: init.proxy.hostname.replace(/^\[|\]$/g, ''), port: init.proxy.port, path: url.href };
      req = loadHttp().request({
        ...target,
        method: init.method,
        headers: { host: url.host, ...headers, ...proxyHeaders },
      });
    } else if (url.protocol === 'https:') {
      // Explicit: NODE_TLS_REJECT_UNAUTHORIZED=0 must not reach a request that carries a secret.
      req = loadHttps().request(url, { method: init.method, headers, rejectUnauthorized: true });
    } else {
      req = loadHttp().request(url, { method: init.method, headers });
    }
    let answered: IncomingMessage | undefined;
    const onAbort = () => {
      const reason = signal.reason instanceof Error ? signal.reason : new DOMException('aborted', 'AbortError');
      answered?.destroy(reason);
      req.destroy(reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const done = () => signal.removeEventListener('abort', onAbort);
    req.on('error', (error) => {
      if (!answered) {
        done();
        reject(error);
      }
    });
    req.on('response', (res) => {
      answered = res;
      resolve(toResponse(res, done));
    });
    writeBody(req, body).catch((error: Error) => req.destroy(error));
  });
}

async function writeBody(req: ClientRequest, body: TransportInit['body']): Promise<void> {
  if (body === undefined) return void req.end();
  if (body instanceof Uint8Array) return void req.end(body);
  for await (const chunk of body) {
    if (req.destroyed) return;
    if (!req.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const cleanup = () => {
          req.off('drain', onDrain);
          req.off('close', onClose);
        };
        const onDrain = () => (cleanup(), resolve());
        const onClose = () => (cleanup(), reject(new Error('the connection closed during the upload')));
        req.on('drain', onDrain);
        req.on('close', onClose);
      });
    }
  }
  req.end();
}

function toResponse(res: IncomingMessage, done: () => void): TransportResponse {
  const status = res.statusCode ?? 502;
  const answer = { status, statusText: res.statusMessage ?? '', headers: new WireHeaders(res.rawHeaders) };
  if (NULL_BODY_STATUS.has(status)) {
    res.resume();
    res.on('end', done);
    return { ...answer, body: null };
  }
  return { ...answer, body: new WireBody(res, done) };
}

/** A header value fetch's Headers would refuse (and fetch fail on): left out. */
const UNACCEPTABLE_VALUE = /[\0\r\n]/;

/** The answer's headers, as fetch's Headers gives them (case-insensitive get, sorted iteration). */
class WireHeaders implements TransportHeaders {
  readonly #values = new Map<string, string[]>();

  constructor(raw: readonly string[]) {
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const value = raw[i + 1]!.trim();
      if (UNACCEPTABLE_VALUE.test(value)) continue;
      const name = raw[i]!.toLowerCase();
      const values = this.#values.get(name);
      if (values) values.push(value);
      else this.#values.set(name, [value]);
    }
  }

  get(name: string): string | null {
    return this.#values.get(name.toLowerCase())?.join(', ') ?? null;
  }

  getSetCookie(): string[] {
    return [...(this.#values.get('set-cookie') ?? [])];
  }

  *[Symbol.iterator](): Iterator<[string, string]> {
    for (const name of [...this.#values.keys()].sort()) {
      if (name === 'set-cookie') for (const cookie of this.getSetCookie()) yield [name, cookie];
      else yield [name, this.get(name)!];
    }
  }
}

/**
 * The answer's body, pulled chunk by chunk with no queue of its own: a chunk is read from the
 * socket only when the reader asks for one, so backpressure reaches the connection.
 */
class WireBody implements TransportBody {
  readonly #chunks: AsyncIterator<Buffer>;
  readonly #res: IncomingMessage;
  readonly #done: () => void;

  constructor(res: IncomingMessage, done: () => void) {
    this.#res = res;
    this.#chunks = res[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    this.#done = done;
  }

  getReader(): ReturnType<TransportBody['getReader']> {
    return {
      read: async () => {
        try {
          const next = await this.#chunks.next();
          if (next.done) {
            this.#done();
            return { done: true };
          }
          const chunk = next.value;
          return { done: false, value: new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength) };
        } catch (error) {
          this.#done();
          throw error;
        }
      },
      releaseLock: () => undefined,
    };
  }

  async cancel(): Promise<void> {
    this.#done();
    this.#res.destroy();
  }
}
