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

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StoreError } from '../base/errors.js';
import type { Env } from '../model/paths.js';
import { FALLBACK, firstLine, KeychainHelper, type HelperReply, type KeytarOp } from './keychain-helper.js';
import { plainPreparedWrite, SecretNotFoundError, type PreparedWrite, type SecretStore } from './store.js';

export const KEYCHAIN_SERVICE = 'tokens';
export const DEFAULT_KEYCHAIN_TIMEOUT_MS = 10_000;
/** An account that is never written: looking it up proves the keychain answers, without reading a secret. */
const PROBE_ACCOUNT = '.tokens-keychain-check';

export interface KeychainStoreOptions {
  /** How long one keychain call may take (TOKENS_KEYCHAIN_TIMEOUT). */
  timeoutMs?: number;
  service?: string;
  /** The environment the keychain helper runs in (D-Bus session, HOME, …); default process.env. */
  env?: Env;
  /** A helper started early (src/store/early-start.ts), in that environment: used for the first call. */
  helper?: KeychainHelper;
}

export class KeychainStore implements SecretStore {
  readonly kind = 'keychain' as const;
  readonly where = 'keychain';
  readonly #timeoutMs: number;
  readonly #service: string;
  readonly #env: Env;
  #keytarPath: string | undefined;
  #helper: KeychainHelper | undefined;
  #earlyHelper: KeychainHelper | undefined;

  constructor({
    timeoutMs = DEFAULT_KEYCHAIN_TIMEOUT_MS,
    service = KEYCHAIN_SERVICE,
    env = process.env,
    helper,
  }: KeychainStoreOptions = {}) {
    this.#timeoutMs = timeoutMs;
    this.#service = service;
    this.#env = env;
    this.#earlyHelper = helper;
  }

  async check(): Promise<void> {
    await this.#call('checking that it answers', 'getPassword', [this.#service, PROBE_ACCOUNT]);
  }

  async get(key: string): Promise<string> {
    const value = await this.#call('reading a secret', 'getPassword', [this.#service, key]);
    if (value === null || value === undefined) {
      // keytar answers a locked item as a missing one: ask the Secret Service which it is.
      if (await isLockedItem(this.#service, key, this.#env, this.#timeoutMs)) {
        throw new StoreError(`the keychain is locked: the item ${key} is stored but cannot be read`, {
          hint: `Unlock the keyring (e.g. log in to the desktop session, or \`secret-tool unlock\`), ${FALLBACK}`,
        });
      }
      throw new SecretNotFoundError(key);
    }
    if (typeof value !== 'string') throw this.#unreachable('unexpected answer from keytar');
    return value;
  }

  async set(key: string, value: string): Promise<void> {
    await this.#call('writing a secret', 'setPassword', [this.#service, key, value]);
  }

  /** A write needs what a lookup needs: the keychain reachable and unlocked. */
  async delete(key: string): Promise<boolean> {
    return (await this.#call('deleting a secret', 'deletePassword', [this.#service, key])) === true;
  }

  async list(): Promise<string[]> {
    const accounts = await this.#call('listing secrets', 'findCredentials', [this.#service]);
    if (!Array.isArray(accounts)) throw this.#unreachable('unexpected answer from keytar');
    return accounts.filter((a): a is string => typeof a === 'string' && a !== PROBE_ACCOUNT).sort();
  }

  /** Reachable and unlocked (check()), then the value; the lock orders the writers. */
  async prepareWrite(key: string): Promise<PreparedWrite> {
    await this.check();
    return plainPreparedWrite(this, key);
  }

  /** Where keytar is, resolved from this module's location (the package root's node_modules). */
  #resolveKeytar(): string {
    if (this.#keytarPath) return this.#keytarPath;
    try {
      this.#keytarPath = createRequire(import.meta.url).resolve('keytar');
      return this.#keytarPath;
    } catch (e) {
      throw missingKeytar(firstLine(e), true, e);
    }
  }

  /** `what`: what the call was doing, for a time-out's message ("while reading a secret"). */
  async #call(what: string, op: KeytarOp, args: string[]): Promise<unknown> {
    const keytarPath = this.#resolveKeytar();
    if (!this.#helper || this.#helper.dead) {
      const early = this.#earlyHelper;
      this.#earlyHelper = undefined;
      if (early && !early.dead && early.keytarPath === keytarPath) this.#helper = early;
      else {
        early?.kill();
        this.#helper = new KeychainHelper(keytarPath, this.#env);
      }
    }
    const helper = this.#helper;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        helper.kill();
        reject(
          new StoreError(
            `the keychain could not be reached: no answer within ${formatSeconds(this.#timeoutMs)} while ${what}; ${FALLBACK}`,
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
    if (reply.error?.kind === 'load') throw missingKeytar(firstLine(reply.error.message), false);
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

/**
 * Whether the Secret Service (Linux) holds this item in a locked collection: its SearchItems
 * answers (unlocked, locked) object paths, and only the second list is filled. Asked through
 * dbus-send, in the helper's environment; where it is missing or fails, nothing can be told, and
 * the item counts as absent, as keytar says.
 */
function isLockedItem(service: string, account: string, env: Env, timeoutMs: number): Promise<boolean> {
  if (process.platform !== 'linux') return Promise.resolve(false);
  const args = [
    '--session',
    '--print-reply',
    '--dest=org.freedesktop.secrets',
    '/org/freedesktop/secrets',
    'org.freedesktop.Secret.Service.SearchItems',
    `dict:string:string:service,${service},account,${account}`,
  ];
  return new Promise((resolve) => {
    execFile('dbus-send', args, { env, timeout: timeoutMs, windowsHide: true }, (error, stdout) => {
      if (error) return resolve(false);
      const locked = String(stdout).split('array [')[2] ?? '';
      resolve(locked.includes('object path'));
    });
  });
}

/** `absent`: keytar cannot be resolved at all (its build failed and npm removed it); else it would not load. */
function missingKeytar(reason: string, absent: boolean, cause?: unknown): StoreError {
  const deps = process.platform === 'linux' ? 'install libsecret-1-dev (and python3, make, g++), then ' : '';
  return new StoreError(
    `the keychain module (keytar) is missing or failed to load${reason ? ` (${reason})` : ''}: ${deps}${keytarFix(absent)}; ${FALLBACK}`,
    { cause },
  );
}

/**
 * The npm command that builds keytar where this tokens is installed. npm 12 runs a dependency's
 * install script only when allowScripts (package.json, which names keytar) or, for a global install,
 * --allow-scripts names it, and refuses --allow-scripts in a project. A keytar whose build failed is
 * removed by npm (an optional dependency), and `npm rebuild` then silently does nothing.
 */
function keytarFix(absent: boolean): string {
  const root = packageRoot();
  if (root !== undefined && basename(dirname(root)) !== 'node_modules') {
    const where = shellWord(root);
    return absent ? `run \`npm install\` in ${where}` : `run \`npm rebuild keytar\` in ${where}`;
  }
  const prefix = root === undefined ? undefined : npmGlobalPrefix(root);
  if (prefix !== undefined) {
    const globalPrefix = shellWord(prefix);
    return absent
      ? `reinstall tokens with \`npm install -g --prefix ${globalPrefix} --allow-scripts=keytar\` and the package you installed it from`
      : `run \`npm rebuild -g --prefix ${globalPrefix} --allow-scripts=keytar keytar\``;
  }
  return "reinstall tokens with keytar's install script allowed (allowScripts in package.json, or --allow-scripts=keytar for a global install)";
}

/** A path as one word of a command to paste (Windows' default prefix is C:\\Program Files\\nodejs). */
function shellWord(path: string): string {
  if (/^[\w@%+=:,./\\-]+$/.test(path)) return path;
  return process.platform === 'win32' ? `"${path}"` : `'${path.replaceAll("'", "'\\''")}'`;
}

/** The nearest directory above this module with tokens' package.json: a checkout or an installed package. */
function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      if (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name === 'tokens') return dir;
    } catch {
      // No package.json here, or not JSON: look further up.
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** npm's global layout: PREFIX/lib/node_modules/tokens, or PREFIX/node_modules/tokens on Windows. */
function npmGlobalPrefix(root: string): string | undefined {
  const modules = dirname(root);
  if (basename(modules) !== 'node_modules') return undefined;
  if (process.platform === 'win32') return dirname(modules);
  return basename(dirname(modules)) === 'lib' ? dirname(dirname(modules)) : undefined;
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}
