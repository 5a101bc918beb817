// What the program injects into everything below the commands: the process's streams, environment,
// paths, HTTP, clock and randomness. The stores and the provider registry are added on top by Deps
// (deps.ts), so nothing below the broker depends on them.
import type { Env, Paths } from './paths.js';
import type { TextSink } from './sync-output.js';
import type { Transport } from './transport.js';

/** The streams a command talks through; stdout carries data only, stderr everything for people. */
export interface IO {
  stdout: NodeJS.WritableStream;
  stderr: TextSink;
  stdin: NodeJS.ReadableStream;
  stdinIsTTY: boolean;
  stderrIsTTY: boolean;
  stdoutIsTTY: boolean;
}

/** The process as a run function sees it, injected so tests can replace any part. */
export interface Runtime {
  io: IO;
  env: Env;
  /** The environment any child process is given: `env` without the withheld (secret) variables. */
  childEnv: Env;
  paths: Paths;
  /** HTTP (src/model/transport.ts): node:http in the real program; Node's fetch or a script in tests. */
  fetch: Transport;
  /** Milliseconds since the epoch. */
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** [0, 1), for jitter. */
  random: () => number;
  /** Debug lines (--verbose / TOKENS_DEBUG); never given a secret. */
  debug: (message: string) => void;
  /**
   * Run before a token request is sent again (a retry inside src/http/http.ts, after a 429, a 503 or
   * a network error): the broker sets it, for the requests it makes under its refresh lock, to a
   * check that the lock is still its own, and it throws when not. Unset: repeats go unchecked.
   */
  beforeResend?: () => Promise<void>;
  /**
   * When this process began waiting for a refresh another process was making, if it did (the fast
   * path waited, then handed over): the lock shares with it a failure recorded since.
   */
  askedAt?: number;
}
