// The fast path: `tokens get` and `tokens exec` answered from a fresh token cache without loading
// the full program (commander, the broker, the stores, the providers' code). scripts/build.mjs
// bundles this file on its own, as CommonJS, into dist/fast.cjs, which bin/tokens.js requires: a
// CommonJS entry skips the ES module loader's start-up, and one small file is all a warm call reads.
//
// It claims only the plainest forms of the two commands (see planFastPath) when every token they
// need is in the cache and fresh. Everything else, and anything in doubt, goes to the full program
// (dist/main.js, loaded with import()), which prints the real output, help and errors. For what it
// claims, the fast path's output and exit code are those of the full program: it runs the same
// validators, the same cache read and freshness test, the same formatting and the same exec child
// (src/commands/exec-child.ts). What it saves, besides commander and the module graph: setting up
// process.stdout (the token goes out with fs.writeSync) and, for get, node:child_process.
// test/unit/fast-path.test.ts runs calls both ways and compares; test/unit/warm-path.test.ts checks
// what dist/fast.cjs contains and what a warm call loads.
import { writeSync } from 'node:fs';
import { DEFAULT_MIN_TTL_SECONDS, isFresh, readCache } from './core/cache.js';
import { resolveEndpoints } from './core/endpoints.js';
import { checkEnv, TOKENS_DEBUG, TOKENS_NO_FAST_PATH } from './core/env.js';
import { allVariables } from './providers/registry.js';
import { FORMATS, formatCredential, type Format } from './core/format.js';
import { resolvePaths, type Env, type Paths } from './core/paths.js';
import { parseProfile, parseProvider, parseWholeNumber } from './cli/parse.js';
import type { Credential } from './core/broker.js';
import type { ProviderDescriptor } from './core/model.js';

/** Set (to anything) by the tests only: every call goes to the full program, for comparison. */
export const NO_FAST_PATH_ENV = TOKENS_NO_FAST_PATH.name;

export type FastPlan =
  | { command: 'get'; provider: ProviderDescriptor; profile: string; format: Format; minTtlSeconds: number; minTtlGiven: boolean }
  | { command: 'exec'; providers: ProviderDescriptor[]; profile: string; argv: string[] };

/** The options the fast path understands, per command; each takes a value. */
const GET_OPTIONS = ['--format', '--min-ttl', '--profile'] as const;
const EXEC_OPTIONS = ['--provider', '--profile'] as const;

interface Scanned {
  /** Option name → the values given, in order. */
  values: Map<string, string[]>;
  /** Arguments that are not options, before any `--`. */
  operands: string[];
  /** What follows the first `--`, or undefined without one. */
  afterDashes: string[] | undefined;
}

/**
 * The arguments after the command name, in the forms commander accepts for these options
 * (`--name value`, `--name=value`). Undefined for anything else: an unknown or short option, a
 * missing value, a value that looks like an option.
 */
function scan(args: readonly string[], known: readonly string[]): Scanned | undefined {
  const values = new Map<string, string[]>();
  const operands: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return { values, operands, afterDashes: args.slice(i + 1) };
    if (!arg.startsWith('-')) {
      operands.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (!known.includes(name)) return undefined;
    let value: string | undefined;
    if (eq > 0) value = arg.slice(eq + 1);
    else {
      value = args[++i];
      if (value === undefined || value.startsWith('-')) return undefined;
    }
    values.set(name, [...(values.get(name) ?? []), value]);
  }
  return { values, operands, afterDashes: undefined };
}

/** The one value of a non-repeatable option; undefined when absent; throws when repeated. */
function single(scanned: Scanned, name: string): string | undefined {
  const given = scanned.values.get(name);
  if (given && given.length > 1) throw new Error(`${name} repeated`);
  return given?.[0];
}

/** --profile, else TOKENS_PROFILE (even empty, as commander takes it), else the default. */
function profileOf(scanned: Scanned, env: Env): string {
  return parseProfile(single(scanned, '--profile') ?? env.TOKENS_PROFILE);
}

/**
 * What the fast path would do with these arguments, or undefined when they are the full program's
 * business. Pure: no I/O. A value the full program would reject (unknown provider, bad format,
 * bad endpoint override, …) is undefined here, so the full program reports it.
 */
export function planFastPath(argv: readonly string[], env: Env): FastPlan | undefined {
  if (env[NO_FAST_PATH_ENV] !== undefined || env[TOKENS_DEBUG.name] !== undefined) return undefined;
  const [command, ...args] = argv;
  try {
    // A bad TOKENS_* value is the full program's usage error.
    checkEnv(env, allVariables());
    if (command === 'get') {
      const scanned = scan(args, GET_OPTIONS);
      if (!scanned || scanned.afterDashes !== undefined || scanned.operands.length !== 1) return undefined;
      const provider = parseProvider(scanned.operands[0]!);
      const format = single(scanned, '--format') ?? 'token';
      if (!(FORMATS as readonly string[]).includes(format)) return undefined;
      const minTtl = single(scanned, '--min-ttl');
      const plan: FastPlan = {
        command: 'get',
        provider,
        profile: profileOf(scanned, env),
        format: format as Format,
        minTtlSeconds: parseWholeNumber(minTtl ?? String(DEFAULT_MIN_TTL_SECONDS), '--min-ttl'),
        minTtlGiven: minTtl !== undefined,
      };
      resolveEndpoints(provider, env);
      return plan;
    }
    if (command === 'exec') {
      const scanned = scan(args, EXEC_OPTIONS);
      // Exactly `exec OPTIONS -- CMD [ARGS…]`, with at least one --provider (none means "every
      // configured provider", which needs the config file).
      if (!scanned || scanned.operands.length !== 0 || !scanned.afterDashes || scanned.afterDashes.length === 0) return undefined;
      const providers = (scanned.values.get('--provider') ?? []).map((name) => parseProvider(name));
      if (providers.length === 0) return undefined;
      const plan: FastPlan = { command: 'exec', providers, profile: profileOf(scanned, env), argv: scanned.afterDashes };
      for (const provider of providers) resolveEndpoints(provider, env);
      return plan;
    }
  } catch {
    // A value the full program rejects: it says so itself.
  }
  return undefined;
}

/** The cached token, when it has at least minTtlSeconds left: what TokenBroker.get returns first. */
async function freshCredential(paths: Paths, provider: ProviderDescriptor, profile: string, minTtlSeconds: number, given: boolean): Promise<Credential | undefined> {
  const read = await readCache(paths, profile, provider.id);
  return read.kind === 'hit' && isFresh(read.token, Date.now(), minTtlSeconds, given) ? { kind: 'token', token: read.token } : undefined;
}

/**
 * The output of one fast run. Node sets process.stdout and process.stderr up on first use, which
 * costs a few milliseconds (a pipe loads node:net), so they are touched only when needed, and at
 * exit only the ones used are waited for.
 */
class FastOutput {
  readonly used = new Set<NodeJS.WriteStream>();

  /**
   * Writes to fd 1 with writeSync, which is what process.stdout does for a file, without setting up
   * the stream. Whatever writeSync cannot finish (EAGAIN on a non-blocking pipe, EPIPE, …) goes to
   * process.stdout after all, whose handling of it is the full program's.
   */
  stdout(text: string): void {
    const bytes = Buffer.from(text);
    let written = 0;
    try {
      while (written < bytes.length) written += writeSync(1, bytes, written);
    } catch {
      this.used.add(process.stdout);
      process.stdout.write(bytes.subarray(written));
    }
  }

  readonly stderr = {
    write: (text: string): void => {
      this.used.add(process.stderr);
      process.stderr.write(text);
    },
  };
}

/**
 * Answers a planned call when the cache allows: get's output (for the caller to print), or exec's
 * child run to its end. Undefined when the full program must take it, decided before anything is
 * printed or run.
 */
async function answer(plan: FastPlan, env: Env, output: FastOutput): Promise<{ stdout?: string; code: number } | undefined> {
  const paths = resolvePaths(env);
  if (plan.command === 'get') {
    const credential = await freshCredential(paths, plan.provider, plan.profile, plan.minTtlSeconds, plan.minTtlGiven);
    if (!credential) return undefined;
    return { stdout: formatCredential(plan.format, plan.provider, plan.profile, credential), code: 0 };
  }
  // Loaded only here: it brings node:child_process, which a get never needs.
  const { childEnv, spawnChild, EXEC_MIN_TTL_SECONDS } = await import('./commands/exec-child.js');
  const credentials = await Promise.all(plan.providers.map((p) => freshCredential(paths, p, plan.profile, EXEC_MIN_TTL_SECONDS, false)));
  if (!credentials.every((c): c is Credential => c !== undefined)) return undefined;
  // spawnChild rejects only when spawn() throws, before any child exists: the full program may retry.
  const code = await spawnChild(plan.argv, childEnv(env, plan.providers, credentials, plan.profile), output.stderr).catch(() => undefined);
  return code === undefined ? undefined : { code };
}

/** Exits once everything written to these streams has drained. */
function exitAfter(code: number, streams: readonly NodeJS.WritableStream[]): void {
  let pending = streams.length;
  if (pending === 0) process.exit(code);
  for (const stream of streams) stream.write('', () => --pending === 0 && process.exit(code));
}

/**
 * Keeps SIGUSR1 from opening Node's inspector (a debugger on 127.0.0.1:9229) inside this process:
 * with a listener installed, Node no longer starts it on that signal. Every run installs it except
 * a warm get, which lives a few milliseconds past Node's own start-up (when no code of ours can run
 * anyway), holds only the cached token it prints, and keeps its built-ins to those of an empty
 * script (test/unit/warm-path.test.ts). `exec` passes SIGUSR1 on to its child.
 */
function refuseInspectorSignal(): void {
  process.on('SIGUSR1', () => {});
}

/** bin/tokens.js: the fast path when it applies, else the full program; then exit with its code. */
export async function run(argv: string[]): Promise<void> {
  const plan = planFastPath(argv, process.env);
  if (plan?.command !== 'get') refuseInspectorSignal();
  const output = new FastOutput();
  const answered = plan ? await answer(plan, process.env, output).catch(() => undefined) : undefined;
  if (answered) {
    if (answered.stdout !== undefined) output.stdout(answered.stdout);
    return exitAfter(answered.code, [...output.used]);
  }
  if (plan?.command === 'get') refuseInspectorSignal();
  const { main } = await import('./main.js');
  const code = await main(argv);
  // Exit once stdout has drained, so nothing (a keep-alive socket, a stdin reader) holds us open.
  exitAfter(code, [process.stdout]);
}
