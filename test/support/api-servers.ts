// Local stand-ins for the three provider APIs (and a "CDN" on another origin), for `tokens api`.
//
// Each API listens on its own 127.0.0.1 port under a path prefix (so the CLI's base has a path of its
// own, as behind a proxy) and accepts only the access tokens the fake token server (servers.ts)
// issued for that provider and that are still alive, in the provider's header scheme (SoundCloud
// `Authorization: OAuth T`, the others `Bearer T`; Soundcharts also its legacy x-app-id/x-api-key
// pair). Routes under the base:
//   ANY  /echo                what arrived: method, query, content type, JSON body, body size and
//                             SHA-256, multipart parts (name, filename, size, SHA-256)
//   GET  /binary?size=N       N deterministic bytes, every byte value
//   GET  /large?size=N        N deterministic bytes, streamed with backpressure
//   GET  /redirect            302 to the CDN's /media/file.bin
//   GET  /users/:id           SoundCloud-style 404 for any id but 1
//   GET  /me/tracks           SoundCloud: `pages` pages of `perPage` tracks; with linked_partitioning
//                             `{collection, next_href}` (next_href absolute, or on the CDN's origin
//                             with `nextOrigin: 'cdn'`), else a bare array
//   GET  /api/v2/artist/:uuid/songs   Soundcharts: `{items, page: {offset, total, next}}`, page.next
//                             a path (as Soundcharts writes it)
//   GET  /api/artist/:id      Chartmetric: `{obj: {id, name}}`
// Faults are queued per API and used once each, in order, by the next request whose path matches.
// Anything the CLI should never send (a credential on the CDN, credentials in a query string, the
// wrong scheme, a request outside the base) lands in `violations`.
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createHash } from 'node:crypto';
import type { ProviderName, ProviderServer } from './servers.js';

export interface ApiRecord {
  method: string;
  /** Path under the base, without the query. */
  route: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  /** 'ok' accepted; 'refused' presented but not accepted; 'none' no credential at all. */
  credential: 'ok' | 'refused' | 'none';
  token?: string;
  bodySize: number;
  bodySha256: string;
  time: number;
  status?: number;
}

export type ApiFault = { path?: string } & (
  | { kind: 'status'; status: number; body?: string; headers?: Record<string, string> }
  /** 429 with Retry-After seconds, X-RateLimit-Reset (Unix seconds), or SoundCloud's JSON reset_time. */
  | { kind: 'rate-limit'; retryAfter?: number; rateLimitReset?: number; resetTime?: Date }
  /** 401 as if the token had expired, whatever was sent. */
  | { kind: 'unauthorized' }
);

export interface FakeApi {
  readonly provider: ProviderName;
  /** Origin + prefix: the value of TOKENS_*_API_URL. */
  readonly base: string;
  readonly origin: string;
  readonly requests: ApiRecord[];
  readonly violations: string[];
  /** Queue faults, used once each in order by matching requests. */
  fault(...faults: ApiFault[]): void;
  /** Every request is answered 401, until cleared. */
  refuseAll: boolean;
  /**
   * This access token is refused (401) from now on, as if revoked. With `holdUntilMinted`, every
   * refusal but the first is answered only once the token server has issued another token, so
   * those callers learn of the refusal after a refresh has already happened.
   */
  refuse(token: string, options?: { holdUntilMinted?: boolean }): void;
  /** SoundCloud /me/tracks and Soundcharts songs: page count and size; where next links point. */
  pages: number;
  perPage: number;
  nextOrigin: 'api' | 'cdn';
  /** Soundcharts legacy credentials accepted. */
  legacy?: { appId: string; apiKey: string };
}

export interface FakeCdn {
  readonly origin: string;
  readonly requests: Array<{ url: string; headers: Record<string, string> }>;
  readonly violations: string[];
}

export interface ApiServers {
  soundcloud: FakeApi;
  chartmetric: FakeApi;
  soundcharts: FakeApi;
  cdn: FakeCdn;
  env(): Record<string, string>;
  violations(): string[];
  close(): Promise<void>;
}

const SCHEME: Record<ProviderName, string> = { soundcloud: 'OAuth', chartmetric: 'Bearer', soundcharts: 'Bearer' };
const CREDENTIAL_HEADERS = ['authorization', 'x-app-id', 'x-api-key', 'cookie', 'proxy-authorization'];
const CREDENTIAL_PARAMS = ['oauth_token', 'access_token', 'client_id', 'client_secret', 'api_key'];

/** N deterministic bytes covering every byte value, in 64 KiB chunks. */
export function* deterministicChunks(size: number): Generator<Buffer> {
  const block = Buffer.alloc(65536);
  for (let i = 0; i < block.length; i++) block[i] = (i * 131 + (i >> 8) * 7) & 0xff;
  for (let offset = 0; offset < size; offset += block.length) {
    const chunk = Buffer.from(block.subarray(0, Math.min(block.length, size - offset)));
    chunk.writeUInt32BE((offset / block.length) >>> 0, 0);
    yield chunk;
  }
}

export function deterministicDigest(size: number): string {
  const hash = createHash('sha256');
  for (const chunk of deterministicChunks(size)) hash.update(chunk);
  return hash.digest('hex');
}

function headerRecord(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: http.Server; origin: string; sockets: Set<Socket> }> {
  const server = http.createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch((error: Error) => {
      if (!res.headersSent) res.writeHead(500).end(String(error.message));
    });
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as { port: number }).port}`, sockets };
}

/** multipart/form-data parts of a (buffered) body: name, filename, size and SHA-256 of each. */
export function multipartParts(body: Buffer, contentType: string): Array<{ name: string; filename?: string; type?: string; size: number; sha256: string; text?: string }> {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
  if (!boundary) throw new Error('multipart without a boundary');
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  const parts = [];
  let at = body.indexOf(delimiter);
  if (at !== 0) throw new Error('multipart body does not start with its boundary');
  for (;;) {
    at += delimiter.length;
    if (body.subarray(at, at + 2).toString() === '--') break;
    if (body.subarray(at, at + 2).toString() !== '\r\n') throw new Error('malformed multipart delimiter');
    const headEnd = body.indexOf('\r\n\r\n', at);
    const head = body.subarray(at + 2, headEnd).toString('utf8');
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headEnd + 4);
    if (headEnd < 0 || next < 0) throw new Error('truncated multipart body');
    const content = body.subarray(headEnd + 4, next);
    const disposition = /content-disposition: form-data; name="([^"]*)"(?:; filename="([^"]*)")?/i.exec(head);
    if (!disposition) throw new Error(`multipart part without a form-data disposition: ${head}`);
    const type = /content-type: (.+)/i.exec(head)?.[1]?.trim();
    parts.push({
      name: disposition[1]!,
      ...(disposition[2] !== undefined ? { filename: disposition[2] } : {}),
      ...(type ? { type } : {}),
      size: content.length,
      sha256: createHash('sha256').update(content).digest('hex'),
      ...(disposition[2] === undefined ? { text: content.toString('utf8') } : {}),
    });
    at = next + 2;
  }
  return parts;
}

export async function startApiServers(tokens: ProviderServer): Promise<ApiServers> {
  const cdnRequests: FakeCdn['requests'] = [];
  const cdnViolations: string[] = [];
  const cdnServer = await listen((req, res) => {
    const headers = headerRecord(req);
    cdnRequests.push({ url: req.url ?? '', headers });
    for (const name of CREDENTIAL_HEADERS) if (headers[name] !== undefined) cdnViolations.push(`the CDN was sent ${name} for ${req.url}`);
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end('cdn-bytes:' + (req.url ?? ''));
  });
  const cdn: FakeCdn = { origin: cdnServer.origin, requests: cdnRequests, violations: cdnViolations };

  const started: Array<{ server: http.Server; sockets: Set<Socket> }> = [cdnServer];
  const make = async (provider: ProviderName, prefix: string): Promise<FakeApi> => {
    const queue: ApiFault[] = [];
    const refused = new Set<string>();
    let hold: { issuedBefore: number; answered: number } | undefined;
    const requests: ApiRecord[] = [];
    const violations: string[] = [];
    const api: FakeApi = {
      provider,
      base: '',
      origin: '',
      requests,
      violations,
      fault: (...faults) => queue.push(...faults),
      refuseAll: false,
      refuse: (token, options = {}) => {
        refused.add(token);
        if (options.holdUntilMinted) hold = { issuedBefore: tokens.issued.length, answered: 0 };
      },
      pages: 3,
      perPage: 2,
      nextOrigin: 'api',
    };
    const listening = await listen(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const headers = headerRecord(req);
      const hash = createHash('sha256');
      const kept: Buffer[] = [];
      let size = 0;
      for await (const chunk of req as AsyncIterable<Buffer>) {
        hash.update(chunk);
        size += chunk.length;
        if (size <= 64 * 1024 * 1024) kept.push(chunk);
      }
      const body = Buffer.concat(kept);
      if (!url.pathname.startsWith(`${prefix}/`) && url.pathname !== prefix) {
        violations.push(`${req.method} ${url.pathname}: outside the base ${prefix}`);
        return void res.writeHead(404).end();
      }
      const route = url.pathname.slice(prefix.length) || '/';
      for (const name of CREDENTIAL_PARAMS) if (url.searchParams.has(name)) violations.push(`${route}: credentials in the query (${name})`);
      // The credential, in this provider's scheme only.
      let credential: ApiRecord['credential'] = 'none';
      let token: string | undefined;
      const authorization = headers.authorization;
      if (authorization !== undefined) {
        const [scheme, value] = authorization.split(' ');
        token = value;
        if (scheme !== SCHEME[provider]) violations.push(`${route}: Authorization scheme ${scheme}, expected ${SCHEME[provider]}`);
        const alive = value !== undefined && tokens.isAccessTokenAlive(provider, value);
        credential = scheme === SCHEME[provider] && alive && !refused.has(value) && !api.refuseAll ? 'ok' : 'refused';
      } else if (headers['x-app-id'] !== undefined || headers['x-api-key'] !== undefined) {
        const ok = api.legacy && headers['x-app-id'] === api.legacy.appId && headers['x-api-key'] === api.legacy.apiKey && !api.refuseAll;
        credential = ok ? 'ok' : 'refused';
      }
      const rec: ApiRecord = { method: req.method ?? '', route, query: Object.fromEntries(url.searchParams), headers, credential, ...(token ? { token } : {}), bodySize: size, bodySha256: hash.digest('hex'), time: Date.now() };
      requests.push(rec);
      const send = (status: number, payload: string | Buffer, extra: Record<string, string> = {}) => {
        rec.status = status;
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...extra }).end(payload);
      };
      if (credential !== 'ok') {
        if (credential === 'none') violations.push(`${route}: no credentials`);
        if (hold && token !== undefined && refused.has(token) && hold.answered++ > 0) {
          for (let waited = 0; tokens.issued.length <= hold.issuedBefore && waited < 20_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
        }
        return send(401, JSON.stringify({ code: 401, message: '401 - Unauthorized', errors: [{ error_message: 'invalid_token' }] }));
      }
      const faultAt = queue.findIndex((f) => f.path === undefined || f.path === route);
      if (faultAt >= 0) {
        const [fault] = queue.splice(faultAt, 1);
        if (fault!.kind === 'unauthorized') return send(401, JSON.stringify({ code: 401, message: '401 - Unauthorized' }));
        if (fault!.kind === 'status') return send(fault!.status, fault!.body ?? JSON.stringify({ code: fault!.status }), fault!.headers);
        const extra: Record<string, string> = {};
        if (fault!.retryAfter !== undefined) extra['retry-after'] = String(fault!.retryAfter);
        if (fault!.rateLimitReset !== undefined) extra['x-ratelimit-reset'] = String(fault!.rateLimitReset);
        let payload = JSON.stringify({ code: 429, message: 'Too Many Requests' });
        if (fault!.resetTime) {
          const d = fault!.resetTime;
          const pad = (n: number) => String(n).padStart(2, '0');
          const text = `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
          payload = JSON.stringify({ errors: [{ meta: { rate_limit: { bucket: 'by-client', max_nr_of_requests: 15000, time_window: 'PT24H', name: 'plays' }, remaining_requests: 0, reset_time: text } }] });
        }
        return send(429, payload, extra);
      }

      const sizeParam = Number(url.searchParams.get('size') ?? 200_003);
      if (route === '/echo') {
        const contentType = headers['content-type'] ?? '';
        let json: unknown;
        let parts: unknown;
        let problem: string | undefined;
        try {
          if (contentType.startsWith('multipart/form-data')) parts = multipartParts(body, contentType);
          else if (body.length > 0 && size <= 64 * 1024 * 1024) json = JSON.parse(body.toString('utf8'));
        } catch (error) {
          problem = (error as Error).message;
          if (contentType.startsWith('multipart/')) violations.push(`${route}: malformed multipart body: ${problem}`);
        }
        return send(200, JSON.stringify({ method: rec.method, query: rec.query, queryAll: [...url.searchParams], contentType, contentLength: headers['content-length'], userHeaders: Object.fromEntries(Object.entries(headers).filter(([n]) => n.startsWith('x-') && !CREDENTIAL_HEADERS.includes(n))), json, parts, problem, bodySize: size, bodySha256: rec.bodySha256 }));
      }
      if (route === '/binary' || route === '/large') {
        rec.status = 200;
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(sizeParam) });
        for (const chunk of deterministicChunks(sizeParam)) {
          if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
        }
        return void res.end();
      }
      if (route === '/redirect') {
        rec.status = 302;
        return void res.writeHead(302, { location: `${cdn.origin}/media/file.bin` }).end();
      }
      const user = /^\/users\/([^/]+)$/.exec(route);
      if (user) {
        if (user[1] === '1') return send(200, JSON.stringify({ id: 1, username: 'one' }));
        return send(404, JSON.stringify({ code: 404, message: '404 - Not Found', status: '404 - Not Found', errors: [{ error_message: '404 - Not Found' }], error: null }));
      }
      const pageOf = (offset: number) => Array.from({ length: Math.max(0, Math.min(api.perPage, api.pages * api.perPage - offset)) }, (_, i) => ({ id: offset + i + 1, title: `Track ${offset + i + 1}` }));
      if (route === '/me/tracks' && provider === 'soundcloud') {
        const cursor = Number(url.searchParams.get('cursor') ?? 0);
        const items = pageOf(cursor);
        if (url.searchParams.get('linked_partitioning') !== 'true') return send(200, JSON.stringify(items));
        const nextCursor = cursor + api.perPage;
        const origin = api.nextOrigin === 'cdn' && cursor > 0 ? cdn.origin : api.origin;
        const nextHref = nextCursor < api.pages * api.perPage ? `${origin}${prefix}/me/tracks?linked_partitioning=true&limit=${api.perPage}&cursor=${nextCursor}` : null;
        return send(200, JSON.stringify({ collection: items, next_href: nextHref }));
      }
      const songs = /^\/api\/v2\/artist\/([^/]+)\/songs$/.exec(route);
      if (songs && provider === 'soundcharts') {
        const offset = Number(url.searchParams.get('offset') ?? 0);
        const next = offset + api.perPage < api.pages * api.perPage ? `/api/v2/artist/${songs[1]}/songs?offset=${offset + api.perPage}&limit=${api.perPage}` : null;
        return send(200, JSON.stringify({ items: pageOf(offset).map((s) => ({ song: { uuid: `song-${s.id}`, name: s.title } })), page: { offset, total: api.pages * api.perPage, next, previous: null }, errors: [] }));
      }
      const artist = /^\/api\/artist\/(\d+)$/.exec(route);
      if (artist && provider === 'chartmetric') return send(200, JSON.stringify({ obj: { id: Number(artist[1]), name: `Artist ${artist[1]}` } }));
      return send(404, JSON.stringify({ code: 404, message: 'no such route' }));
    });
    started.push(listening);
    Object.assign(api, { origin: listening.origin, base: `${listening.origin}${prefix}` });
    return api;
  };

  const soundcloud = await make('soundcloud', '/sc/v1');
  const chartmetric = await make('chartmetric', '/cm');
  const soundcharts = await make('soundcharts', '/scharts');
  const apis = [soundcloud, chartmetric, soundcharts];
  return {
    soundcloud,
    chartmetric,
    soundcharts,
    cdn,
    env: () => ({ TOKENS_SOUNDCLOUD_API_URL: soundcloud.base, TOKENS_CHARTMETRIC_API_URL: chartmetric.base, TOKENS_SOUNDCHARTS_API_URL: soundcharts.base }),
    violations: () => [...apis.flatMap((a) => a.violations.map((v) => `${a.provider}: ${v}`)), ...cdn.violations],
    close: async () => {
      await Promise.all(
        started.map(
          ({ server, sockets }) =>
            new Promise<void>((resolve) => {
              for (const s of sockets) s.destroy();
              server.close(() => resolve());
            }),
        ),
      );
    },
  };
}
