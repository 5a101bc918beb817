// Dependencies for unit tests of run functions: memory store, captured streams, a fake clock.
import { PassThrough } from 'node:stream';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../../src/store/memory.js';
import { resolvePaths } from '../../src/core/paths.js';
import { childEnvironment, PROVIDERS } from '../../src/providers/registry.js';
import type { Deps } from '../../src/core/deps.js';

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
    openStore: async () => store,
    debug: () => undefined,
    ...overrides,
    store,
    out: () => out,
    err: () => err,
    clock,
    slept,
  };
}

/** A fetch that answers from a list of canned responses (or throws for network errors), recording calls. */
export function scriptedFetch(answers: Array<Response | Error | (() => Response | Promise<Response>)>) {
  const calls: Array<{ url: string; init: RequestInit }> = [];
  const fetch = (async (url: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} });
    const next = answers.shift();
    if (next === undefined) throw new Error('unexpected extra request');
    if (next instanceof Error) throw next;
    return typeof next === 'function' ? next() : next;
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

export const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(typeof body === 'string' ? body : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
