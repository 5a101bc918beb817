// The command side of `tokens exec`, shared by runExec (src/commands/exec.ts) and the fast path
// (src/fast.ts): the command's environment from credentials already in hand, and running it. No
// broker, no store, no config: light enough for dist/fast.cjs.
//
// Where it can (replace-process.ts), tokens becomes the command. Otherwise — no process.execve,
// Windows, a command whose start only a child can report, or a mode that keeps tokens as the parent
// (--mask with a stream to relay, --serve, TOKENS_EXEC_STAY) — the command runs as a child (stay.ts),
// and tokens passes signals on.
// A parent that stays must not hold the withheld secrets in its environment, which the command
// could read (/proc/PID/environ shows a process's initial environment, whatever it deleted since):
// when tokens' own holds one, tokens becomes a fresh Node with a clean environment, the supervisor
// (src/supervise.ts), which runs the command instead.
// (In dist/fast.cjs, node:child_process loads on the first spawn only: scripts/build.mjs.)
import { accessSync, constants as fsConstants, existsSync, realpathSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { credentialEnv, credentialEnvNames } from '../model/format.js';
import { readEnv, TOKENS_EXEC_PLAN, TOKENS_MASK } from '../model/env.js';
import { childEnvironment, withheldVariables } from '../providers/registry.js';
import {
  canReplace,
  replaceProcess,
  resolveCommand,
  standardStreamsNonBlocking,
  withinExecLimits,
} from './replace-process.js';
import { anyRelayable, notStarted, notStartedLine, runAsChild, statusOfStartError, type StayOptions } from './stay.js';
import type { Credential } from '../model/model.js';
import type { TextSink } from '../model/sync-output.js';
import type { Env } from '../model/paths.js';
import type { ProviderDescriptor } from '../model/model.js';

export { exitWhenIdle } from './stay.js';

/**
 * The child's environment: ours minus the withheld variables, plus P_ACCESS_TOKEN / P_AUTHORIZATION
 * (or the legacy pair) for each provider, in order, and TOKENS_PROFILE. The variables of a provider
 * `leftOut` (it could give no token) are unset, so the command never takes an inherited one for ours.
 */
export function commandEnv(
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

/**
 * Whether exec masks: --mask / --no-mask (`flag`), else TOKENS_MASK, else on when CI is set to
 * anything but empty, 0 or false (a CI job's log is read by many).
 */
export function masking(env: Env, flag: boolean | undefined): boolean {
  if (flag !== undefined) return flag;
  const fromEnv = readEnv(env, TOKENS_MASK);
  if (fromEnv !== undefined) return fromEnv;
  const ci = (env.CI ?? '').trim().toLowerCase();
  return ci !== '' && ci !== '0' && ci !== 'false';
}

/** What --mask hides: each access token and Authorization value, and each legacy key, handed to the command. */
export function maskedSecrets(providers: readonly ProviderDescriptor[], credentials: readonly Credential[]): string[] {
  return providers.flatMap((provider, i) => {
    const credential = credentials[i]!;
    if (credential.kind === 'static') {
      return credential.credentials.secrets ?? credential.credentials.env.map(([, value]) => value);
    }
    return credentialEnv(provider, credential).map(([, value]) => value);
  });
}

export interface RunCommandOptions extends StayOptions {
  /** Start the command as a child even where tokens could become it (a mask with a stream to relay implies it). */
  stay: boolean;
  /**
   * tokens' own environment as it started: when it holds a withheld variable and tokens stays the
   * parent, the command is run by the supervisor instead (see the top of this file).
   */
  ownEnv?: Env;
}

/** What tokens hands the supervisor (src/supervise.ts) in TOKENS_EXEC_PLAN. */
export interface SupervisorPlan {
  command: string[];
  mask?: string[];
  companions?: number[];
}

/**
 * Runs the command (no shell; stdio inherited, or relayed through the masker) and resolves with its exit status: its code, 128 + N
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
  // --mask with stdout and stderr both terminals or /dev/null: nothing to relay, so nothing keeps
  // tokens as the parent (the contract's rule for becoming the command).
  const mask = options.mask && anyRelayable() ? options.mask : undefined;
  if (!options.stay && !mask && canReplace(command, env) && !standardStreamsNonBlocking()) {
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
  const stay: StayOptions = {
    ...(mask ? { mask } : {}),
    ...(options.companions ? { companions: options.companions } : {}),
  };
  if (options.ownEnv && holdsWithheld(options.ownEnv)) superviseFrom(command, env, stay);
  return runAsChild(file, args, env, stderr, stay);
}

function holdsWithheld(env: Env): boolean {
  const withheld = withheldVariables();
  return Object.keys(env).some((name) => withheld.has(name));
}

/**
 * Becomes the supervisor: a fresh Node (process.execve keeps our PID, so whoever signals tokens
 * signals it) running dist/supervise.cjs, whose environment is the command's plus the plan. Returns
 * only where that cannot be done (no execve: Windows; no built supervisor next to us: the sources
 * run in a test), and then tokens stays the parent itself.
 */
function superviseFrom(command: readonly string[], env: Record<string, string>, stay: StayOptions): void {
  if (typeof process.execve !== 'function') return;
  const entry = supervisorEntry();
  if (!entry) return;
  const plan: SupervisorPlan = {
    command: [...command],
    ...(stay.mask ? { mask: [...stay.mask] } : {}),
    ...(stay.companions ? { companions: [...stay.companions] } : {}),
  };
  const argv = [process.execPath, entry];
  const cleanEnv = { ...childEnvironment(env), [TOKENS_EXEC_PLAN.name]: JSON.stringify(plan) };
  // A failed execve aborts Node 22 and 24: made only when it cannot fail.
  if (!withinExecLimits(argv, cleanEnv)) return;
  try {
    accessSync(process.execPath, fsConstants.X_OK);
    process.execve(process.execPath, argv, cleanEnv);
  } catch {
    // Node refused (Node 26 throws where 22 and 24 abort): tokens supervises itself.
  }
}

/** dist/supervise.cjs of this installation: bin/tokens.js is process.argv[1], dist/ its sibling. */
function supervisorEntry(): string | undefined {
  try {
    const entry = join(dirname(realpathSync(process.argv[1] ?? '')), '..', 'dist', 'supervise.cjs');
    return existsSync(entry) ? entry : undefined;
  } catch {
    return undefined;
  }
}
