// The keychain store's helper process (src/store/keychain.ts says why keytar runs in one): the
// script it runs, and the parent's side of its pipes. A module of its own, with nothing but
// node:child_process, so that the fast path can start the helper early (src/store/early-start.ts):
// a Node start of its own that then overlaps with the loading of the full program.
//
// Secrets travel to and from the helper over its stdin/stdout pipes only, never argv or the environment.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { StoreError } from '../base/errors.js';
import type { Env } from '../model/paths.js';

/** Appended to every message: the way out when there is no usable keychain. */
export const FALLBACK =
  'or use the encrypted file store: TOKENS_STORE=file, with TOKENS_PASSPHRASE or TOKENS_PASSPHRASE_FILE';

export type KeytarOp = 'getPassword' | 'setPassword' | 'deletePassword' | 'findCredentials';
export type HelperReply = { id: number; result?: unknown; error?: { kind: 'load' | 'call'; message: string } };

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

/** The keytar helper process: started lazily, never keeps the parent alive, killed on timeout. */
export class KeychainHelper {
  dead = false;
  /** The keytar it loads: a helper started early is used only for the same one. */
  readonly keytarPath: string;
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #pending = new Map<number, { resolve(r: HelperReply): void; reject(e: unknown): void }>();
  #nextId = 1;
  #stdout = '';
  #stderr = '';

  /** `env`: the child environment (no withheld variable); `keytarPath`: where keytar is (resolveKeytar). */
  constructor(keytarPath: string, env: Env) {
    this.keytarPath = keytarPath;
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

export function firstLine(e: unknown): string {
  const message = e instanceof Error ? e.message : typeof e === 'string' ? e : '';
  return (message.split('\n')[0] ?? '').trim().slice(0, 200);
}
