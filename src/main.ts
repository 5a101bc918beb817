// Entry point: build the real dependencies, parse, run, and turn every error into one line on
// stderr and the contract's exit code. This is the only place errors become exit codes.
import { isatty } from 'node:tty';
import { CommanderError } from 'commander';
import { buildProgram, helpForms as programHelpForms, type ParsedCommand } from './cli/program.js';
import { ExitCode, describeTokensError, isTokensError } from './base/errors.js';
import { resolvePaths } from './model/paths.js';
import { checkEnv, TOKENS_DEBUG } from './model/env.js';
import { syncStderr } from './model/sync-output.js';
import { allVariables, childEnvironment, PROVIDERS } from './providers/registry.js';
import type { Deps, IO } from './broker/deps.js';
import type { EarlyStore } from './store/early-start.js';
import pkg from '../package.json' with { type: 'json' };

export function exitCodeFor(error: unknown): number {
  if (isTokensError(error)) return error.exitCode;
  if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  return ExitCode.internal;
}

export function describeError(error: unknown, verbose: boolean): string {
  if (isTokensError(error)) return describeTokensError(error);
  const detail =
    verbose && error instanceof Error ? `\n${error.stack ?? error.message}` : ' (run with --verbose for details)';
  return `tokens: internal error${detail}\n`;
}

/**
 * The process's streams, each set up on first use: Node creates process.stdin (and the others) lazily,
 * and setting up stdin costs a few milliseconds (loading `net` when it is a pipe or a terminal),
 * which a warm `get` never needs. stderr is written synchronously without its stream (see writeOut),
 * so the command `exec` becomes finds the standard streams as tokens found them.
 */
export function processIO(): IO {
  return {
    get stdout() {
      return process.stdout;
    },
    stderr: syncStderr,
    get stdin() {
      return process.stdin;
    },
    get stdinIsTTY() {
      return isatty(0);
    },
    get stderrIsTTY() {
      return isatty(2);
    },
    get stdoutIsTTY() {
      return isatty(1);
    },
  };
}

/** What the fast path hands over with a call it did not answer (src/fast.ts). */
export interface Handover {
  /** See Deps.askedAt: when the fast path began waiting for another process's refresh. */
  askedAt?: number;
  /** The slow part of opening the store, already started (src/store/early-start.ts). */
  early?: EarlyStore;
}

export function realDeps(io: IO, env: Deps['env'], verbose: boolean, handover: Handover = {}): Deps {
  const { askedAt, early } = handover;
  const paths = resolvePaths(env);
  // One store per run: a key derived or a connection opened once serves every provider of the run.
  let store: ReturnType<Deps['openStore']> | undefined;
  const childEnv = childEnvironment(env);
  return {
    ...(askedAt === undefined ? {} : { askedAt }),
    io,
    env,
    childEnv,
    paths,
    providers: PROVIDERS,
    // node:http under the fetch interface: Node's own fetch costs ~0.3 s of CPU per process (src/http/node-fetch.ts).
    fetch: async (...args) => (await import('./http/node-fetch.js')).nodeFetch(...args),
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    random: Math.random,
    openStore: () =>
      (store ??= import('./store/open.js').then(({ openStore }) => openStore(env, paths, childEnv, early, io))),
    debug: verbose ? (message) => io.stderr.write(`tokens: ${message}\n`) : () => undefined,
  };
}

/** The argument lists that print help (cli/program.ts), for scripts/build.mjs to record for the fast path. */
export function helpForms(): string[][] {
  const silent = () => undefined;
  return programHelpForms(buildProgram({ writeOut: silent, writeErr: silent, env: {} }, silent, pkg.version));
}

/**
 * `env` is a copy: the browser opener removes the withheld variables from process.env (http/browser.ts).
 * `handover`: what the fast path passes on when it does not answer the call itself.
 */
export async function main(
  argv: string[],
  io: IO = processIO(),
  env: Deps['env'] = { ...process.env },
  handover?: Handover,
): Promise<number> {
  let parsed: ParsedCommand | undefined;
  let verbose = Boolean(env[TOKENS_DEBUG.name]);
  try {
    const program = buildProgram(
      { writeOut: (t) => io.stdout.write(t), writeErr: (t) => io.stderr.write(t), env },
      (p) => (parsed = p),
      pkg.version,
    );
    if (argv.length === 0) {
      program.outputHelp({ error: true });
      return ExitCode.usage;
    }
    await program.parseAsync(argv, { from: 'user' });
    if (!parsed) return ExitCode.usage;
    verbose = parsed.verbose;
    // A bad TOKENS_* value is a usage error too, reported before anything is looked at.
    if (!parsed.lenient) checkEnv(env, allVariables());
    return await parsed.invocation(realDeps(io, env, verbose, handover));
  } catch (error) {
    if (error instanceof CommanderError) return exitCodeFor(error);
    io.stderr.write(describeError(error, verbose));
    return exitCodeFor(error);
  }
}
