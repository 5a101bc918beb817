// The node:http transport (src/model/transport.ts), against a real loopback server.
import http from 'node:http';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeFetch } from '../../src/http/node-fetch.js';
import { PROXY_REFUSED, type TransportInit, type TransportResponse } from '../../src/model/transport.js';
import {
  makeCertificates,
  REMOTE_HOST,
  startProxy,
  startTlsFront,
  type Certificates,
  type Listening,
  type ForwardProxy,
} from '../support/network.js';

const send = (path: string, init: Partial<TransportInit> = {}) =>
  nodeFetch(new URL(path, base), {
    method: 'GET',
    headers: {},
    redirect: 'manual',
    signal: new AbortController().signal,
    ...init,
  });

async function bodyText(res: TransportResponse): Promise<string> {
  const reader = res.body!.getReader();
  const parts: Uint8Array[] = [];
  for (let next = await reader.read(); !next.done; next = await reader.read()) parts.push(next.value);
  return Buffer.concat(parts).toString('utf8');
}

let server: http.Server;
let base = '';
beforeAll(async () => {
  server = http.createServer(async (req, res) => {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of req) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/echo') {
      res.writeHead(201, 'Made', [
        ['Content-Type', 'application/json'],
        ['Set-Cookie', 'a=1'],
        ['X-Many', 'one'],
        ['set-cookie', 'b=2'],
        ['x-many', 'two'],
        ['A-First', ' padded '],
      ]);
      return res.end(JSON.stringify({ method: req.method, headers: req.headers, size, sha256: hash.digest('hex') }));
    }
    if (url.pathname === '/empty') return res.writeHead(204).end();
    if (url.pathname === '/redirect') return res.writeHead(302, { location: '/elsewhere' }).end();
    if (url.pathname === '/stall') {
      res.writeHead(200);
      res.write('first');
      return; // never ends
    }
    if (url.pathname === '/hang') return; // no answer at all
    res.writeHead(404).end('nope');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('nodeFetch', () => {
  it('sends method, headers and a string body; answers status, reason, headers and body', async () => {
    const res = await send('/echo', {
      method: 'POST',
      headers: { 'X-Thing': 'v', 'content-type': 'text/plain' },
      body: Buffer.from('hello'),
    });
    expect([res.status, res.statusText]).toEqual([201, 'Made']);
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    const echo = JSON.parse(await bodyText(res)) as { method: string; headers: Record<string, string>; size: number };
    expect(echo).toMatchObject({ method: 'POST', size: 5, headers: { 'x-thing': 'v', 'content-length': '5' } });
  });

  it('streams an async-iterable body, chunked without a length, exact with one', async () => {
    const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(64 * 1024, i));
    const expected = createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
    async function* body() {
      yield* chunks;
    }
    for (const headers of [{}, { 'content-length': String(40 * 64 * 1024) }] as Record<string, string>[]) {
      const res = await send('/echo', { method: 'PUT', headers, body: body(), duplex: 'half' });
      const echo = JSON.parse(await bodyText(res)) as { size: number; sha256: string; headers: Record<string, string> };
      expect(echo).toMatchObject({ size: 40 * 64 * 1024, sha256: expected });
    }
  });

  it('a 204 has a null body; a redirect is returned, not followed', async () => {
    const empty = await send('/empty');
    expect([empty.status, empty.body]).toEqual([204, null]);
    const moved = await send('/redirect');
    expect([moved.status, moved.headers.get('location')]).toEqual([302, '/elsewhere']);
    await moved.body?.cancel();
  });

  it('network errors reject with the system code', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(send(`http://127.0.0.1:${port}/`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('the signal aborts a request with no answer, and a body that stalls, with its reason', async () => {
    const reason = Object.assign(new Error('timed out'), { name: 'TimeoutError' });
    const waiting = new AbortController();
    const pending = send('/hang', { signal: waiting.signal });
    setTimeout(() => waiting.abort(reason), 50);
    await expect(pending).rejects.toMatchObject({ name: 'TimeoutError' });

    const reading = new AbortController();
    const res = await send('/stall', { signal: reading.signal });
    const reader = res.body!.getReader();
    expect(Buffer.from((await reader.read()).value!).toString()).toBe('first');
    setTimeout(() => reading.abort(reason), 50);
    await expect(reader.read()).rejects.toMatchObject({ name: 'TimeoutError' });
  });

  it('answers headers as fetch does: case-insensitive, combined, sorted, set-cookie one by one', async () => {
    const res = await send('/echo', { method: 'POST', body: Buffer.from('x') });
    const viaFetch = await fetch(new URL('/echo', base), { method: 'POST', body: 'x' });
    expect(res.headers.get('X-MANY')).toBe('one, two');
    expect(res.headers.get('a-first')).toBe('padded');
    expect(res.headers.get('absent')).toBeNull();
    // Values trimmed, as Headers.append does (fetch's own parser keeps a trailing space).
    const comparable = ([name]: [string, string]) => name !== 'date' && name !== 'a-first';
    const mine = [...res.headers];
    expect(mine.filter(comparable)).toEqual([...viaFetch.headers].filter(comparable));
    expect(mine.map(([name]) => name)).toEqual([
      'a-first',
      'connection',
      'content-type',
      'date',
      'keep-alive',
      'set-cookie',
      'set-cookie',
      'transfer-encoding',
      'x-many',
    ]);
    await res.body!.cancel();
    await viaFetch.body?.cancel();
  });

  it('never loads undici: no Response, Headers or ReadableStream in an answer', async () => {
    const res = await send('/echo', { method: 'POST', body: Buffer.from('x') });
    expect(res).not.toBeInstanceOf(Response);
    expect(res.headers).not.toBeInstanceOf(Headers);
    expect(res.body).not.toBeInstanceOf(ReadableStream);
    await res.body!.cancel();
  });

  it('refuses other protocols', async () => {
    await expect(send('file:///etc/passwd')).rejects.toThrow(/unsupported protocol/);
  });
});

describe('nodeFetch through a proxy, and certificates', () => {
  let certs: Certificates;
  let front: Listening;
  let proxy: ForwardProxy;
  const remote = `https://${REMOTE_HOST}/echo`;
  beforeAll(async () => {
    certs = await makeCertificates();
    front = await startTlsFront(base, certs);
    proxy = await startProxy({
      [`${REMOTE_HOST}:443`]: `127.0.0.1:${front.port}`,
      'origin.test.invalid': new URL(base).host,
    });
  });
  afterAll(async () => {
    await proxy.close();
    await front.close();
    await certs.dispose();
  });

  /** Runs `body` with NODE_TLS_REJECT_UNAUTHORIZED=0 in this process's environment, as a user might have it. */
  async function withTlsChecksOff<T>(body: () => Promise<T>): Promise<T> {
    const before = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    try {
      return await body();
    } finally {
      if (before === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = before;
    }
  }

  it('sends http as an absolute-form request with Proxy-Authorization from the proxy URL', async () => {
    const res = await send('http://origin.test.invalid/echo?q=1', {
      proxy: new URL(`http://someone:p%40ss@127.0.0.1:${proxy.port}`),
    });
    expect(res.status).toBe(201);
    expect(JSON.parse(await bodyText(res))).toMatchObject({ headers: { host: 'origin.test.invalid' } });
    expect(proxy.requests.at(-1)).toBe('GET http://origin.test.invalid/echo?q=1');
    expect(proxy.authorizations.at(-1)).toBe(`Basic ${Buffer.from('someone:p@ss').toString('base64')}`);
  });

  it('tunnels https with CONNECT and verifies the origin certificate even with NODE_TLS_REJECT_UNAUTHORIZED=0', async () => {
    const error = await withTlsChecksOff(() =>
      nodeFetch(new URL(remote), {
        method: 'GET',
        headers: {},
        redirect: 'manual',
        signal: new AbortController().signal,
        proxy: new URL(`http://127.0.0.1:${proxy.port}`),
      }).then(
        () => expect.unreachable(),
        (e: unknown) => e as Error & { code?: string },
      ),
    );
    expect(proxy.requests.at(-1)).toBe(`CONNECT ${REMOTE_HOST}:443`);
    expect(error.code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/);
  });

  it('verifies a direct https server certificate even with NODE_TLS_REJECT_UNAUTHORIZED=0', async () => {
    const error = await withTlsChecksOff(() =>
      send(`https://127.0.0.1:${front.port}/echo`).then(
        () => expect.unreachable(),
        (e: unknown) => e as Error & { code?: string },
      ),
    );
    expect(error.code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/);
  });

  it('fails with its own code when the proxy will not open a tunnel', async () => {
    const refusing = http.createServer();
    refusing.on('connect', (_req, socket: import('node:net').Socket) =>
      socket.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n'),
    );
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    const port = (refusing.address() as { port: number }).port;
    try {
      await expect(send(remote, { proxy: new URL(`http://127.0.0.1:${port}`) })).rejects.toMatchObject({
        code: PROXY_REFUSED,
        message: `the proxy 127.0.0.1:${port} answered CONNECT with 407`,
      });
    } finally {
      await new Promise((resolve) => refusing.close(resolve));
    }
  });
});
