// Starting a child process for `tokens exec` (its command, and the group witness), without loading
// node:child_process when Node allows it.
//
// Loading node:child_process costs about 6 ms here (it brings streams, net and dgram, none of which
// a child with inherited or ignored stdio uses): 8% of Node's own start, most of what stood between
// `tokens exec -- true` and its target. Node's child_process spawns through the process_wrap
// binding; so does this, with the same options child_process would pass for `stdio: 'inherit'` or
// `'ignore'`, the same split of spawn errors (an error to report, or a throw), and the same exit
// status. The binding is internal: the public spawn takes over whenever it is not there as
// expected, and whenever process.binding is the wrapper `--pending-deprecation` installs, which
// would print a deprecation warning (test/unit/start-child.test.ts runs both ways on every case).
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/** How a child ended. */
export type ChildEnd =
  /** It ran: its exit code, or 128 + N when killed by signal N. */
  | { kind: 'exited'; status: number }
  /** It could not be started (ENOENT, EACCES, EAGAIN, EMFILE or ENFILE): the error code. */
  | { kind: 'not-started'; code: string };

export interface StartOptions {
  env: Readonly<Record<string, string>>;
  /** Our stdin, stdout and stderr, or none (/dev/null). */
  stdio: 'inherit' | 'ignore';
  /** Called once, never before startChild has returned. */
  onEnd(end: ChildEnd): void;
}

export interface StartedChild {
  /** Undefined when it could not be started. */
  readonly pid: number | undefined;
  /** Sends a signal; a child already gone is not an error. */
  kill(signal: NodeJS.Signals): void;
  /** Lets this process exit while the child still runs. */
  unref(): void;
}

/** Starts `file` with `args` (no shell); throws, as spawn() does, when no child can be attempted. */
export type ChildStarter = (file: string, args: readonly string[], options: StartOptions) => StartedChild;

/** The binding's process handle (src/process_wrap.cc), as much of it as is used here. */
interface ProcessHandle {
  pid?: number;
  onexit: (exitStatus: number, termSignal: string) => void;
  spawn(options: {
    file: string;
    args: string[];
    envPairs: string[];
    stdio: ({ type: 'ignore' } | { type: 'fd'; fd: number })[];
  }): number;
  kill(signal: number): number;
  close(): void;
  unref(): void;
}
type ProcessHandleClass = new () => ProcessHandle;

/** Spawn errors that child_process reports as an 'error' event rather than throwing. */
const NOT_STARTED = ['EACCES', 'EAGAIN', 'EMFILE', 'ENFILE', 'ENOENT'];

/** The starter for this process: through the binding when it is there as expected, else the public spawn. */
export function childStarter(proc: object = process): ChildStarter {
  const handleClass = processHandleClass(proc);
  return handleClass ? bindingStarter(handleClass) : publicStarter;
}

/** process_wrap's Process, when process.binding is Node's own (not --pending-deprecation's warning wrapper). */
function processHandleClass(proc: object): ProcessHandleClass | undefined {
  const binding: unknown = Reflect.get(proc, 'binding');
  if (typeof binding !== 'function' || binding.name !== 'binding') return undefined;
  try {
    const { Process } = (binding as (name: string) => { Process?: unknown })('process_wrap');
    return typeof Process === 'function' ? (Process as ProcessHandleClass) : undefined;
  } catch {
    return undefined;
  }
}

/** The status a shell reports for a child that exited with `code` or was killed by `signal`. */
function exitStatus(code: number | null, signal: string | null): number {
  return signal ? 128 + (constants.signals[signal as NodeJS.Signals] ?? 0) : (code ?? 0);
}

/** node:child_process's spawn: the reference, and the fallback. */
export const publicStarter: ChildStarter = (file, args, options) => {
  const child = spawn(file, args, { stdio: options.stdio, env: options.env });
  // Once started, an 'error' is a kill() that failed (EPERM), not the end of the child.
  child.on('error', (error: NodeJS.ErrnoException) => {
    if (child.pid === undefined) options.onEnd({ kind: 'not-started', code: error.code ?? '' });
  });
  child.on('exit', (code, signal) => options.onEnd({ kind: 'exited', status: exitStatus(code, signal) }));
  return {
    get pid() {
      return child.pid;
    },
    kill: (signal) => void child.kill(signal),
    unref: () => child.unref(),
  };
};

/** Strings spawn() would refuse (a NUL byte, an empty file): left to the public spawn, which throws. */
function refusedBySpawn(file: string, args: readonly string[], env: Readonly<Record<string, string>>): boolean {
  if (file === '' || file.includes('\0') || args.some((arg) => arg.includes('\0'))) return true;
  return Object.entries(env).some(([name, value]) => name.includes('\0') || value.includes('\0'));
}

/** Spawns as ChildProcess.prototype.spawn does, for inherited or ignored stdio (lib/internal/child_process.js). */
export function bindingStarter(Process: ProcessHandleClass): ChildStarter {
  return (file, args, options) => {
    if (refusedBySpawn(file, args, options.env)) return publicStarter(file, args, options);
    const handle = new Process();
    let open = true;
    const close = () => {
      if (open) handle.close();
      open = false;
    };
    handle.onexit = (code, signal) => {
      close();
      options.onEnd({ kind: 'exited', status: exitStatus(code, signal || null) });
    };
    const err = handle.spawn({
      file,
      // As child_process passes them: argv[0] is the file as given, and the environment as K=V.
      args: [file, ...args],
      envPairs: Object.entries(options.env).map(([name, value]) => `${name}=${value}`),
      stdio: [0, 1, 2].map((fd) => (options.stdio === 'ignore' ? { type: 'ignore' } : { type: 'fd', fd })),
    });
    if (err !== 0) {
      close();
      const code = errorName(err);
      if (!NOT_STARTED.includes(code)) throw Object.assign(new Error(`spawn ${file} ${code}`), { code });
      process.nextTick(() => options.onEnd({ kind: 'not-started', code }));
      return { pid: undefined, kill: () => {}, unref: () => {} };
    }
    return {
      pid: handle.pid,
      kill: (signal) => {
        if (open) handle.kill(constants.signals[signal]);
      },
      unref: () => {
        if (open) handle.unref();
      },
    };
  };
}

/** libuv's negative errno as its name (ENOENT), as child_process's ErrnoException gives it. */
function errorName(err: number): string {
  return Object.entries(constants.errno).find(([, n]) => n === -err)?.[0] ?? `errno ${err}`;
}
