// The supervisor of `tokens exec` (dist/supervise.cjs): the clean parent. tokens becomes this fresh
// Node (process.execve, same PID) when it must stay its command's parent and its own environment
// holds a withheld secret (TOKENS_PASSPHRASE, TOKENS_REDIS_URL, …): a process's initial
// environment stays readable in /proc/PID/environ to the command, which runs as the same user.
// Its environment is the command's plus TOKENS_EXEC_PLAN (src/commands/exec-child.ts: the command,
// what to mask, the companions), and it does what tokens would have done: start the command, relay
// and mask, pass signals on, exit with the command's status. Small on purpose: no broker, store or
// provider code.
import { TOKENS_EXEC_PLAN } from './model/env.js';
import { syncStderr } from './model/sync-output.js';
import { exitWhenIdle, runAsChild } from './commands/stay.js';
import type { SupervisorPlan } from './commands/exec-child.js';

function main(): void {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && name !== TOKENS_EXEC_PLAN.name) env[name] = value;
  }
  let plan: SupervisorPlan;
  try {
    plan = JSON.parse(process.env[TOKENS_EXEC_PLAN.name] ?? '') as SupervisorPlan;
    if (!Array.isArray(plan.command) || plan.command.length === 0) throw new Error('no command');
  } catch {
    syncStderr.write('tokens: internal error: the supervisor was started without a plan\n');
    process.exit(1);
  }
  const [file = '', ...args] = plan.command;
  void runAsChild(file, args, env, syncStderr, {
    ...(plan.mask ? { mask: plan.mask } : {}),
    ...(plan.companions ? { companions: plan.companions } : {}),
  }).then(exitWhenIdle);
}

main();
