// The node:http transport behind the fetch interface, against a real loopback server.
import http from 'node:http';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeFetch } from '../../src/core/node-fetch.js';

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
      res.writeHead(201, 'Made', { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] });
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
    const res = await nodeFetch(`${base}/echo`, {
      method: 'POST',
      headers: { 'X-Thing': 'v', 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect([res.status, res.statusText]).toEqual([201, 'Made']);
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    const echo = (await res.json()) as { method: string; headers: Record<string, string>; size: number };
    expect(echo).toMatchObject({ method: 'POST', size: 5, headers: { 'x-thing': 'v', 'content-length': '5' } });
  });

  it('streams an async-iterable body, chunked without a length, exact with one', async () => {
    const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(64 * 1024, i));
    const expected = createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
    async function* body() {
      yield* chunks;
    }
    for (const headers of [{}, { 'content-length': String(40 * 64 * 1024) }]) {
      const res = await nodeFetch(`${base}/echo`, {
        method: 'PUT',
        headers,
        body: body() as unknown as NonNullable<RequestInit['body']>,
        duplex: 'half',
      } as RequestInit);
      const echo = (await res.json()) as { size: number; sha256: string; headers: Record<string, string> };
      expect(echo).toMatchObject({ size: 40 * 64 * 1024, sha256: expected });
    }
  });

  it('a 204 has a null body; a redirect is returned, not followed', async () => {
    const empty = await nodeFetch(`${base}/empty`);
    expect([empty.status, empty.body]).toEqual([204, null]);
    const moved = await nodeFetch(`${base}/redirect`, { redirect: 'manual' });
    expect([moved.status, moved.headers.get('location')]).toEqual([302, '/elsewhere']);
    await moved.body?.cancel();
  });

  it('network errors reject with the system code', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(nodeFetch(`http://127.0.0.1:${port}/`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('the signal aborts a request with no answer, and a body that stalls, with its reason', async () => {
    const reason = Object.assign(new Error('timed out'), { name: 'TimeoutError' });
    const waiting = new AbortController();
    const pending = nodeFetch(`${base}/hang`, { signal: waiting.signal });
    setTimeout(() => waiting.abort(reason), 50);
    await expect(pending).rejects.toMatchObject({ name: 'TimeoutError' });

    const reading = new AbortController();
    const res = await nodeFetch(`${base}/stall`, { signal: reading.signal });
    const reader = res.body!.getReader();
    expect(Buffer.from((await reader.read()).value!).toString()).toBe('first');
    setTimeout(() => reading.abort(reason), 50);
    await expect(reader.read()).rejects.toMatchObject({ name: 'TimeoutError' });
  });

  it('refuses other protocols', async () => {
    await expect(nodeFetch('file:///etc/passwd')).rejects.toThrow(/unsupported protocol/);
  });
});
