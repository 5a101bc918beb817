// `tokens exec`: run a command with fresh tokens in its environment, as aws-vault exec does.
// The command's environment and the running of it live in exec-child.ts, shared with the fast path.
import { TokenBroker } from '../core/broker.js';
import { NotConfiguredError } from '../core/errors.js';
import { resolveEndpoints } from '../core/endpoints.js';
import { readEnv, TOKENS_EXEC_STAY } from '../core/env.js';
import { childEnv, maskedSecrets, masking, runCommand } from './exec-child.js';
import type { Deps } from '../core/deps.js';
import type { ProviderDescriptor } from '../core/model.js';

export interface ExecOptions {
  /** Empty: every provider configured in the profile. */
  providers: ProviderDescriptor[];
  profile: string;
  command: string[];
  /** --min-ttl: each token's validity, and whether it was asked for (the rules of `get`). */
  minTtl: { seconds: number; given: boolean };
  /** --mask (true) or --no-mask (false); undefined: TOKENS_MASK, else whether CI is set. */
  mask?: boolean;
}

export async function runExec(options: ExecOptions, deps: Deps): Promise<number> {
  for (const provider of options.providers) resolveEndpoints(provider, deps.env);
  const providers = options.providers.length > 0 ? options.providers : await configuredProviders(deps, options.profile);
  const broker = new TokenBroker(deps);
  const credentials = await Promise.all(
    providers.map((p) =>
      broker.get(p, options.profile, {
        minTtlSeconds: options.minTtl.seconds,
        minTtlGiven: options.minTtl.given,
        forceRefresh: false,
      }),
    ),
  );
  return runCommand(options.command, childEnv(deps.env, providers, credentials, options.profile), deps.io.stderr, {
    stay: readEnv(deps.env, TOKENS_EXEC_STAY),
    ...(masking(deps.env, options.mask) ? { mask: maskedSecrets(providers, credentials) } : {}),
    ownEnv: deps.env,
  });
}

async function configuredProviders(deps: Deps, profile: string): Promise<ProviderDescriptor[]> {
  const { loadConfig, settingsFor } = await import('../core/config.js');
  const config = await loadConfig(deps);
  const found = deps.providers.filter((p) => settingsFor(config, profile, p.id));
  if (found.length === 0) {
    throw new NotConfiguredError(`no provider is configured for profile "${profile}"`, {
      hint: 'Run `tokens login PROVIDER` first, or pass --provider.',
    });
  }
  return found;
}
