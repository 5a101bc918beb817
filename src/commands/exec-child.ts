// The command side of `tokens exec`, shared by runExec (src/commands/exec.ts) and the fast path
// (src/fast.ts): the command's environment from credentials already in hand, and running it. No
// broker, no store, no config: light enough for dist/fast.cjs.
//
// Where it can (replace-process.ts), tokens becomes the command. Otherwise — no process.execve,
// Windows, a command whose start only a child can report, or a mode that keeps tokens as the parent
// (TOKENS_EXEC_STAY) — the command runs as a child of node:child_process, and tokens passes signals on.
// (In dist/fast.cjs, node:child_process loads on the first spawn only: scripts/build.mjs.)
import { writeSync } from 'node:fs';
import { constants } from 'node:os';
import { spawn, type ChildProcess } from 'node:child_process';
import { credentialEnv, credentialEnvNames } from '../core/format.js';
import { childEnvironment } from '../providers/registry.js';
import {
  canReplace,
  readProcFile,
  replaceProcess,
  resolveCommand,
  standardStreamsNonBlocking,
} from './replace-process.js';
import type { Credential } from '../core/model.js';
import type { TextSink } from '../core/sync-output.js';
import type { Env } from '../core/paths.js';
import type { ProviderDescriptor } from '../core/model.js';

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
 * The child's environment: ours minus the withheld variables, plus P_ACCESS_TOKEN / P_AUTHORIZATION
 * (or the legacy pair) for each provider, in order, and TOKENS_PROFILE. The variables of a provider
 * `leftOut` (it could give no token) are unset, so the command never takes an inherited one for ours.
 */
export function childEnv(
  env: Env,
  providers: readonly ProviderDescriptor[],
  credentials: readonly Credential[],
  profile: string,
  leftOut: readonly ProviderDescriptor[] = [],
): Record<string, string> {
  const out = childEnvironment(env);
  for (const provider of leftOut) for (const name of credentialEnvNames(provider)) delete out[name];
  providers.forEach((provider, i) => {
    for (const [name, value] of credentialEnv(provider, credentials[i]!)) out[name] = value;
  });
  out.TOKENS_PROFILE = profile;
  return out;
}

export interface RunCommandOptions {
  /** Start the command as a child even where tokens could become it. */
  stay: boolean;
  /** PIDs sent SIGTERM once the command has ended (exec --serve: its server). */
  companions?: number[];
}

/**
 * Runs the command (no shell, stdio inherited) and resolves with its exit status: its code, 128 + N
 * when killed by signal N, 127 when not found, 126 when it cannot be run (one line on stderr, as a
 * shell says it). Where tokens becomes the command, it never resolves: the process is the command.
 */
export async function runCommand(
  command: readonly string[],
  env: Record<string, string>,
  stderr: TextSink,
  options: RunCommandOptions,
): Promise<number> {
  const [file = '', ...args] = command;
  if (!options.stay && canReplace(command, env) && !standardStreamsNonBlocking()) {
    const found = resolveCommand(file, env.PATH);
    if (found.kind === 'fails') return notStarted(file, found.code, stderr);
    if (found.kind === 'replace') {
      // Nothing of ours outlives this: the broker has released its lock, exec's fast path never
      // claims a refresh, and every descriptor Node opens is close-on-exec.
      const code = replaceProcess(found.path, command, env);
      // Node refused after all (Node 26 throws where 22 and 24 abort). Exit before the next tick,
      // where Node would print an ExperimentalWarning for the call.
      writeSync(2, notStartedLine(file, code));
      process.exit(statusOfStartError(code));
    }
  }
  const status = await runAsChild(file, args, env, stderr);
  for (const pid of options.companions ?? []) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // gone already
    }
  }
  return status;
}

function statusOfStartError(code: string): number {
  return code === 'ENOENT' ? 127 : 126;
}

function notStartedLine(file: string, code: string): string {
  const reason =
    code === 'ENOENT' ? 'command not found' : code === 'E2BIG' ? 'argument list too long' : `cannot run (${code})`;
  return `tokens: ${reason}: ${file}\n`;
}

function notStarted(file: string, code: string, stderr: TextSink): number {
  stderr.write(notStartedLine(file, code));
  return statusOfStartError(code);
}

/** The status a shell reports for a child that exited with `code` or was killed by `signal`. */
function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  return signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 0);
}

/**
 * The command as our child. The FORWARDED_SIGNALS are passed on, once: a signal that reached our
 * whole process group (a terminal's Ctrl-C, `kill -INT -- -PGID`, a cgroup stopped process by
 * process) has reached the child already, which is in that group, and is not sent again (see
 * GroupWitness); a signal to tokens alone is.
 */
function runAsChild(
  file: string,
  args: readonly string[],
  env: Record<string, string>,
  stderr: TextSink,
): Promise<number> {
  return new Promise((resolve) => {
    // Handlers go in before the child exists: a signal sent the moment the child starts must be
    // passed on, not kill us with the child left running.
    let child: ChildProcess | undefined;
    const early: NodeJS.Signals[] = [];
    const witness = GroupWitness.start(env);
    const forward = (signal: NodeJS.Signals) => {
      // Before the child exists, a group signal has not reached it: queue every one.
      if (!child) early.push(signal);
      else if (!witness) child.kill(signal);
      else void witness.groupGot(signal).then((got) => got || child?.kill(signal));
    };
    for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
    const finish = (status: number) => {
      for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
      witness?.stop();
      resolve(status);
    };
    try {
      child = spawn(file, args, { stdio: 'inherit', env });
    } catch (error) {
      // What spawn() refuses outright: an empty name (as a shell, "not found"), E2BIG, …
      const code = (error as NodeJS.ErrnoException).code;
      finish(notStarted(file, code === 'ERR_INVALID_ARG_VALUE' || !code ? 'ENOENT' : code, stderr));
      return;
    }
    // Once started, an 'error' is a kill() that failed (EPERM), not the end of the child.
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (child?.pid === undefined) finish(notStarted(file, error.code ?? 'EACCES', stderr));
    });
    child.on('exit', (code, signal) => finish(exitStatus(code, signal)));
    for (const signal of early) child.kill(signal);
  });
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

  private constructor(pid: number) {
    this.#pid = pid;
  }

  static start(env: Record<string, string>): GroupWitness | undefined {
    if (process.platform !== 'linux') return undefined;
    const traps = FORWARDED_SIGNALS.map((s) => s.slice(3)).join(' ');
    try {
      const sh = spawn('/bin/sh', ['-c', `trap : ${traps}; while kill -0 $PPID 2>/dev/null; do kill -STOP $$; done`], {
        stdio: 'ignore',
        // The command's environment, without the tokens: the witness needs none of it.
        env: childEnvironment(env),
      });
      sh.on('error', () => undefined);
      sh.unref();
      return sh.pid === undefined ? undefined : new GroupWitness(sh.pid);
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
