// `tokens exec`: run a command with fresh tokens in its environment, as aws-vault exec does.
// No shell; stdio inherited; SIGINT/SIGTERM/SIGHUP passed on; the child's exit status returned.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { TokenBroker } from '../core/broker.js';
import { NotConfiguredError } from '../core/errors.js';
import { resolveEndpoints } from '../core/endpoints.js';
import { credentialEnv } from '../core/format.js';
import { PROVIDERS } from '../providers/registry.js';
import type { Deps } from '../core/deps.js';
import type { ProviderDescriptor } from '../providers/types.js';

export interface ExecOptions {
  /** Empty: every provider configured in the profile. */
  providers: ProviderDescriptor[];
  profile: string;
  command: string[];
}

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** Variables the child never sees: the file store's passphrase and every login secret. */
export const WITHHELD_ENV = ['TOKENS_PASSPHRASE', ...PROVIDERS.flatMap((p) => p.secretEnv)];

export async function runExec(options: ExecOptions, deps: Deps): Promise<number> {
  for (const provider of options.providers) resolveEndpoints(provider, deps.env);
  const providers = options.providers.length > 0 ? options.providers : await configuredProviders(deps, options.profile);
  const broker = new TokenBroker(deps);
  const credentials = await Promise.all(providers.map((p) => broker.get(p, options.profile, { minTtlSeconds: 60, forceRefresh: false })));

  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(deps.env)) if (value !== undefined && !WITHHELD_ENV.includes(name)) env[name] = value;
  providers.forEach((provider, i) => {
    for (const [name, value] of credentialEnv(provider, credentials[i]!)) env[name] = value;
  });
  env.TOKENS_PROFILE = options.profile;
  return spawnChild(options.command, env, deps);
}

async function configuredProviders(deps: Deps, profile: string): Promise<ProviderDescriptor[]> {
  const { loadConfig, settingsFor } = await import('../core/config.js');
  const config = await loadConfig(deps.paths);
  const found = PROVIDERS.filter((p) => settingsFor(config, profile, p.id));
  if (found.length === 0) {
    throw new NotConfiguredError(`no provider is configured for profile "${profile}"`, { hint: 'Run `tokens login PROVIDER` first, or pass --provider.' });
  }
  return found;
}

function spawnChild(command: string[], env: Record<string, string>, deps: Deps): Promise<number> {
  const [file, ...args] = command;
  return new Promise((resolve) => {
    // Handlers go in before the child exists: a signal sent the moment the child starts must be
    // passed on, not kill us with the child left running.
    let child: ReturnType<typeof spawn> | undefined;
    const early: NodeJS.Signals[] = [];
    const forward = (signal: NodeJS.Signals) => (child ? child.kill(signal) : early.push(signal));
    for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
    const done = (code: number) => {
      for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
      resolve(code);
    };
    child = spawn(file!, args, { stdio: 'inherit', env });
    for (const signal of early) child.kill(signal);
    child.on('error', (error: NodeJS.ErrnoException) => {
      const notFound = error.code === 'ENOENT';
      deps.io.stderr.write(`tokens: ${notFound ? 'command not found' : `cannot run (${error.code ?? 'error'})`}: ${file}\n`);
      done(notFound ? 127 : 126);
    });
    child.on('exit', (code, signal) => done(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
}
