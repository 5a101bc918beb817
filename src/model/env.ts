// Every TOKENS_* variable, declared once: its name, parser, default and one line of documentation
// (after wrangler's auth-variables.ts). A provider's own variables (endpoint overrides, the secrets
// `login` reads) are declared in its descriptor and listed by the registry, which also says which
// variables no child process ever sees. A set variable with a bad value is a usage error naming it:
// main checks them all before anything else is looked at, so a typo never quietly becomes a default.
// On the warm path (dist/fast.cjs): plain string work only.
import { UsageError } from '../base/errors.js';
import { DEFAULT_PROFILE } from '../base/profile.js';
import { STORE_KINDS, type UserStoreKind } from './model.js';
import type { Env } from './paths.js';

export interface EnvVar<T> {
  readonly name: string;
  /** One line for people: the README's table and `--help` read it. */
  readonly doc: string;
  /** What an unset (or empty) variable means. */
  readonly fallback: T;
  /** The value of a set, non-empty variable; throws an Error saying what is wrong for a bad one. */
  readonly parse: (raw: string) => T;
  /** Carries a secret: withheld from every child process (exec's command, the browser, the keychain helper). */
  readonly secret?: boolean;
  /** For the test suite only; not part of the documented interface. */
  readonly internal?: boolean;
}

/**
 * The longest a request sits out a rate limit (429) by default: token requests always, and
 * `tokens api` and `tokens serve` unless --max-wait says otherwise; beyond it, exit 5 (api) or the
 * 429 passed back (serve).
 */
export const DEFAULT_MAX_WAIT_SECONDS = 30;

/** The longest timeout any variable may set: timers overflow at 2^31 ms (24.8 days) and give up at once. */
export const MAX_TIMEOUT_SECONDS = 3600;

/** A number of seconds in (0, MAX_TIMEOUT_SECONDS], in milliseconds. */
function seconds(raw: string): number {
  const value = Number(raw.trim());
  if (!/^\d+(\.\d+)?$/.test(raw.trim()) || !(value > 0) || value > MAX_TIMEOUT_SECONDS) {
    throw new Error(`must be a number of seconds greater than 0 and at most ${MAX_TIMEOUT_SECONDS}`);
  }
  return Math.round(value * 1000);
}

const text = (raw: string) => raw;

function absolutePath(raw: string): string {
  if (!raw.startsWith('/')) throw new Error('must be an absolute path');
  return raw;
}

function oneOf<const T extends string>(values: readonly T[]) {
  return (raw: string): T => {
    if ((values as readonly string[]).includes(raw)) return raw as T;
    throw new Error(`must be one of ${values.join(', ')}`);
  };
}

export const TOKENS_PROFILE: EnvVar<string> = {
  name: 'TOKENS_PROFILE',
  doc: 'profile used when --profile is not given (default "default")',
  fallback: DEFAULT_PROFILE,
  // Checked where it is used (parseProfile), and only when --profile does not override it.
  parse: text,
};
export const TOKENS_STORE: EnvVar<UserStoreKind> = {
  name: 'TOKENS_STORE',
  doc: `where secrets live: ${STORE_KINDS.join(', ')} (default keychain)`,
  fallback: 'keychain',
  parse: oneOf(STORE_KINDS),
};
export const TOKENS_PASSPHRASE: EnvVar<string | undefined> = {
  name: 'TOKENS_PASSPHRASE',
  doc: 'passphrase the encrypted stores (TOKENS_STORE=file and redis) derive their key from',
  fallback: undefined,
  parse: (raw) => {
    if (raw.trim() === '') throw new Error('must not be only blanks');
    return raw;
  },
  secret: true,
};
// A path, not a secret: exec's child may be given it. It reaches nothing the child could not read
// anyway (the same user), and lets a `tokens` run inside the child find the passphrase.
export const TOKENS_PASSPHRASE_FILE: EnvVar<string | undefined> = {
  name: 'TOKENS_PASSPHRASE_FILE',
  doc: 'file (owner-only, not a link) whose first line is the passphrase, when TOKENS_PASSPHRASE is not set',
  fallback: undefined,
  parse: absolutePath,
};
export const TOKENS_STORE_FILE: EnvVar<string | undefined> = {
  name: 'TOKENS_STORE_FILE',
  doc: 'path of the file store (default $XDG_DATA_HOME/tokens/secrets.enc)',
  fallback: undefined,
  parse: absolutePath,
};
export const TOKENS_KEYCHAIN_TIMEOUT: EnvVar<number> = {
  name: 'TOKENS_KEYCHAIN_TIMEOUT',
  doc: 'seconds a keychain call may take before exit 6 (default 10)',
  fallback: 10_000,
  parse: seconds,
};
export const TOKENS_HTTP_TIMEOUT: EnvVar<number> = {
  name: 'TOKENS_HTTP_TIMEOUT',
  doc: 'seconds each HTTP attempt may take (default 15)',
  fallback: 15_000,
  parse: seconds,
};
export const TOKENS_LOCK_TIMEOUT: EnvVar<number> = {
  name: 'TOKENS_LOCK_TIMEOUT',
  doc: 'seconds to wait for another tokens process refreshing the same token (default 90)',
  fallback: 90_000,
  parse: seconds,
};
export const TOKENS_REDIS_URL: EnvVar<string | undefined> = {
  name: 'TOKENS_REDIS_URL',
  doc: 'the server of TOKENS_STORE=redis: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or rediss://…',
  fallback: undefined,
  // The whole check is the Redis store's (src/store/redis-env.ts); here only what is cheap.
  parse: (raw) => {
    if (!/^rediss?:\/\/\S+$/.test(raw)) throw new Error('is not a Redis URL (redis://… or rediss://…)');
    return raw;
  },
  secret: true,
};
export const TOKENS_REDIS_PREFIX: EnvVar<string> = {
  name: 'TOKENS_REDIS_PREFIX',
  doc: 'prefix of the keys in Redis, so teams can share a server (default "tokens:")',
  fallback: 'tokens:',
  parse: text,
};
export const TOKENS_REDIS_TIMEOUT: EnvVar<number> = {
  name: 'TOKENS_REDIS_TIMEOUT',
  doc: 'seconds each Redis call may take before exit 6 (default 5, at most 60)',
  fallback: 5_000,
  parse: (raw) => {
    const ms = seconds(raw);
    if (ms > 60_000) throw new Error('must be at most 60 seconds');
    return ms;
  },
};
export const TOKENS_SERVE_KEY: EnvVar<string | undefined> = {
  name: 'TOKENS_SERVE_KEY',
  doc: 'the key in the URLs of `tokens serve` (at least 32 of A-Z a-z 0-9 - _), instead of a new random one each start',
  fallback: undefined,
  parse: (raw) => {
    if (!/^[A-Za-z0-9_-]{32,}$/.test(raw)) throw new Error('must be at least 32 characters of A-Z, a-z, 0-9, - and _');
    return raw;
  },
  secret: true,
};
export const TOKENS_DEBUG: EnvVar<boolean> = {
  name: 'TOKENS_DEBUG',
  doc: 'any value: explain what happens on stderr, as --verbose does (never secrets)',
  fallback: false,
  parse: () => true,
};
export const TOKENS_EXEC_STAY: EnvVar<boolean> = {
  name: 'TOKENS_EXEC_STAY',
  doc: 'any value: exec starts its command as a child, as where the process cannot be replaced (the tests of that path)',
  fallback: false,
  parse: () => true,
  internal: true,
};
export const TOKENS_MASK: EnvVar<boolean | undefined> = {
  name: 'TOKENS_MASK',
  doc: "1 or 0: exec masks the tokens in its command's piped output, or not (default: on when CI is set, not to 0 or false)",
  fallback: undefined,
  parse: (raw) => {
    if (raw === '1' || raw === '0') return raw === '1';
    throw new Error('must be 1 or 0');
  },
};
// Set by exec for its supervisor (src/supervise.ts) only, never read from a user's environment.
export const TOKENS_EXEC_PLAN: EnvVar<string | undefined> = {
  name: 'TOKENS_EXEC_PLAN',
  doc: 'what exec hands its supervisor: the command, what to mask, the companion processes (set by tokens itself)',
  fallback: undefined,
  parse: text,
  internal: true,
};
export const TOKENS_NO_FAST_PATH: EnvVar<boolean> = {
  name: 'TOKENS_NO_FAST_PATH',
  doc: 'any value: every call goes to the full program (the fast-vs-full comparison tests)',
  fallback: false,
  parse: () => true,
  internal: true,
};

/**
 * The standard proxy variables (curl's, not ours: no TOKENS_ prefix, not in the table above, and
 * passed on to child processes). Only whether one is set is looked at before a request; the rules
 * (src/http/proxy.ts) are loaded when one is.
 */
export const PROXY_VARIABLES = ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY'] as const;

/** Every variable that is not a provider's own, in the order the README lists them. */
export const CORE_VARIABLES: readonly EnvVar<unknown>[] = [
  TOKENS_PROFILE,
  TOKENS_STORE,
  TOKENS_PASSPHRASE,
  TOKENS_PASSPHRASE_FILE,
  TOKENS_STORE_FILE,
  TOKENS_KEYCHAIN_TIMEOUT,
  TOKENS_HTTP_TIMEOUT,
  TOKENS_LOCK_TIMEOUT,
  TOKENS_REDIS_URL,
  TOKENS_REDIS_PREFIX,
  TOKENS_REDIS_TIMEOUT,
  TOKENS_SERVE_KEY,
  TOKENS_DEBUG,
  TOKENS_MASK,
  TOKENS_NO_FAST_PATH,
  TOKENS_EXEC_STAY,
  TOKENS_EXEC_PLAN,
];

/** The variable's value: its fallback when unset or empty; a UsageError naming it when bad. */
export function readEnv<T>(env: Env, variable: EnvVar<T>): T {
  const raw = env[variable.name];
  if (raw === undefined || raw === '') return variable.fallback;
  try {
    return variable.parse(raw);
  } catch (error) {
    // A secret's value is never echoed, even a bad one.
    const shown = variable.secret ? '' : `, not ${JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw)}`;
    throw new UsageError(`${variable.name} ${(error as Error).message}${shown}`);
  }
}

/** Parses every set variable of the list; the first bad one is a UsageError. */
export function checkEnv(env: Env, variables: readonly EnvVar<unknown>[]): void {
  for (const variable of variables) readEnv(env, variable);
}

/** The environment minus the named variables: what a child process of ours is given. */
export function withoutVariables(env: Env, withheld: ReadonlySet<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined && !withheld.has(name)) out[name] = value;
  return out;
}
