// `tokens exec` staying the parent of its command: the command as a child, signals passed on once,
// and with --mask its stdout and stderr relayed through the masker. Shared by exec-child.ts (in the
// tokens process) and the supervisor (src/supervise.ts, a fresh Node with a clean environment that
// tokens becomes when its own environment holds a withheld secret): no broker, no store, no
// providers here, so the supervisor stays small.
import {
  closeSync,
  constants as fsConstants,
  fstatSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  write,
} from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isatty } from 'node:tty';
import { spawn, type ChildProcess } from 'node:child_process';
import { StreamMasker } from './mask-stream.js';
import { readProcFile } from './replace-process.js';
import type { Readable } from 'node:stream';
import type { TextSink } from '../model/sync-output.js';

/**
 * Passed on to a child. SIGUSR1 and SIGUSR2 too: the program keeps SIGUSR1 from opening Node's
 * inspector (src/fast.ts), so the child is the one to tell.
 */
const FORWARDED_SIGNALS = ['SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const;

/**
 * How long a signal that the group witness has not seen yet is held before it is passed on: a
 * sender that signals each process in turn (systemd stopping a unit's cgroup) reaches the witness
 * a moment after tokens.
 */
const GROUP_SETTLE_MS = 15;

/**
 * Once the command has exited, how long a relayed stream may stay silent before it is closed: a
 * process the command left running in the background may hold the pipe open for ever, and tokens,
 * like a shell, returns when its command has ended. What it writes later meets a closed pipe.
 */
const AFTER_EXIT_IDLE_MS = 200;

/** How often the start looks whether the witness has stopped (it makes the pipes before: GroupWitness.pipes). */
const WITNESS_POLL_MS = 1;

/** When fs.write meets a non-blocking pipe that is full (EAGAIN), it tries again this much later. */
const FULL_PIPE_RETRY_MS = 2;

export interface StayOptions {
  /**
   * The secrets to mask (exec --mask): the command's stdout and stderr that are not terminals are
   * relayed with each replaced by `***` (mask-stream.ts). Undefined: the streams are inherited.
   */
  mask?: readonly string[];
  /** Processes that get SIGTERM once the command has ended (exec --serve's server). */
  companions?: readonly number[];
}

/**
 * Ends the process with `code` once its event loop is empty, rather than with process.exit: a
 * process.exit() while one of V8's background threads waits for the main thread to collect
 * garbage (after much output relayed) can hang for ever in Node 26, the main thread joining that
 * thread inside process.exit (seen about once in 40 runs of `exec --mask -- cat` 256 MiB). After a
 * command tokens stayed for, nothing of ours is left to keep the loop alive; if something still
 * does, process.exit after all, a moment later.
 */
export function exitWhenIdle(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 1000).unref();
}

export function statusOfStartError(code: string): number {
  return code === 'ENOENT' ? 127 : 126;
}

export function notStartedLine(file: string, code: string): string {
  const reason =
    code === 'ENOENT' ? 'command not found' : code === 'E2BIG' ? 'argument list too long' : `cannot run (${code})`;
  return `tokens: ${reason}: ${file}\n`;
}

export function notStarted(file: string, code: string, stderr: TextSink): number {
  stderr.write(notStartedLine(file, code));
  return statusOfStartError(code);
}

/** The status a shell reports for a child that exited with `code` or was killed by `signal`. */
function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  return signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 0);
}

/**
 * Whether fd 1 or 2 is a stream --mask relays: open, not a terminal (never touched), and not
 * /dev/null (what goes there nobody reads: relaying it would only cost the command's start).
 */
function relayable(fd: 1 | 2): boolean {
  if (isatty(fd)) return false;
  try {
    const stream = fstatSync(fd);
    return !(stream.isCharacterDevice() && stream.rdev === statSync('/dev/null').rdev);
  } catch {
    return false;
  }
}

/** Whether --mask has a stream to relay; when not, nothing is left for tokens once the command starts. */
export function anyRelayable(): boolean {
  return relayable(1) || relayable(2);
}

/**
 * The command as our child, its exit status as a shell reports it. The FORWARDED_SIGNALS are
 * passed on, once: a signal that reached our whole process group (a terminal's Ctrl-C, `kill -INT
 * -- -PGID`, a cgroup stopped process by process) has reached the child already, which is in that
 * group, and is not sent again (see GroupWitness); a signal to tokens alone is. `env` is the
 * command's environment: only the command gets it (the witness and mkfifo need no token).
 */
export async function runAsChild(
  file: string,
  args: readonly string[],
  env: Record<string, string>,
  stderr: TextSink,
  options: StayOptions = {},
): Promise<number> {
  // Handlers go in before the child exists: a signal sent the moment the child starts must be
  // passed on, not kill us with the child left running.
  let child: ChildProcess | undefined;
  const early: NodeJS.Signals[] = [];
  const masks = options.mask !== undefined;
  const relayed = ([1, 2] as const).filter((fd) => masks && relayable(fd));
  const witness = GroupWitness.start(relayed.length);
  const forward = (signal: NodeJS.Signals) => {
    // Before the child exists, a group signal has not reached it: queue every one.
    if (!child) early.push(signal);
    else if (!witness) child.kill(signal);
    else void witness.groupGot(signal).then((got) => got || child?.kill(signal));
  };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  const pipes = relayed.length > 0 ? await makePipes(relayed.length, witness, env.PATH) : [];
  // node:net on demand: only a relay over made pipes needs it (a static import would load it for every exec).
  const { Socket } = pipes.length > 0 ? await import('node:net') : { Socket: undefined };
  return new Promise((resolve) => {
    const finish = (status: number) => {
      for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
      witness?.stop();
      for (const pid of options.companions ?? []) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // gone already
        }
      }
      resolve(status);
    };
    // The child's end of each relayed stream: a real pipe where one could be made (see makePipes), else Node's.
    const stdio: Array<'inherit' | 'pipe' | number> = ['inherit', 'inherit', 'inherit'];
    relayed.forEach((fd, i) => (stdio[fd] = pipes[i]?.write ?? 'pipe'));
    try {
      child = spawn(file, args, { stdio, env });
    } catch (error) {
      for (const pipe of pipes) closeSync(pipe.read);
      // What spawn() refuses outright: an empty name (as a shell, "not found"), E2BIG, …
      const code = (error as NodeJS.ErrnoException).code;
      finish(notStarted(file, code === 'ERR_INVALID_ARG_VALUE' || !code ? 'ENOENT' : code, stderr));
      return;
    } finally {
      // Only the child writes into the pipes: their end comes when it (and whatever it started) is done.
      for (const pipe of pipes) closeSync(pipe.write);
    }
    const relays = relayed.map((fd, i) => {
      const pipe = pipes[i];
      const source =
        pipe && Socket ? new Socket({ fd: pipe.read, readable: true, writable: false }) : child!.stdio[fd]!;
      return new Relay(source as Readable, fd, new StreamMasker(options.mask ?? []));
    });
    // Once started, an 'error' is a kill() that failed (EPERM), not the end of the child.
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (child?.pid === undefined) {
        for (const relay of relays) relay.close();
        finish(notStarted(file, error.code ?? 'EACCES', stderr));
      }
    });
    child.on('exit', (code, signal) => {
      const status = exitStatus(code, signal);
      for (const relay of relays) relay.commandExited();
      void Promise.all(relays.map((relay) => relay.done)).then(() => finish(status));
    });
    for (const signal of early) child.kill(signal);
  });
}

/**
 * `count` pipes for the command's relayed streams: real pipes, not Node's own 'pipe', which is a
 * socket pair. A socket closed with unread data makes the writer's next write fail with
 * ECONNRESET: `cmd | head -1` would end the command with an error instead of SIGPIPE (EPIPE where
 * it is ignored), as a pipe does; and a command cannot open /dev/stdout on a socket. Node cannot
 * make a pipe itself: the witness's shell makes them (GroupWitness.pipes), else a mkfifo of our
 * own makes named ones in a private directory, unlinked at once. Our end is opened non-blocking
 * (before the writer's, which would wait for a reader), the command's end blocking, as any command
 * expects. Empty when none could be made: then Node's socket pairs.
 */
async function makePipes(
  count: number,
  witness: GroupWitness | undefined,
  path: string | undefined,
): Promise<Array<{ read: number; write: number }>> {
  const fromWitness = await witness?.pipes(count);
  if (fromWitness) return fromWitness;
  let dir: string;
  try {
    dir = mkdtempSync(join(tmpdir(), 'tokens-exec-'));
  } catch {
    return [];
  }
  try {
    const paths = Array.from({ length: count }, (_, i) => join(dir, `out${i}`));
    if (!(await mkfifo(paths, path))) return [];
    return openEnds(paths);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Each pipe of `paths` (named pipes, or /proc/PID/fd/N of another's) opened at both ends; empty if one cannot be. */
function openEnds(paths: readonly string[]): Array<{ read: number; write: number }> {
  const opened: number[] = [];
  try {
    return paths.map((path) => {
      const read = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
      opened.push(read);
      if (!fstatSync(read).isFIFO()) throw new Error('not a pipe');
      const write = openSync(path, fsConstants.O_WRONLY);
      opened.push(write);
      return { read, write };
    });
  } catch {
    for (const fd of opened) closeSync(fd);
    return [];
  }
}

/** `path`: the command's PATH, where mkfifo is looked up (its only variable). */
function mkfifo(paths: readonly string[], path: string | undefined): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const made = spawn('mkfifo', ['-m', '600', '--', ...paths], {
      stdio: 'ignore',
      env: path === undefined ? {} : { PATH: path },
    });
    made.on('error', () => resolve(false));
    made.on('exit', (code) => resolve(code === 0));
  });
}

/**
 * One of the command's output pipes copied to our fd 1 or 2 through a masker. Written with
 * fs.write on the descriptor (libuv's thread pool), not process.stdout: setting up that stream
 * makes a pipe non-blocking for every process that shares it. While a write is pending the pipe is
 * paused, so a slow reader slows the command as it would without tokens. When our side is closed
 * (EPIPE: `| head -1`), the pipe is closed too, and the command meets the closed pipe itself
 * (SIGPIPE or EPIPE), as it would without tokens.
 */
class Relay {
  readonly done: Promise<void>;
  #resolve!: () => void;
  #writing = false;
  #ended = false;
  #exited = false;
  #idle: NodeJS.Timeout | undefined;

  constructor(
    readonly source: Readable,
    readonly fd: 1 | 2,
    readonly masker: StreamMasker,
  ) {
    this.done = new Promise((resolve) => (this.#resolve = resolve));
    source.on('data', (chunk: Buffer) => {
      this.#rearm();
      const out = this.masker.push(chunk);
      if (out.length === 0) return;
      source.pause();
      this.#write(out, () => source.resume());
    });
    source.on('end', () => this.#end());
    // A read error: nothing more will come.
    source.on('error', () => this.#end());
  }

  /** The command has exited: what is left in the pipe is relayed, unless it stays silent (a background holder). */
  commandExited(): void {
    this.#exited = true;
    this.#rearm();
  }

  /** Stops relaying: the pipe is closed, whatever is held back is dropped. */
  close(): void {
    this.#ended = true;
    clearTimeout(this.#idle);
    this.source.destroy();
    this.#resolve();
  }

  #rearm(): void {
    if (!this.#exited || this.#ended) return;
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => {
      if (this.#writing) return this.#rearm();
      this.#end();
      this.source.destroy();
    }, AFTER_EXIT_IDLE_MS);
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#idle);
    const rest = this.masker.flush();
    if (rest.length === 0 || this.#writing) this.#resolve();
    else this.#write(rest, () => this.#resolve());
  }

  /** Writes all of `bytes`, then calls `next`; on a write error, closes the pipe instead. */
  #write(bytes: Buffer, next: () => void): void {
    this.#writing = true;
    const from = (offset: number) => {
      write(this.fd, bytes, offset, bytes.length - offset, null, (error, written) => {
        if (error?.code === 'EAGAIN') {
          setTimeout(() => from(offset), FULL_PIPE_RETRY_MS);
          return;
        }
        if (error) {
          this.#writing = false;
          this.close();
          return;
        }
        if (offset + written < bytes.length) return from(offset + written);
        this.#writing = false;
        next();
      });
    };
    from(0);
  }
}

/**
 * Tells, for a signal tokens received, whether it reached tokens' whole process group — then the
 * child, in that group, has it already — or tokens alone (`kill -INT PID`, a supervisor), which only
 * tokens can pass on.
 *
 * Node does not show who sent a signal (no siginfo), so a witness does: a tiny shell in our process
 * group that catches these signals and keeps itself stopped. A stopped process keeps a caught signal
 * pending, and the kernel makes a group signal pending on every member before the sending call
 * returns, so the witness's pending set (/proc/PID/status) says whether the group got it; a sender
 * that signals process by process gets GROUP_SETTLE_MS to reach it. The witness is then continued
 * (its no-op trap consumes the signal) and stops itself again.
 *
 * Linux only (/proc); elsewhere every signal is passed on. If tokens is SIGKILLed, the witness stays
 * stopped until its group is orphaned (in a terminal at once: the kernel then sends it SIGHUP).
 */
class GroupWitness {
  readonly #pid: number;
  readonly #pipes: number;

  private constructor(pid: number, pipes: number) {
    this.#pid = pid;
    this.#pipes = pipes;
  }

  /**
   * `pipes`: how many pipes its shell makes before it first stops, as empty here-documents (a
   * here-document is a pipe in dash, busybox sh and bash 5.1+), on fds 3, 4, …, for us to open
   * through /proc (see pipes()).
   */
  static start(pipes = 0): GroupWitness | undefined {
    if (process.platform !== 'linux') return undefined;
    const traps = FORWARDED_SIGNALS.map((s) => s.slice(3)).join(' ');
    const fds = Array.from({ length: pipes }, (_, i) => i + 3);
    // Made, then held until we have opened them (the first stop), then closed: a reader left here
    // would keep the command from ever meeting a closed pipe.
    const make =
      fds.length > 0
        ? `${fds.map((fd) => `exec ${fd}<<E\nE\n`).join('')}kill -STOP $$; exec ${fds.map((fd) => `${fd}<&-`).join(' ')}; `
        : '';
    try {
      const sh = spawn(
        '/bin/sh',
        ['-c', `trap : ${traps}; ${make}while kill -0 $PPID 2>/dev/null; do kill -STOP $$; done`],
        // No environment: /bin/sh by its path and its builtins need none, and the command's
        // tokens are the command's alone.
        { stdio: 'ignore', env: {} },
      );
      sh.on('error', () => undefined);
      sh.unref();
      return sh.pid === undefined ? undefined : new GroupWitness(sh.pid, pipes);
    } catch {
      return undefined;
    }
  }

  /**
   * The `count` pipes the shell made, opened at both ends through /proc/PID/fd; undefined when it
   * made none or they are not pipes (a shell whose here-documents are files). Either way the shell
   * is let go to close its ends, and is stopped again, as a witness, before this resolves.
   */
  async pipes(count: number): Promise<Array<{ read: number; write: number }> | undefined> {
    if (count !== this.#pipes || !(await this.#stopped())) return undefined;
    const ends = openEnds(Array.from({ length: count }, (_, i) => `/proc/${this.#pid}/fd/${i + 3}`));
    this.#signal('SIGCONT');
    if (!(await this.#stopped())) {
      for (const end of ends) for (const fd of [end.read, end.write]) closeSync(fd);
      return undefined;
    }
    return ends.length === count ? ends : undefined;
  }

  /**
   * Resolves once the witness is stopped: true, or false if it is gone. Polled, as Node is not told
   * of a child's stop.
   */
  async #stopped(): Promise<boolean> {
    for (;;) {
      const state = this.#state();
      if (state === 'T' || state === 't') return true;
      if (state === undefined || state === 'Z' || state === 'X') return false;
      await new Promise((resolve) => setTimeout(resolve, WITNESS_POLL_MS));
    }
  }

  /** The witness's state letter (/proc/PID/status), undefined when it is gone. */
  #state(): string | undefined {
    try {
      return /^State:\s+(\S)/m.exec(readProcFile(`/proc/${this.#pid}/status`))?.[1];
    } catch {
      return undefined;
    }
  }

  /** True when the witness (so the whole group) got `signal` too; resets the witness. */
  async groupGot(signal: NodeJS.Signals): Promise<boolean> {
    const seen = this.#pending(signal);
    if (seen !== false) return seen === true;
    await new Promise((resolve) => setTimeout(resolve, GROUP_SETTLE_MS));
    return this.#pending(signal) === true;
  }

  /** Whether `signal` is pending in the stopped witness (consumed if so); 'unknown' when it cannot tell. */
  #pending(signal: NodeJS.Signals): boolean | 'unknown' {
    let status: string;
    try {
      status = readProcFile(`/proc/${this.#pid}/status`);
    } catch {
      return 'unknown';
    }
    // Not stopped (yet, or any more): it cannot tell; the signal is passed on.
    if (!/^State:\s+T/m.test(status)) return 'unknown';
    const bit = 1n << BigInt(constants.signals[signal] - 1);
    const pending = ['SigPnd', 'ShdPnd'].some((field) => {
      const hex = new RegExp(`^${field}:\\s+([0-9a-f]+)`, 'm').exec(status)?.[1];
      return hex !== undefined && (BigInt(`0x${hex}`) & bit) !== 0n;
    });
    if (pending) this.#signal('SIGCONT');
    return pending;
  }

  stop(): void {
    this.#signal('SIGKILL');
  }

  #signal(signal: NodeJS.Signals): void {
    try {
      process.kill(this.#pid, signal);
    } catch {
      // gone already
    }
  }
}
