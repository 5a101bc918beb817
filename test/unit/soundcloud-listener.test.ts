import { request } from 'node:http';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { LoginError } from '../../src/base/errors.js';
import {
  codeFromRedirectUrl,
  startCallbackListener,
  type CallbackListener,
  type CallbackListenerOptions,
} from '../../src/providers/soundcloud/listener.js';
import { parseRedirectUri, type ParsedRedirectUri } from '../../src/providers/soundcloud/redirect-uri.js';

const STATE = 'expected-state-0123456789abcdefghijklmnop';

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

const open: CallbackListener[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((l) => l.close()));
});

async function start(
  overrides: Partial<CallbackListenerOptions> = {},
  host = '127.0.0.1',
): Promise<{ listener: CallbackListener; redirect: ParsedRedirectUri; base: string }> {
  const port = await freePort();
  const redirect = parseRedirectUri(`http://${host}:${port}/callback`);
  const listener = await startCallbackListener({ redirect, state: STATE, timeoutMs: 10_000, ...overrides });
  open.push(listener);
  return { listener, redirect, base: `http://127.0.0.1:${port}` };
}

async function isPending(p: Promise<unknown>): Promise<boolean> {
  const pending = Symbol('pending');
  const winner = await Promise.race([
    p.then(
      () => 'settled',
      () => 'settled',
    ),
    new Promise((resolve) => setTimeout(() => resolve(pending), 50)),
  ]);
  return winner === pending;
}

/** A raw request, so that the Host header can be set. */
function rawGet(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function expectSecurityHeaders(headers: Record<string, string | string[] | undefined>) {
  expect(headers['cache-control']).toBe('no-store');
  expect(headers['referrer-policy']).toBe('no-referrer');
  expect(headers['content-type']).toBe('text/html; charset=utf-8');
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(String(headers['content-security-policy'])).toMatch(/^default-src 'none'; style-src 'unsafe-inline'/);
  expect(headers.connection).toBe('close');
}

describe('soundcloud callback listener', () => {
  it('resolves with the code and shows the success page', async () => {
    const { listener, base } = await start();
    expect(listener.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    const res = await fetch(`${base}/callback?code=the-code&state=${STATE}`);
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain('You can close this window.');
    expect(body).toContain('<title>tokens – SoundCloud login</title>');
    await expect(listener.result).resolves.toEqual({ code: 'the-code' });
  });

  it('ignores a wrong state (400) and keeps waiting for the right one', async () => {
    const { listener, base } = await start();
    const bad = await fetch(`${base}/callback?code=evil&state=wrong`);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('This response doesn&#39;t belong to the login in progress');
    expect(await isPending(listener.result)).toBe(true);

    const good = await fetch(`${base}/callback?code=good&state=${STATE}`);
    expect(good.status).toBe(200);
    await expect(listener.result).resolves.toEqual({ code: 'good' });
  });

  it('ignores a missing or duplicated state', async () => {
    const { listener, base } = await start();
    const missing = await fetch(`${base}/callback?code=evil`);
    expect(missing.status).toBe(400);
    expect(await missing.text()).toContain('doesn&#39;t belong');
    const dup = await fetch(`${base}/callback?code=evil&state=${STATE}&state=${STATE}`);
    expect(dup.status).toBe(400);
    expect(await isPending(listener.result)).toBe(true);
  });

  it('answers 404 off the redirect path and 405 for other methods, and keeps waiting', async () => {
    const { listener, base } = await start();
    const fav = await fetch(`${base}/favicon.ico`);
    expect(fav.status).toBe(404);
    expectSecurityHeaders(Object.fromEntries(fav.headers));
    await fav.text();
    const other = await fetch(`${base}/callbackx?code=c&state=${STATE}`);
    expect(other.status).toBe(404);
    await other.text();
    const post = await fetch(`${base}/callback?code=c&state=${STATE}`, { method: 'POST' });
    expect(post.status).toBe(405);
    await post.text();
    expect(await isPending(listener.result)).toBe(true);
  });

  it('shows the provider error escaped and rejects with a clean LoginError', async () => {
    const { listener, base } = await start();
    const description = '<script>alert(1)</script>\u001b[31m\r\nred\u0007\u202e';
    const url = `${base}/callback?error=access_denied&error_description=${encodeURIComponent(description)}&state=${STATE}`;
    const res = await fetch(url);
    const body = await res.text();
    expect(body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(body).not.toContain('<script>');
    expect(body).not.toContain('\u001b');
    expectSecurityHeaders(Object.fromEntries(res.headers));

    const err = await listener.result.then(
      () => {
        throw new Error('expected a rejection');
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LoginError);
    expect((err as LoginError).exitCode).toBe(7);
    const message = (err as LoginError).message;
    expect(message).toContain('access_denied');
    expect(message).toContain('<script>alert(1)</script>');
    expect(message).toContain('red');
    expect(message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/);
  });

  it('caps a long provider description in the error message', async () => {
    const { listener, base } = await start();
    await (
      await fetch(`${base}/callback?error=server_error&error_description=${'x'.repeat(5000)}&state=${STATE}`)
    ).text();
    const err = (await listener.result.catch((e: unknown) => e)) as LoginError;
    expect(err).toBeInstanceOf(LoginError);
    expect(err.message.length).toBeLessThan(400);
  });

  it('rejects when the right state comes with neither code nor error', async () => {
    const { listener, base } = await start();
    const res = await fetch(`${base}/callback?state=${STATE}`);
    expect(res.status).toBe(400);
    await res.text();
    await expect(listener.result).rejects.toMatchObject({ exitCode: 7 });
  });

  it('times out with a LoginError and stops listening', async () => {
    const { listener, base } = await start({ timeoutMs: 150 });
    await expect(listener.result).rejects.toThrow('timed out after 0.15 s waiting for the browser');
    await expect(listener.result).rejects.toBeInstanceOf(LoginError);
    await expect(fetch(`${base}/callback?code=c&state=${STATE}`)).rejects.toThrow();
  });

  it('rejects on abort', async () => {
    const ac = new AbortController();
    const { listener } = await start({ signal: ac.signal });
    ac.abort();
    await expect(listener.result).rejects.toThrow(/cancelled/);
  });

  it('reports a port in use clearly', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      const redirect = parseRedirectUri(`http://127.0.0.1:${port}/callback`);
      const attempt = startCallbackListener({ redirect, state: STATE, timeoutMs: 1000 });
      await expect(attempt).rejects.toBeInstanceOf(LoginError);
      await expect(attempt).rejects.toThrow(
        `port ${port} on 127.0.0.1 is in use; close the program using it or pass --redirect-uri with another port (it must be registered with your SoundCloud app)`,
      );
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('answers 400 to a request for another Host (DNS rebinding) and keeps waiting', async () => {
    const { listener, redirect } = await start();
    const path = `/callback?code=c&state=${STATE}`;
    const evil = await rawGet(redirect.port, path, { Host: `evil.example:${redirect.port}` });
    expect(evil.status).toBe(400);
    expectSecurityHeaders(evil.headers);
    const otherLoopbackName = await rawGet(redirect.port, path, { Host: `localhost:${redirect.port}` });
    expect(otherLoopbackName.status).toBe(400);
    const wrongPort = await rawGet(redirect.port, path, { Host: `127.0.0.1:${redirect.port + 1}` });
    expect(wrongPort.status).toBe(400);
    expect(await isPending(listener.result)).toBe(true);
    const ok = await rawGet(redirect.port, path, { Host: `127.0.0.1:${redirect.port}` });
    expect(ok.status).toBe(200);
    await expect(listener.result).resolves.toEqual({ code: 'c' });
  });

  it('accepts the Host of a localhost redirect URI, binding 127.0.0.1', async () => {
    const { listener, redirect } = await start({}, 'localhost');
    expect(redirect.bindAddress).toBe('127.0.0.1');
    const ok = await rawGet(redirect.port, `/callback?code=c&state=${STATE}`, { Host: `localhost:${redirect.port}` });
    expect(ok.status).toBe(200);
    await expect(listener.result).resolves.toEqual({ code: 'c' });
  });

  it('sends the security headers on every response', async () => {
    const { redirect } = await start();
    for (const path of ['/', '/favicon.ico', '/callback?state=wrong', `/callback?code=c&state=${STATE}`]) {
      const res = await rawGet(redirect.port, path, { Host: `127.0.0.1:${redirect.port}` });
      expectSecurityHeaders(res.headers);
      expect(res.body).toContain('<!doctype html>');
      expect(res.body).not.toMatch(/<(script|link|img|iframe)\b/i);
    }
  });

  it('completes from a pasted redirected URL', async () => {
    const { listener, redirect } = await start();
    expect(listener.completeFromPastedUrl(`  ${redirect.uri}?code=pasted&state=${STATE}\n`)).toBe(true);
    await expect(listener.result).resolves.toEqual({ code: 'pasted' });
    // The first of browser and paste wins.
    expect(listener.completeFromPastedUrl(`${redirect.uri}?code=second&state=${STATE}`)).toBe(false);
  });

  it('rejects a pasted URL with the wrong state (state mismatch, exit 7)', async () => {
    const { listener, redirect } = await start();
    listener.completeFromPastedUrl(`${redirect.uri}?code=pasted&state=nope`);
    await expect(listener.result).rejects.toThrow(/state mismatch/);
    await expect(listener.result).rejects.toMatchObject({ exitCode: 7 });
  });

  it('rejects a pasted URL carrying the provider error', async () => {
    const { listener, redirect } = await start();
    listener.completeFromPastedUrl(
      `${redirect.uri}?error=access_denied&error_description=User%20said%20no&state=${STATE}`,
    );
    await expect(listener.result).rejects.toThrow(/access_denied: User said no/);
  });

  it('checks the origin and path of a pasted URL and never echoes it', () => {
    const redirect = parseRedirectUri('http://127.0.0.1:8976/callback');
    const q = `?code=secret-code&state=${STATE}`;
    expect(codeFromRedirectUrl(`http://127.0.0.1:8976/callback${q}`, redirect, STATE)).toBe('secret-code');
    for (const bad of [
      `http://127.0.0.1:8977/callback${q}`,
      `http://localhost:8976/callback${q}`,
      `https://127.0.0.1:8976/callback${q}`,
      `http://127.0.0.1:8976/other${q}`,
      `http://evil.example:8976/callback${q}`,
      `not a url secret-code`,
      '',
    ]) {
      let err: unknown;
      try {
        codeFromRedirectUrl(bad, redirect, STATE);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(LoginError);
      expect((err as LoginError).message).not.toContain('secret-code');
    }
  });

  it('closes after the result, destroying idle connections so the process can exit', async () => {
    const { listener, redirect, base } = await start();
    // A pre-connected idle socket, as browsers open speculatively.
    const idle = connect(redirect.port, '127.0.0.1');
    await new Promise<void>((resolve) => idle.once('connect', () => resolve()));
    const idleClosed = new Promise<void>((resolve) => idle.once('close', () => resolve()));
    idle.on('error', () => {});

    const res = await fetch(`${base}/callback?code=c&state=${STATE}`);
    expect(await res.text()).toContain('You can close this window.');
    await expect(listener.result).resolves.toEqual({ code: 'c' });

    const t0 = Date.now();
    await listener.close();
    await idleClosed;
    // Closed by close(), not by Node's keep-alive time-out (5 s), which would close it too.
    expect(Date.now() - t0).toBeLessThan(4_000);
    await expect(fetch(`${base}/callback?code=c&state=${STATE}`)).rejects.toThrow();
  });

  it('close() rejects a pending result', async () => {
    const { listener } = await start();
    await listener.close();
    await expect(listener.result).rejects.toBeInstanceOf(LoginError);
  });

  it('is not reachable on a non-loopback address of this machine', async () => {
    // A test host of our own: a network namespace joined to this one by a veth pair. From there,
    // this machine's veth address is a non-loopback address of it; traffic stays between the two.
    const host = await createTestHost();
    try {
      // The control: a server bound to every address is reachable from the test host…
      const open = createServer((socket) => socket.end());
      await new Promise<void>((resolve) => open.listen(0, '0.0.0.0', resolve));
      const openPort = (open.address() as AddressInfo).port;
      expect(await host.connect(host.machineAddress, openPort)).toBe('connected');
      open.close();
      // …and the listener, bound to loopback only, is not.
      const { listener, redirect } = await start();
      expect(await host.connect(host.machineAddress, redirect.port)).toBe('ECONNREFUSED');
      expect(await isPending(listener.result)).toBe(true);
    } finally {
      await host.remove();
    }
  });
});

/**
 * A network namespace with one veth link to this machine (10.213.77.1 here, .2 there), made with
 * iproute2 (needs root, as npm test and CI run). Fails loudly, never skips, when it cannot be made.
 */
async function createTestHost() {
  const run = promisify(execFile);
  const id = `${process.pid % 100000}`;
  const ns = `tokens-test-${id}`;
  const [here, there] = [`tkh${id}`, `tkn${id}`];
  const machineAddress = '10.213.77.1';
  const steps = [
    ['netns', 'add', ns],
    ['link', 'add', here, 'type', 'veth', 'peer', 'name', there],
    ['link', 'set', there, 'netns', ns],
    ['addr', 'add', `${machineAddress}/30`, 'dev', here],
    ['link', 'set', here, 'up'],
    ['-n', ns, 'addr', 'add', '10.213.77.2/30', 'dev', there],
    ['-n', ns, 'link', 'set', there, 'up'],
  ];
  const remove = async () => {
    await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    await run('ip', ['link', 'del', here]).catch(() => undefined);
  };
  try {
    for (const step of steps) await run('ip', step);
  } catch (error) {
    await remove();
    throw new Error(
      `cannot create a network namespace for this test (needs root and the Debian package iproute2): ${(error as Error).message}`,
    );
  }
  const probe =
    'const s=require("net").connect({host:process.argv[1],port:+process.argv[2]});' +
    's.setTimeout(2000,()=>{console.log("timeout");process.exit(0)});' +
    's.on("connect",()=>{console.log("connected");process.exit(0)});' +
    's.on("error",(e)=>{console.log(e.code);process.exit(0)})';
  return {
    machineAddress,
    remove,
    /** Connects from inside the test host: "connected", an error code, or "timeout". */
    async connect(address: string, port: number): Promise<string> {
      const { stdout } = await run('ip', ['netns', 'exec', ns, process.execPath, '-e', probe, address, String(port)]);
      return stdout.trim();
    },
  };
}
