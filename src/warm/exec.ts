// `tokens exec` with every token from the cache: the command runs as runExec runs it (exec-child.ts).
import { readConfigQuickly, settingsFor } from '../files/config-file.js';
import { resolveEndpoints } from '../model/endpoints.js';
import { readEnv, TOKENS_EXEC_STAY } from '../model/env.js';
import { PROVIDERS } from '../providers/registry.js';
import { storeKindFromEnv } from '../model/store-locations.js';
import { cachedCredential } from './credential.js';
import type { ExecOptions } from '../commands/exec.js';
import type { Credential } from '../model/model.js';
import type { WarmAnswer, WarmContext } from './context.js';

export async function warmExec(options: ExecOptions, context: WarmContext): Promise<WarmAnswer | undefined> {
  const { env, paths } = context;
  if (options.serve) return undefined;
  for (const provider of options.providers) resolveEndpoints(provider, env);
  let providers = options.providers;
  if (providers.length === 0) {
    // Every provider with settings in the profile. None, or a config.json the hand check is not sure
    // of, is the full program's to report; so are a Redis store's shared settings, which this
    // machine's config.json may lack. A provider with no token here is also the full program's (it
    // is left out with a warning there, or refreshed).
    if (storeKindFromEnv(env) === 'redis') return undefined;
    const config = readConfigQuickly(paths, PROVIDERS);
    providers = config ? PROVIDERS.filter((p) => settingsFor(config, options.profile, p.id)) : [];
    if (providers.length === 0) return undefined;
  }
  const credentials: Credential[] = [];
  for (const provider of providers) {
    const credential = await cachedCredential(context, provider, options.profile, options.minTtl, false);
    if (!credential) return undefined;
    credentials.push(credential);
  }
  // Loaded only here: exec's part (the child's environment, its start, the signals) is no get's business.
  const { commandEnv, maskedSecrets, masking, runCommand } = await import('../commands/exec-child.js');
  const code = await runCommand(
    options.command,
    commandEnv(env, providers, credentials, options.profile),
    context.stderr,
    {
      stay: readEnv(env, TOKENS_EXEC_STAY),
      ...(masking(env, options.mask) ? { mask: maskedSecrets(providers, credentials) } : {}),
      ownEnv: env,
    },
  );
  return { code, ranChild: true };
}
