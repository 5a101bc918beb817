// `tokens exec --serve -- CMD`: the server (src/serve/server.ts) in a process of its own, started
// with a clean environment (src/serve/spawn.ts), and CMD with P_API_URL and TOKENS_SERVE_URL in its
// environment and no token at all. tokens stays CMD's parent and stops the server once CMD has ended.
import { childEnvironment } from '../providers/registry.js';
import { runCommand } from './exec-child.js';
import { configuredProviders } from './configured.js';
import { spawnServer } from '../serve/spawn.js';
import type { Deps } from '../core/deps.js';
import type { ProviderDescriptor } from '../core/model.js';

/** The 429 wait of exec --serve's server: the default of `tokens serve --max-wait`. */
const MAX_WAIT_SECONDS = 30;

/** What exec --serve takes of exec's options. */
export interface ExecServeOptions {
  /** Empty: every provider configured in the profile. */
  providers: ProviderDescriptor[];
  profile: string;
  command: string[];
}

export async function runExecServe(options: ExecServeOptions, deps: Deps): Promise<number> {
  const providers = options.providers.length > 0 ? options.providers : await configuredProviders(deps, options.profile);
  const started = await spawnServer(
    deps,
    { providers, profile: options.profile, maxWaitSeconds: MAX_WAIT_SECONDS, verbose: false },
    'exec',
  );
  if ('code' in started) return started.code;
  const env = childEnvironment(deps.env);
  // No token reaches CMD, not even one inherited from an outer `tokens exec`.
  for (const provider of deps.providers) {
    delete env[`${provider.envPrefix}_ACCESS_TOKEN`];
    delete env[`${provider.envPrefix}_AUTHORIZATION`];
  }
  delete env.SOUNDCHARTS_APP_ID;
  delete env.SOUNDCHARTS_API_KEY;
  Object.assign(env, started.vars, { TOKENS_PROFILE: options.profile });
  return runCommand(options.command, env, deps.io.stderr, { stay: true, companions: [started.pid] });
}
