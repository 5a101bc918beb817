// Dependencies for unit tests of run functions: memory store, captured streams, a fake clock.
import { PassThrough } from 'node:stream';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeOf } from '../../src/store/coordination.js';
import { MemoryStore } from '../../src/store/memory.js';
import { resolvePaths } from '../../src/model/paths.js';
import { childEnvironment, PROVIDERS } from '../../src/providers/registry.js';
import type { Deps } from '../../src/broker/deps.js';

export interface TestDeps extends Deps {
  store: MemoryStore;
  out: () => string;
  err: () => string;
  clock: { now: number };
  slept: number[];
}

export function testDeps(overrides: Partial<Deps> & { env?: Record<string, string> } = {}): TestDeps {
  const home = mkdtempSync(join(tmpdir(), 'tokens-unit-'));
  const env = { HOME: home, ...overrides.env };
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const store = new MemoryStore();
  const clock = { now: Date.UTC(2026, 10, 23, 12) };
  const slept: number[] = [];
  return {
    io: { stdout, stderr, stdin: new PassThrough(), stdinIsTTY: false, stderrIsTTY: false, stdoutIsTTY: false },
    env,
    paths: resolvePaths(env),
    childEnv: childEnvironment(env),
    providers: PROVIDERS,
    fetch: () => Promise.reject(new Error('no fetch in this test')),
    now: () => clock.now,
    sleep: async (ms) => {
      slept.push(ms);
      clock.now += ms;
    },
    random: () => 0.5,
    openStore: async () => storeOf(store),
    debug: () => undefined,
    ...overrides,
    store,
    out: () => out,
    err: () => err,
    clock,
    slept,
  };
}

/**
 * A fetch that answers from a list of canned responses (or throws for network errors), recording
 * calls. A function is called with the request's init (its signal, for one that never answers).
 */
export function scriptedFetch(
  answers: Array<Response | Error | ((init: RequestInit) => Response | Promise<Response>)>,
) {
  const calls: Array<{ url: string; init: RequestInit }> = [];
  const fetch = (async (url: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} });
    const next = answers.shift();
    if (next === undefined) throw new Error('unexpected extra request');
    if (next instanceof Error) throw next;
    return typeof next === 'function' ? next(init ?? {}) : next;
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

export const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(typeof body === 'string' ? body : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });

/** An answer that never comes: the request waits until its signal aborts it (the HTTP timeout). */
export const noAnswer = (init: RequestInit) =>
  new Promise<Response>((_, reject) => {
    const signal = init.signal!;
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });

/** A 200 whose body breaks off after its first bytes, as when the connection is reset mid-answer. */
export const brokenOff = () => {
  let sent = false;
  return new Response(
    new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) controller.error(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
        else controller.enqueue(new TextEncoder().encode('{"access_token":"a'));
        sent = true;
      },
    }),
    { status: 200, headers: { 'content-type': 'application/json' } },
  );
};

/** A network error as Node's fetch reports it: a TypeError, the system error as its cause. */
export const fetchFailed = (code: string, syscall = 'connect') =>
  new TypeError('fetch failed', { cause: Object.assign(new Error(`${syscall} ${code}`), { code, syscall }) });

/** A network error as node:http (src/http/node-fetch.ts) reports it: the system error itself. */
export const socketError = (code: string, syscall = 'connect') =>
  Object.assign(new Error(`${syscall} ${code}`), { code, syscall });
