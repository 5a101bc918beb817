// The fast path: the everyday forms of `tokens get`, `exec`, `status`, `--version` and help answered
// without loading the full program (commander, the broker, the stores, the providers' code) — from a
// fresh token cache, config.json read by hand (src/core/config-file.ts) and the notes of what is
// stored (src/core/secret-note.ts); at expiry, all but one of many parallel calls wait here for the
// one refresh (src/fast-refresh.ts). scripts/build.mjs
// bundles this file on its own, as CommonJS, into dist/fast.cjs, which bin/tokens.js requires: a
// CommonJS entry skips the ES module loader's start-up, and one small file is all a warm call reads.
//
// It claims only the plainest forms of those commands (see planFastPath), and answers them only
// when what it reads is certain. Everything else, and anything in doubt, goes to the full program
// (dist/main.js, loaded with import()), which prints the real output, help and errors. For what it
// claims, the fast path's output and exit code are those of the full program: it runs the same
// validators, the same cache read and freshness test, the same formatting and the same exec child
// (src/commands/exec-child.ts); help it prints as the full program printed it at build time
// (src/fast-help.ts). What it saves, besides commander and the module graph: setting up
// process.stdout (the token goes out with fs.writeSync) and node:child_process (a get never needs
// it; exec replaces the process with its command: src/commands/replace-process.ts).
// test/cli/fast-path.test.ts runs calls both ways and compares; test/cli/warm-path.test.ts checks
// what dist/fast.cjs contains and what a warm call loads.
import { existsSync } from 'node:fs';
import { isatty } from 'node:tty';
import { DEFAULT_MIN_TTL_SECONDS, isFresh, loginCheckedRecently, readCache, type CacheRead } from './core/cache.js';
import { readConfigQuickly, settingsFor } from './core/config-file.js';
import { resolveEndpoints } from './core/endpoints.js';
import { failurePath, lockPath } from './core/lock-files.js';
import { checkEnv, readEnv, TOKENS_DEBUG, TOKENS_EXEC_STAY, TOKENS_NO_FAST_PATH } from './core/env.js';
import { writeOut } from './core/sync-output.js';
import { describeTokensError, isTokensError } from './core/errors.js';
import { FORMATS, formatCredential, type Format } from './core/format.js';
import { resolvePaths, type Env, type Paths } from './core/paths.js';
import { notedRefreshToken } from './core/secret-note.js';
import { parseProfile, parseProvider, parseWholeNumber } from './cli/parse.js';
import { statusEntry, statusOutput, statusTargets, wantsColour, type StatusOptions } from './commands/status-report.js';
import { isHelpForm, recordedHelp } from './fast-help.js';
import { awaitRefresh, type RefreshClaim } from './fast-refresh.js';
import { allVariables, childEnvironment, PROVIDERS } from './providers/registry.js';
import { storeKindFromEnv } from './store/locations.js';
import pkg from '../package.json' with { type: 'json' };
import type { Credential } from './core/model.js';
import type { ProviderDescriptor } from './core/model.js';

/** Set (to anything) by the tests only: every call goes to the full program, for comparison. */
export const NO_FAST_PATH_ENV = TOKENS_NO_FAST_PATH.name;

export type FastPlan =
  | {
      command: 'get';
      provider: ProviderDescriptor;
      profile: string;
      format: Format;
      minTtlSeconds: number;
      minTtlGiven: boolean;
    }
  /** `providers` undefined: every provider configured in the profile (config.json). */
  | {
      command: 'exec';
      providers: ProviderDescriptor[] | undefined;
      profile: string;
      argv: string[];
      minTtl: { seconds: number; given: boolean };
      /** --mask / --no-mask, when given. */
      mask?: boolean;
    }
  | { command: 'status'; options: StatusOptions }
  | { command: 'version' }
  /** A help form, answered from the build's recording (src/fast-help.ts). */
  | { command: 'help'; argv: readonly string[] };

/** The options the fast path understands, per command; each takes a value, except the flags. */
const GET_OPTIONS = ['--format', '--min-ttl', '--profile'] as const;
const EXEC_OPTIONS = ['--provider', '--profile', '--min-ttl'] as const;
const EXEC_FLAGS = ['--mask', '--no-mask'] as const;
const STATUS_OPTIONS = ['--profile'] as const;
const STATUS_FLAGS = ['--json'] as const;

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
function scan(args: readonly string[], known: readonly string[], flags: readonly string[] = []): Scanned | undefined {
  const values = new Map<string, string[]>();
  const operands: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return { values, operands, afterDashes: args.slice(i + 1) };
    if (!arg.startsWith('-')) {
      operands.push(arg);
      continue;
    }
    if (flags.includes(arg)) {
      if (values.has(arg)) return undefined;
      values.set(arg, []);
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
  // Commander answers these before the variables are checked.
  if (argv.length === 1 && (command === '--version' || command === '-V')) return { command: 'version' };
  if (isHelpForm(argv)) return { command: 'help', argv: [...argv] };
  try {
    // A bad TOKENS_* value is the full program's usage error.
    checkEnv(env, allVariables());
    if (command === 'get') {
      const scanned = scan(args, GET_OPTIONS);
      if (!scanned || scanned.afterDashes !== undefined || scanned.operands.length !== 1) return undefined;
      const provider = parseProvider(scanned.operands[0]!);
      const format = single(scanned, '--format') ?? 'token';
      const minTtl = single(scanned, '--min-ttl');
      if (!(FORMATS as readonly string[]).includes(format)) return undefined;
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
      const scanned = scan(args, EXEC_OPTIONS, EXEC_FLAGS);
      // Exactly `exec OPTIONS -- CMD [ARGS…]`; no --provider means every configured provider.
      if (scanned?.operands.length !== 0 || !scanned.afterDashes || scanned.afterDashes.length === 0) return undefined;
      const providers = (scanned.values.get('--provider') ?? []).map((name) => parseProvider(name));
      const minTtl = single(scanned, '--min-ttl');
      const plan: FastPlan = {
        command: 'exec',
        providers: providers.length > 0 ? providers : undefined,
        profile: profileOf(scanned, env),
        argv: scanned.afterDashes,
        minTtl: {
          seconds: parseWholeNumber(minTtl ?? String(DEFAULT_MIN_TTL_SECONDS), '--min-ttl'),
          given: minTtl !== undefined,
        },
      };
      // Both given: the last one wins, as commander has it.
      const own = args.slice(0, args.indexOf('--'));
      const maskFlag = own.findLast((arg) => arg === '--mask' || arg === '--no-mask');
      if (maskFlag !== undefined) plan.mask = maskFlag === '--mask';
      for (const provider of providers) resolveEndpoints(provider, env);
      return plan;
    }
    if (command === 'status') {
      const scanned = scan(args, STATUS_OPTIONS, STATUS_FLAGS);
      if (!scanned || scanned.afterDashes !== undefined || scanned.operands.length > 1) return undefined;
      const name = scanned.operands[0];
      return {
        command: 'status',
        options: {
          profile: profileOf(scanned, env),
          json: scanned.values.has('--json'),
          ...(name === undefined ? {} : { provider: parseProvider(name) }),
        },
      };
    }
  } catch {
    // A value the full program rejects: it says so itself.
  }
  return undefined;
}

/** What a run hands to the full program when the fast path does not answer. */
interface Handoff {
  /** Refreshes this process claimed (src/fast-refresh.ts): released once the full program is done. */
  claims: RefreshClaim[];
  /** When this process began waiting for another process's refresh, if it did. */
  askedAt?: number;
}

/**
 * The token TokenBroker.get would return first: the cached one when it has at least minTtlSeconds
 * left, else the one another process's refresh leaves in the cache (waited for). Undefined when
 * the full program must get it; `handoff` then says what this process claimed or waited for.
 */
async function credentialFor(
  paths: Paths,
  env: Env,
  provider: ProviderDescriptor,
  profile: string,
  minTtl: { seconds: number; given: boolean },
  handoff: Handoff,
  mayClaim: boolean,
): Promise<Credential | undefined> {
  const read = await readCache(paths, profile, provider.id);
  if (read.kind === 'hit' && isFresh(read.token, Date.now(), minTtl.seconds, minTtl.given))
    return loginStillStands(env, read) ? { kind: 'token', token: read.token } : undefined;
  // A damaged cache is the full program's to report (with --verbose) and rebuild.
  if (read.kind === 'damaged') return undefined;
  // Waiting can take a while: from here on, as in every run but a warm get, no inspector on SIGUSR1.
  refuseInspectorSignal();
  const waited = await awaitRefresh(paths, env, profile, provider.id, minTtl, { mayClaim });
  if (waited.kind === 'token')
    return loginStillStands(env, waited.read) ? { kind: 'token', token: waited.token } : undefined;
  if (waited.claim) handoff.claims.push(waited.claim);
  if (waited.askedAt !== undefined) handoff.askedAt = Math.min(handoff.askedAt ?? Infinity, waited.askedAt);
  return undefined;
}

/**
 * Whether this cached entry may answer: with the Redis store, only while the store confirmed its
 * shared login within LOGIN_CHECK_MS (a warm get never contacts the server); past that the full
 * program asks the store (TokenBroker's #readLocal) and records the answer in the entry.
 */
function loginStillStands(env: Env, read: CacheRead): boolean {
  return storeKindFromEnv(env) !== 'redis' || loginCheckedRecently(read, Date.now());
}

/**
 * The output of one fast run. Node sets process.stdout and process.stderr up on first use, which
 * costs a few milliseconds (a pipe loads node:net), so they are touched only when needed, and at
 * exit only the ones used are waited for.
 */
class FastOutput {
  readonly used = new Set<NodeJS.WriteStream>();

  stdout(text: string): void {
    const stream = writeOut(1, text);
    if (stream) this.used.add(stream);
  }

  readonly stderr = {
    write: (text: string): void => {
      const stream = writeOut(2, text);
      if (stream) this.used.add(stream);
    },
  };
}

/** A planned call answered: what to print, and the exit code. */
interface Answer {
  stdout?: string;
  stderr?: string;
  code: number;
}

/**
 * Answers a planned call when what it needs is certain: get's or status's output (for the caller
 * to print), or exec's child run to its end. Undefined when the full program must take it, decided
 * before anything is printed or run.
 */
async function answer(plan: FastPlan, env: Env, output: FastOutput, handoff: Handoff): Promise<Answer | undefined> {
  const paths = resolvePaths(env);
  switch (plan.command) {
    case 'version':
      return { stdout: `${pkg.version}\n`, code: 0 };
    case 'help':
      // dist/help.json sits next to this bundle, dist/fast.cjs.
      return recordedHelp(plan.argv, __dirname);
    case 'get': {
      const credential = await credentialFor(
        paths,
        env,
        plan.provider,
        plan.profile,
        { seconds: plan.minTtlSeconds, given: plan.minTtlGiven },
        handoff,
        true,
      );
      if (!credential) return undefined;
      return { stdout: formatCredential(plan.format, plan.provider, plan.profile, credential), code: 0 };
    }
    case 'exec':
      return answerExec(plan, env, paths, output, handoff);
    case 'status':
      return answerStatus(plan.options, env, paths);
  }
}

async function answerExec(
  plan: Extract<FastPlan, { command: 'exec' }>,
  env: Env,
  paths: Paths,
  output: FastOutput,
  handoff: Handoff,
): Promise<Answer | undefined> {
  let providers = plan.providers;
  if (!providers) {
    // As runExec does: the providers with settings in the profile. None, or a config.json the
    // hand check is not sure of, is the full program's to report; so are a Redis store's shared
    // settings, which this machine's config.json may lack. A provider with no token here is also
    // the full program's (it is left out with a warning there, or refreshed).
    if (storeKindFromEnv(env) === 'redis') return undefined;
    const config = readConfigQuickly(paths, PROVIDERS);
    providers = config ? PROVIDERS.filter((p) => settingsFor(config, plan.profile, p.id)) : [];
    if (providers.length === 0) return undefined;
  }
  // Loaded only here: exec's part (the child's environment, its start, the signals) is no get's business.
  const { childEnv, maskedSecrets, masking, runCommand } = await import('./commands/exec-child.js');
  const credentials: Credential[] = [];
  for (const provider of providers) {
    const credential = await credentialFor(paths, env, provider, plan.profile, plan.minTtl, handoff, false);
    if (!credential) return undefined;
    credentials.push(credential);
  }
  const code = await runCommand(plan.argv, childEnv(env, providers, credentials, plan.profile), output.stderr, {
    stay: readEnv(env, TOKENS_EXEC_STAY),
    ...(masking(env, plan.mask) ? { mask: maskedSecrets(providers, credentials) } : {}),
    ownEnv: env,
  });
  return { code };
}

/**
 * runStatus (src/commands/status.ts) without the store: answered only when config.json passes the
 * hand check, every configured provider reported has a note of what is stored, and the table needs
 * no colour. The entries and the output are status-report.ts's, as in the full program.
 */
async function answerStatus(options: StatusOptions, env: Env, paths: Paths): Promise<Answer | undefined> {
  // The Redis store names itself by its server, and may hold settings this machine lacks: the full program's.
  const storeKind = storeKindFromEnv(env);
  if (storeKind !== 'keychain' && storeKind !== 'file') return undefined;
  const config = readConfigQuickly(paths, PROVIDERS);
  if (!config) return undefined;
  let targets;
  try {
    targets = statusTargets(options, PROVIDERS, (provider) => settingsFor(config, options.profile, provider.id));
  } catch (error) {
    // A named provider that is not configured: exit 3, the script test `status P || login P`.
    if (!isTokensError(error)) throw error;
    return { stderr: describeTokensError(error), code: error.exitCode };
  }
  if (!options.json && wantsColour(env, () => isatty(1))) return undefined;
  const entries = [];
  for (const target of targets) {
    const id = target.provider.id;
    let refreshToken: boolean | null = null;
    let cached;
    if (target.settings) {
      // A failure recorded for this login (a refusal, status's needs_login) is the full program's to read.
      if (existsSync(failurePath(lockPath(paths.stateDir, options.profile, id)))) return undefined;
      const noted = notedRefreshToken(paths, env, options.profile, id);
      if (noted === undefined) return undefined;
      refreshToken = noted;
      cached = await readCache(paths, options.profile, id);
    }
    // A local store's name is its kind (status.ts: describeStore).
    const store = target.settings ? (target.settings.store ?? storeKind) : '';
    entries.push(
      statusEntry(target, options.profile, {
        token: cached?.kind === 'hit' ? cached.token : undefined,
        refreshToken,
        store,
        needsLogin: false,
        now: Date.now(),
      }),
    );
  }
  return {
    stdout: statusOutput(entries, { json: options.json, profile: options.profile, where: storeKind, now: Date.now() }),
    code: 0,
  };
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
 * script (test/cli/warm-path.test.ts); a get that waits for another process's refresh installs it
 * when it begins to wait. `exec` passes SIGUSR1 on to its child.
 */
function refuseInspectorSignal(): void {
  if (process.listenerCount('SIGUSR1') === 0) process.on('SIGUSR1', () => {});
}

/**
 * Whether the full program is likely to read the secret store for these arguments: a `get` or
 * `exec` it was handed (the fast path found no fresh token, or did not claim the form), not asking
 * for help. A guess that only decides whether the store's slow part starts early
 * (src/store/early-start.ts); a wrong one costs that work, which nothing waits for.
 */
function mayReadSecrets(argv: readonly string[]): boolean {
  const [command, ...rest] = argv;
  if (command !== 'get' && command !== 'exec') return false;
  const end = rest.indexOf('--');
  const own = end < 0 ? rest : rest.slice(0, end);
  return !own.includes('--help') && !own.includes('-h');
}

/**
 * bin/tokens.js: the fast path when it applies, else the full program; then exit with its code.
 * `packageRoot`: where tokens is installed (bin/tokens.js knows), for what is resolved from there.
 */
export async function run(argv: string[], packageRoot?: string): Promise<void> {
  const plan = planFastPath(argv, process.env);
  if (plan?.command !== 'get') refuseInspectorSignal();
  const output = new FastOutput();
  const handoff: Handoff = { claims: [] };
  const answered = plan ? await answer(plan, process.env, output, handoff).catch(() => undefined) : undefined;
  if (answered) {
    if (answered.stdout !== undefined) output.stdout(answered.stdout);
    if (answered.stderr !== undefined) output.stderr.write(answered.stderr);
    // An exec answered here ran its command as a child (else this process became it): see exitWhenIdle.
    if (plan?.command === 'exec') return (await import('./commands/exec-child.js')).exitWhenIdle(answered.code);
    return exitAfter(answered.code, [...output.used]);
  }
  if (plan?.command === 'get') refuseInspectorSignal();
  let code: number;
  try {
    // What opening the store waits for (a key derivation, a helper process), begun before the
    // full program loads, overlaps with the loading.
    const early =
      mayReadSecrets(argv) && packageRoot !== undefined
        ? (await import('./store/early-start.js')).startStoreEarly(
            process.env,
            resolvePaths(process.env),
            childEnvironment(process.env),
            packageRoot,
          )
        : undefined;
    const { main } = await import('./main.js');
    code = await main(argv, undefined, undefined, {
      ...(handoff.askedAt === undefined ? {} : { askedAt: handoff.askedAt }),
      ...(early ? { early } : {}),
    });
  } finally {
    // The refresh this process claimed is done (its token cached, or its failure recorded).
    for (const claim of handoff.claims) claim.release();
  }
  // Exit once stdout has drained, so nothing (a keep-alive socket, a stdin reader) holds us open.
  exitAfter(code, [process.stdout]);
}
