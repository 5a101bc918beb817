// What tokens asks of an HTTP transport (Deps.fetch): the part of the fetch interface that
// src/http/http.ts uses, and no more. Node's own fetch satisfies it (the unit tests script it);
// the real program carries it over node:http (src/http/node-fetch.ts) without ever touching
// Response, Headers or ReadableStream: the first use of any of them loads Node's bundled undici
// (~17 ms of a cold `get`).

/** The error code of a proxy that would not open a tunnel (src/http/proxy-tunnel.ts): the origin never saw the request. */
export const PROXY_REFUSED = 'ERR_PROXY_REFUSED';

export interface TransportInit {
  method: string;
  headers: Record<string, string>;
  /** Bytes, or chunks sent with backpressure (with `duplex: 'half'`, as fetch wants). */
  body?: Uint8Array | AsyncIterable<Uint8Array>;
  duplex?: 'half';
  /** Always 'manual': http.ts follows redirects itself. */
  redirect: 'manual';
  signal: AbortSignal;
  /**
   * The http:// proxy to go through (src/http/proxy.ts decides): https by a CONNECT tunnel with TLS
   * to the origin inside it, http as an absolute-form request. Its user and password, if any, are
   * sent as Proxy-Authorization. Not part of fetch: Node's fetch ignores it.
   */
  proxy?: URL;
}

export interface TransportHeaders extends Iterable<[string, string]> {
  /** Every value of the header, joined with ", "; null when absent. Names are case-insensitive. */
  get(name: string): string | null;
  getSetCookie(): string[];
}

export interface TransportBody {
  getReader(): {
    read(): Promise<{ done: true; value?: undefined } | { done: false; value: Uint8Array }>;
    releaseLock(): void;
  };
  cancel(): Promise<void>;
}

export interface TransportResponse {
  status: number;
  statusText: string;
  /** Iterated as fetch's Headers are: lower-case names in order, values combined (set-cookie one by one). */
  headers: TransportHeaders;
  body: TransportBody | null;
}

export type Transport = (url: URL, init: TransportInit) => Promise<TransportResponse>;
