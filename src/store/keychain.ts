// The `keychain` store: the OS keychain through keytar (macOS Keychain, Windows Credential Manager,
// Secret Service on Linux). keytar is an optional native addon, resolved on first use and never bundled.
//
// keytar runs in a small helper child process (started on the first call, reused by this instance,
// never keeping the CLI alive). Why not in-process: a keytar call that hangs (a Secret Service that never
// answers, an unlock prompt nobody can see) occupies a libuv thread-pool thread, and Node joins that pool
// on process.exit(), so an in-process timeout could print its error but the CLI could then never exit.
// A helper can be killed, so a timeout really ends with exit 6.
//
// Secrets travel to and from the helper over its stdin/stdout pipes only, never argv or the environment.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createRequire } from 'node:module';
import { StoreError } from '../core/errors.js';
import type { Env } from '../core/paths.js';
import { localParts } from '../core/local-parts.js';
import {
  plainPreparedWrite,
  SecretNotFoundError,
  type BrokerParts,
  type PartsDeps,
  type PreparedWrite,
  type SecretStore,
} from './store.js';

export const KEYCHAIN_SERVICE = 'tokens';
export const DEFAULT_KEYCHAIN_TIMEOUT_MS = 10_000;
/** An account that is never written: looking it up proves the keychain answers, without reading a secret. */
const PROBE_ACCOUNT = '.tokens-keychain-check';

/** Appended to every message: the way out when there is no usable keychain. */
const FALLBACK = 'or use the encrypted file store: TOKENS_STORE=file with TOKENS_PASSPHRASE set';

export interface KeychainStoreOptions {
  /** How long one keychain call may take (TOKENS_KEYCHAIN_TIMEOUT). */
  timeoutMs?: number;
  service?: string;
  /** The environment the keychain helper runs in (D-Bus session, HOME, …); default process.env. */
  env?: Env;
}

type KeytarOp = 'getPassword' | 'setPassword' | 'deletePassword' | 'findCredentials';
type HelperReply = { id: number; result?: unknown; error?: { kind: 'load' | 'call'; message: string } };

// The helper: CommonJS, run with `node -e HELPER -- <path of keytar>`. One JSON request per stdin line,
// one JSON reply per stdout line. It exits when its stdin closes (the CLI is gone).
const HELPER = `
'use strict';
let keytar, loadError;
try { keytar = require(process.argv[1]); } catch (e) { loadError = String((e && e.message) || e); }
const send = (reply) => process.stdout.write(JSON.stringify(reply) + '\\n');
const rl = require('node:readline').createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let req;
  try { req = JSON.parse(line); } catch { return; }
  if (loadError !== undefined) return send({ id: req.id, error: { kind: 'load', message: loadError } });
  Promise.resolve()
    .then(() => keytar[req.op](...req.args))
    .then(
      (result) => send({ id: req.id, result: req.op === 'findCredentials' ? result.map((c) => c.account) : result }),
      (e) => send({ id: req.id, error: { kind: 'call', message: String((e && e.message) || e) } }),
    );
});
rl.on('close', () => process.exit(0));
`;

export class KeychainStore implements SecretStore {
  readonly kind = 'keychain' as const;
  readonly where = 'keychain';
  readonly shared = false;
  readonly #timeoutMs: number;
  readonly #service: string;
  readonly #env: Env;
  #keytarPath: string | undefined;
  #helper: Helper | undefined;

  constructor({
    timeoutMs = DEFAULT_KEYCHAIN_TIMEOUT_MS,
    service = KEYCHAIN_SERVICE,
    env = process.env,
  }: KeychainStoreOptions = {}) {
    this.#timeoutMs = timeoutMs;
    this.#service = service;
    this.#env = env;
  }

  async check(): Promise<void> {
    await this.#call('check', 'getPassword', [this.#service, PROBE_ACCOUNT]);
  }

  async get(key: string): Promise<string> {
    const value = await this.#call('read', 'getPassword', [this.#service, key]);
    if (value === null || value === undefined) throw new SecretNotFoundError(key);
    if (typeof value !== 'string') throw this.#unreachable('unexpected answer from keytar');
    return value;
  }

  async set(key: string, value: string): Promise<void> {
    await this.#call('write', 'setPassword', [this.#service, key, value]);
  }

  /** A write needs what a lookup needs: the keychain reachable and unlocked. */
  async delete(key: string): Promise<boolean> {
    return (await this.#call('delete', 'deletePassword', [this.#service, key])) === true;
  }

  async list(): Promise<string[]> {
    const accounts = await this.#call('list', 'findCredentials', [this.#service]);
    if (!Array.isArray(accounts)) throw this.#unreachable('unexpected answer from keytar');
    return accounts.filter((a): a is string => typeof a === 'string' && a !== PROBE_ACCOUNT).sort();
  }

  /** Reachable and unlocked (check()), then the value; the lock orders the writers. */
  async prepareWrite(key: string): Promise<PreparedWrite> {
    await this.check();
    return plainPreparedWrite(this, key);
  }

  parts(profile: string, provider: string, deps: PartsDeps): BrokerParts {
    return localParts(profile, provider, deps);
  }

  /** Where keytar is, resolved from this module's location (the package root's node_modules). */
  #resolveKeytar(): string {
    if (this.#keytarPath) return this.#keytarPath;
    try {
      this.#keytarPath = createRequire(import.meta.url).resolve('keytar');
      return this.#keytarPath;
    } catch (e) {
      throw missingKeytar(firstLine(e), e);
    }
  }

  async #call(what: string, op: KeytarOp, args: string[]): Promise<unknown> {
    const keytarPath = this.#resolveKeytar();
    if (!this.#helper || this.#helper.dead) this.#helper = new Helper(keytarPath, this.#env);
    const helper = this.#helper;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        helper.kill();
        reject(
          new StoreError(
            `the keychain could not be reached: no answer within ${formatSeconds(this.#timeoutMs)} (${what}); ${FALLBACK}`,
            {
              hint: 'It may be locked and waiting for a password prompt nobody can see. TOKENS_KEYCHAIN_TIMEOUT (seconds) sets how long to wait.',
            },
          ),
        );
      }, this.#timeoutMs);
    });
    let reply: HelperReply;
    try {
      reply = await Promise.race([helper.request(op, args), timeout]);
    } finally {
      clearTimeout(timer);
    }
    if (reply.error?.kind === 'load') throw missingKeytar(firstLine(reply.error.message));
    // keytar's errors describe D-Bus / Security framework failures, never the secret.
    if (reply.error) throw this.#unreachable(firstLine(reply.error.message));
    return reply.result;
  }

  #unreachable(reason: string, cause?: unknown): StoreError {
    return new StoreError(`the keychain could not be reached${reason ? ` (${reason})` : ''}; ${FALLBACK}`, {
      cause,
      hint:
        process.platform === 'linux'
          ? 'The keychain needs a D-Bus session bus with a running, unlocked Secret Service (e.g. gnome-keyring).'
          : 'Unlock the keychain and allow tokens to use it.',
    });
  }
}

/** The keytar helper process: started lazily, never keeps the parent alive, killed on timeout. */
class Helper {
  dead = false;
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #pending = new Map<number, { resolve(r: HelperReply): void; reject(e: unknown): void }>();
  #nextId = 1;
  #stdout = '';
  #stderr = '';

  constructor(keytarPath: string, env: Env) {
    this.#child = spawn(process.execPath, ['-e', HELPER, '--', keytarPath], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: helperEnv(env),
      windowsHide: true,
    });
    // Only pending requests (through their timeout timers) keep the event loop alive, not the helper.
    this.#child.unref();
    for (const stream of [this.#child.stdin, this.#child.stdout, this.#child.stderr]) {
      (stream as unknown as { unref?: () => void }).unref?.();
    }
    this.#child.stdout.setEncoding('utf8').on('data', (chunk: string) => this.#onData(chunk));
    this.#child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (this.#stderr.length < 4096) this.#stderr += chunk;
    });
    this.#child.stdin.on('error', () => {});
    this.#child.on('error', (e) => this.#fail(firstLine(e), e));
    this.#child.on('exit', (code, signal) => this.#fail(`keychain helper exited (${signal ?? code})`));
  }

  request(op: KeytarOp, args: string[]): Promise<HelperReply> {
    if (this.dead) return Promise.reject(new Error('keychain helper is gone'));
    const id = this.#nextId++;
    return new Promise<HelperReply>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#child.stdin.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  kill(): void {
    this.dead = true;
    this.#child.kill('SIGKILL');
  }

  #onData(chunk: string): void {
    this.#stdout += chunk;
    let nl: number;
    while ((nl = this.#stdout.indexOf('\n')) >= 0) {
      const line = this.#stdout.slice(0, nl);
      this.#stdout = this.#stdout.slice(nl + 1);
      let reply: HelperReply;
      try {
        reply = JSON.parse(line) as HelperReply;
      } catch {
        continue;
      }
      const waiter = this.#pending.get(reply.id);
      if (waiter) {
        this.#pending.delete(reply.id);
        waiter.resolve(reply);
      }
    }
  }

  #fail(reason: string, cause?: unknown): void {
    this.dead = true;
    const detail = firstLine(this.#stderr) || reason;
    for (const [id, waiter] of this.#pending) {
      this.#pending.delete(id);
      waiter.reject(new StoreError(`the keychain could not be reached (${detail}); ${FALLBACK}`, { cause }));
    }
  }
}

/**
 * The helper needs the session (D-Bus, HOME, …). `env` is already the child environment (no secret
 * variables); NODE_OPTIONS is dropped as well, since the helper is a Node process that must not
 * load whatever it names (an inspector, a preloaded module).
 */
function helperEnv(env: Env): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _dropped, ...rest } = env;
  return rest;
}

function missingKeytar(reason: string, cause?: unknown): StoreError {
  const fix =
    process.platform === 'linux'
      ? 'on Linux install libsecret-1-dev, then run `npm rebuild keytar` (or reinstall tokens)'
      : 'reinstall tokens, or run `npm rebuild keytar`';
  return new StoreError(
    `the keychain module (keytar) is missing or failed to load${reason ? ` (${reason})` : ''}: ${fix}; ${FALLBACK}`,
    { cause },
  );
}

function firstLine(e: unknown): string {
  const message = e instanceof Error ? e.message : typeof e === 'string' ? e : '';
  return (message.split('\n')[0] ?? '').trim().slice(0, 200);
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}
