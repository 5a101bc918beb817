// The fast path: the everyday forms of the commands that have a warm answer (`get`, `exec`,
// `status`), `--version` and help, answered without loading the full program (commander, the
// broker, the stores, the providers' code). It is the second driver of the command specs
// (src/cli/commands.ts): it reads the command line with them (src/cli/scan.ts), builds the same
// options the full program would, and calls the command's warm answer (src/warm/), which answers
// from the files alone or declines. Help it prints as the full program printed it at build time
// (src/cli/fast-help.ts). Everything else, and anything in doubt, goes to the full program (dist/main.js,
// loaded with import()), which prints the real output, help and errors.
// scripts/build.mjs bundles this file on its own, as CommonJS, into dist/fast.cjs, which
// bin/tokens.js requires: a CommonJS entry skips the ES module loader's start-up, and one small
// file is all a warm call reads. What it saves, besides commander and the module graph: setting up
// process.stdout (the token goes out with fs.writeSync) and node:child_process (a get never needs
// it; exec replaces the process with its command: src/commands/replace-process.ts).
// test/cli/fast-path.test.ts runs calls both ways and compares; test/cli/warm-path.test.ts checks
// what dist/fast.cjs contains and what a warm call loads.
import { commandSpec } from './cli/commands.js';
import { scanCommandLine } from './cli/scan.js';
import { checkEnv, TOKENS_DEBUG, TOKENS_NO_FAST_PATH } from './model/env.js';
import { writeOut } from './model/sync-output.js';
import { resolvePaths, type Env } from './model/paths.js';
import { isHelpForm, recordedHelp } from './cli/fast-help.js';
import { allVariables, childEnvironment, PROVIDERS } from './providers/registry.js';
import pkg from '../package.json' with { type: 'json' };
import type { AnyCommandSpec } from './cli/spec.js';
import type { WarmLeftovers, WarmAnswer } from './warm/context.js';

/** Set (to anything) by the tests only: every call goes to the full program, for comparison. */
export const NO_FAST_PATH_ENV = TOKENS_NO_FAST_PATH.name;

export type FastPlan =
  | { command: 'version' }
  /** A help form, answered from the build's recording (src/cli/fast-help.ts). */
  | { command: 'help'; argv: readonly string[] }
  /** A command with a warm answer, and the options its run function would get from the full program. */
  | { command: 'warm'; spec: AnyCommandSpec; options: unknown };

/** Finds a command's spec by name: only the one asked for is made (commands.ts), unless a list is given. */
const specFinder =
  (specs?: readonly AnyCommandSpec[]) =>
  (name: string): AnyCommandSpec | undefined =>
    specs ? specs.find((spec) => spec.name === name) : commandSpec(name, PROVIDERS);

/**
 * What the fast path would do with these arguments, or undefined when they are the full program's
 * business. Pure: no I/O. A value the full program would reject (unknown provider, bad format, bad
 * TOKENS_* variable, …) is undefined here, so the full program reports it; so is --verbose, which
 * the full program explains. `specs`: the commands (by default commands.ts's; a test may add one).
 */
export function planFastPath(
  argv: readonly string[],
  env: Env,
  specs?: readonly AnyCommandSpec[],
): FastPlan | undefined {
  if (env[NO_FAST_PATH_ENV] !== undefined || env[TOKENS_DEBUG.name] !== undefined) return undefined;
  // Commander answers these before the variables are checked.
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) return { command: 'version' };
  if (isHelpForm(argv)) return { command: 'help', argv: [...argv] };
  try {
    // A bad TOKENS_* value is the full program's usage error.
    checkEnv(env, allVariables());
    const scanned = scanCommandLine(argv, specFinder(specs), PROVIDERS, env);
    if (!scanned?.spec.warm || scanned.parsed.verbose) return undefined;
    return { command: 'warm', spec: scanned.spec, options: scanned.spec.toOptions(scanned.parsed) };
  } catch {
    // A value the full program rejects: it says so itself.
    return undefined;
  }
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

/** Answers a planned call when what it needs is certain; undefined when the full program must take it. */
async function answer(
  plan: FastPlan,
  env: Env,
  output: FastOutput,
  leftovers: WarmLeftovers,
): Promise<WarmAnswer | undefined> {
  switch (plan.command) {
    case 'version':
      return { stdout: `${pkg.version}\n`, code: 0 };
    case 'help':
      // dist/help.json sits next to this bundle, dist/fast.cjs.
      return recordedHelp(plan.argv, __dirname);
    case 'warm':
      return plan.spec.warm?.(plan.options, {
        env,
        paths: resolvePaths(env),
        stderr: output.stderr,
        leftovers,
        refuseInspector: refuseInspectorSignal,
        answerRequests: async (config, listening) => (await import('./direct.js')).serveHandler(config, listening),
      });
  }
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
 * What the scanner tells of a call the fast path does not answer: whether the command may run
 * without Commander (CommandSpec.direct: src/direct.ts, which reads the line again, from its own
 * bundle's specs), and whether it is likely to read the secret store (CommandSpec.readsSecrets), a
 * guess that only decides whether the store's slow part starts early (src/store/early-start.ts); a
 * wrong one costs that work, which nothing waits for. Help forms and lines the scanner doubts are
 * neither.
 */
function handOffHints(argv: readonly string[], env: Env): { direct: boolean; readsSecrets: boolean } {
  try {
    const spec = scanCommandLine(argv, specFinder(), PROVIDERS, env)?.spec;
    // TOKENS_NO_FAST_PATH: the tests' way to see what Commander's reading does.
    const direct = spec?.direct === true && env[NO_FAST_PATH_ENV] === undefined;
    return { direct, readsSecrets: spec?.readsSecrets === true };
  } catch {
    return { direct: false, readsSecrets: false };
  }
}

/**
 * bin/tokens.js: the fast path when it applies, else the full program; then exit with its code.
 * `packageRoot`: where tokens is installed (bin/tokens.js knows), for what is resolved from there.
 */
export async function run(argv: string[], packageRoot?: string): Promise<void> {
  const plan = planFastPath(argv, process.env);
  // A quick warm answer lives a few milliseconds past Node's start-up: see refuseInspectorSignal.
  const quick = plan?.command === 'warm' && plan.spec.warmIsQuick === true;
  if (!quick) refuseInspectorSignal();
  const output = new FastOutput();
  const leftovers: WarmLeftovers = { claims: [] };
  const answered = plan ? await answer(plan, process.env, output, leftovers).catch(() => undefined) : undefined;
  if (answered) {
    if (answered.stdout !== undefined) output.stdout(answered.stdout);
    if (answered.stderr !== undefined) output.stderr.write(answered.stderr);
    // An exec answered here ran its command as a child (else this process became it): see exitWhenIdle.
    if (answered.ranChild) return (await import('./commands/exec-child.js')).exitWhenIdle(answered.code);
    return exitAfter(answered.code, [...output.used]);
  }
  if (quick) refuseInspectorSignal();
  let code: number;
  try {
    const hints = handOffHints(argv, process.env);
    // What opening the store waits for (a key derivation, a helper process), begun before the
    // program loads, overlaps with the loading.
    const early =
      hints.readsSecrets && packageRoot !== undefined
        ? (await import('./store/early-start.js')).startStoreEarly(
            process.env,
            resolvePaths(process.env),
            childEnvironment(process.env),
            packageRoot,
          )
        : undefined;
    const handover = {
      ...(leftovers.askedAt === undefined ? {} : { askedAt: leftovers.askedAt }),
      ...(early ? { early } : {}),
    };
    const direct = hints.direct
      ? await (await import('./direct.js')).runDirect(argv, undefined, undefined, handover)
      : undefined;
    code = direct ?? (await (await import('./main.js')).main(argv, undefined, undefined, handover));
  } finally {
    // The refresh this process claimed is done (its token cached, or its failure recorded).
    for (const claim of leftovers.claims) claim.release();
  }
  // Exit once stdout has drained, so nothing (a keep-alive socket, a stdin reader) holds us open.
  exitAfter(code, [process.stdout]);
}
