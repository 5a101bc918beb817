// The child side of `tokens exec`, shared by runExec (src/commands/exec.ts) and the fast path
// (src/fast.ts): the child's environment from credentials already in hand, and running the child.
// No broker, no store, no config: light enough for dist/fast.cjs. It loads node:child_process, so
// the fast path imports it only for exec, never for get.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { credentialEnv } from '../core/format.js';
import { childEnvironment } from '../providers/registry.js';
import type { Credential } from '../core/broker.js';
import type { Env } from '../core/paths.js';
import type { ProviderDescriptor } from '../core/model.js';

/** The validity exec asks of each token, in seconds (runExec and the fast path alike). */
export const EXEC_MIN_TTL_SECONDS = 60;

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * The child's environment: ours minus the withheld variables, plus P_ACCESS_TOKEN / P_AUTHORIZATION
 * (or the legacy pair) for each provider, in order, and TOKENS_PROFILE.
 */
export function childEnv(env: Env, providers: readonly ProviderDescriptor[], credentials: readonly Credential[], profile: string): Record<string, string> {
  const out = childEnvironment(env);
  providers.forEach((provider, i) => {
    for (const [name, value] of credentialEnv(provider, credentials[i]!)) out[name] = value;
  });
  out.TOKENS_PROFILE = profile;
  return out;
}

/**
 * Runs the command (no shell, stdio inherited) and resolves with its exit status: its code, 128 + N
 * when killed by signal N, 127 when not found, 126 when it cannot be run. SIGINT, SIGTERM and SIGHUP
 * are passed on. Rejects only when spawn() itself throws (an invalid argument), so no child was started.
 */
export function spawnChild(command: readonly string[], env: Record<string, string>, stderr: { write(text: string): unknown }): Promise<number> {
  const [file, ...args] = command;
  return new Promise((resolve, reject) => {
    // Handlers go in before the child exists: a signal sent the moment the child starts must be
    // passed on, not kill us with the child left running.
    let child: ChildProcess | undefined;
    const early: NodeJS.Signals[] = [];
    const forward = (signal: NodeJS.Signals) => (child ? child.kill(signal) : early.push(signal));
    for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
    const removeHandlers = () => {
      for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
    };
    const done = (code: number) => {
      removeHandlers();
      resolve(code);
    };
    try {
      child = spawn(file!, args, { stdio: 'inherit', env });
    } catch (error) {
      removeHandlers();
      reject(error);
      return;
    }
    for (const signal of early) child.kill(signal);
    child.on('error', (error: NodeJS.ErrnoException) => {
      const notFound = error.code === 'ENOENT';
      stderr.write(`tokens: ${notFound ? 'command not found' : `cannot run (${error.code ?? 'error'})`}: ${file}\n`);
      done(notFound ? 127 : 126);
    });
    child.on('exit', (code, signal) => done(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
}
