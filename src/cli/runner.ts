// What runs a command once its line is read, shared by both entries that run commands: the full
// program (src/main.ts, which reads the line with Commander) and the direct run (src/direct.ts, which
// reads it with the fast path's scanner): the real dependencies, the process's streams, and the one
// place where an error becomes a line on stderr and the contract's exit code. No Commander here.
import { isatty } from 'node:tty';
import { ExitCode, describeError, isTokensError } from '../base/errors.js';
import { resolvePaths } from '../model/paths.js';
import { syncStderr } from '../model/sync-output.js';
import { childEnvironment, PROVIDERS } from '../providers/registry.js';
import type { Deps, IO } from '../broker/deps.js';
import type { EarlyStore } from '../store/early-start.js';

/** Commander's own errors (a usage error, or help and --version, which end with 0), by their documented codes. */
function isCommanderError(error: unknown): error is Error & { exitCode: number } {
  const { code, exitCode } = (error ?? {}) as { code?: unknown; exitCode?: unknown };
  return (
    error instanceof Error && typeof code === 'string' && code.startsWith('commander.') && typeof exitCode === 'number'
  );
}

export function exitCodeFor(error: unknown): number {
  if (isTokensError(error)) return error.exitCode;
  if (isCommanderError(error)) return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  return ExitCode.internal;
}

/**
 * Runs a command; any error becomes its line on stderr and its exit code (Commander's own errors
 * it has printed itself). `verbose`: asked once the error is there (main learns it while parsing).
 */
export async function runReported(run: () => Promise<number>, io: IO, verbose: () => boolean): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (isCommanderError(error)) return exitCodeFor(error);
    io.stderr.write(describeError(error, verbose()));
    return exitCodeFor(error);
  }
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
    fetch: async (...args) => (await import('../http/node-fetch.js')).nodeFetch(...args),
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    random: Math.random,
    openStore: () =>
      (store ??= import('../store/open.js').then(({ openStore }) => openStore(env, paths, childEnv, early, io))),
    debug: verbose ? (message) => io.stderr.write(`tokens: ${message}\n`) : () => undefined,
  };
}
