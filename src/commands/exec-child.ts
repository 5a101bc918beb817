// The child side of `tokens exec`, shared by runExec (src/commands/exec.ts) and the fast path
// (src/fast.ts): the child's environment from credentials already in hand, and running the child.
// No broker, no store, no config: light enough for dist/fast.cjs. The children start through
// start-child.ts, which spares a warm exec the load of node:child_process.
import { closeSync, constants as fsConstants, openSync, readSync } from 'node:fs';
import { constants } from 'node:os';
import { credentialEnv } from '../core/format.js';
import { childEnvironment } from '../providers/registry.js';
import type { Credential } from '../core/broker.js';
import type { Env } from '../core/paths.js';
import type { ProviderDescriptor } from '../core/model.js';
import { childStarter, type ChildStarter, type StartedChild } from './start-child.js';

/**
 * The validity exec asks of each token, in seconds (runExec and the fast path alike): the default
 * margin, as a get without --min-ttl (shorter for short-lived tokens).
 */
export const EXEC_MIN_TTL_SECONDS = 60;

/**
 * Passed on to the child. SIGUSR1 and SIGUSR2 too: the program keeps SIGUSR1 from opening Node's
 * inspector (src/fast.ts), so the child is the one to tell. (SIGKILL cannot be caught: killing
 * tokens with it leaves the child running, reparented; see the README.)
 */
const FORWARDED_SIGNALS = ['SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const;

/**
 * The child's environment: ours minus the withheld variables, plus P_ACCESS_TOKEN / P_AUTHORIZATION
 * (or the legacy pair) for each provider, in order, and TOKENS_PROFILE.
 */
export function childEnv(
  env: Env,
  providers: readonly ProviderDescriptor[],
  credentials: readonly Credential[],
  profile: string,
): Record<string, string> {
  const out = childEnvironment(env);
  providers.forEach((provider, i) => {
    for (const [name, value] of credentialEnv(provider, credentials[i]!)) out[name] = value;
  });
  out.TOKENS_PROFILE = profile;
  return out;
}

/**
 * Runs the command (no shell, stdio inherited) and resolves with its exit status: its code, 128 + N
 * when killed by signal N, 127 when not found, 126 when it cannot be run. The FORWARDED_SIGNALS are
 * passed on, once: a signal sent to our whole process group (a Ctrl-C at the terminal) has reached
 * the child already, which is in that group, and is not sent again (see GroupWitness). Rejects only
 * when spawn() itself throws (an invalid argument), so no child was started.
 */
export function spawnChild(
  command: readonly string[],
  env: Record<string, string>,
  stderr: { write(text: string): unknown },
): Promise<number> {
  const [file, ...args] = command;
  const start = childStarter();
  return new Promise((resolve, reject) => {
    // Handlers go in before the child exists: a signal sent the moment the child starts must be
    // passed on, not kill us with the child left running.
    let child: StartedChild | undefined;
    const early: NodeJS.Signals[] = [];
    const witness = GroupWitness.start(start);
    const forward = (signal: NodeJS.Signals) => {
      // Before the child exists, a group signal has not reached it: queue every one.
      if (!child) early.push(signal);
      else if (!witness?.groupGot(signal)) child.kill(signal);
    };
    for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
    const removeHandlers = () => {
      for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
      witness?.stop();
    };
    try {
      child = start(file!, args, {
        stdio: 'inherit',
        env,
        onEnd: (end) => {
          removeHandlers();
          if (end.kind === 'exited') return resolve(end.status);
          const notFound = end.code === 'ENOENT';
          stderr.write(`tokens: ${notFound ? 'command not found' : `cannot run (${end.code || 'error'})`}: ${file}\n`);
          resolve(notFound ? 127 : 126);
        },
      });
    } catch (error) {
      removeHandlers();
      reject(error);
      return;
    }
    for (const signal of early) child.kill(signal);
  });
}

/**
 * Tells, for a signal tokens received, whether it was sent to tokens' whole process group (the
 * terminal's Ctrl-C or Ctrl-\\, `kill -INT -PGID`) — then the child, in that group, has it already —
 * or to tokens alone (`kill -INT PID`, a supervisor), which only tokens can pass on.
 *
 * Node does not show who sent a signal (no siginfo), so a witness does: a tiny shell in our process
 * group that catches these signals and keeps itself stopped. A stopped process keeps a caught signal
 * pending, and the kernel makes a group signal pending on every member before the sending call
 * returns, so by the time our handler runs, the witness's pending set (/proc/PID/status) says whether
 * the group got it. The witness is then continued (its no-op trap consumes the signal) and stops
 * itself again; a second group signal in the millisecond before it has stopped would be passed on.
 *
 * Only where it matters and works: on Linux (/proc), when tokens is in the foreground process group
 * of its terminal, the only place a terminal sends signals to. Elsewhere every signal is passed on.
 * If tokens is SIGKILLed, the group is orphaned with the witness stopped in it, so the kernel sends
 * the group SIGHUP (and the witness ends).
 */
class GroupWitness {
  readonly #pid: number;

  private constructor(pid: number) {
    this.#pid = pid;
  }

  static start(start: ChildStarter): GroupWitness | undefined {
    if (process.platform !== 'linux' || !inTerminalForeground()) return undefined;
    const traps = FORWARDED_SIGNALS.map((s) => s.slice(3)).join(' ');
    try {
      const sh = start('/bin/sh', ['-c', `trap : ${traps}; while kill -0 $PPID 2>/dev/null; do kill -STOP $$; done`], {
        stdio: 'ignore',
        env: childEnvironment(process.env),
        onEnd: () => undefined,
      });
      sh.unref();
      return sh.pid === undefined ? undefined : new GroupWitness(sh.pid);
    } catch {
      return undefined;
    }
  }

  /** True when the witness (so the whole group) got `signal` too; resets the witness. */
  groupGot(signal: NodeJS.Signals): boolean {
    let status: string;
    try {
      status = readProcFile(`/proc/${this.#pid}/status`);
    } catch {
      return false;
    }
    // Not stopped (yet, or any more): it cannot tell; pass the signal on.
    if (!/^State:\s+T/m.test(status)) return false;
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

/**
 * A file of /proc, whose size reads as 0, to its end. Not readFileSync: its first call in a process
 * costs about 1 ms here, and every exec reads /proc/self/stat.
 */
function readProcFile(path: string): string {
  const fd = openSync(path, fsConstants.O_RDONLY);
  try {
    const buffer = Buffer.allocUnsafe(4096);
    let text = '';
    for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0; ) text += buffer.toString('latin1', 0, n);
    return text;
  } finally {
    closeSync(fd);
  }
}

/** On Linux: whether this process is in the foreground process group of its controlling terminal. */
function inTerminalForeground(): boolean {
  try {
    const stat = readProcFile('/proc/self/stat');
    // After "pid (comm) ": state ppid pgrp session tty_nr tpgid …
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pgrp = Number(fields[2]);
    const tpgid = Number(fields[5]);
    return tpgid > 0 && tpgid === pgrp;
  } catch {
    return false;
  }
}
