// `tokens exec --serve -- CMD`: the server (src/serve/server.ts) in a process of its own, started
// with a clean environment (src/serve/spawn.ts), and CMD with P_API_URL and TOKENS_SERVE_URL in its
// environment and no token at all. tokens stays CMD's parent and stops the server once CMD has ended.
import { DEFAULT_MAX_WAIT_SECONDS } from '../model/env.js';
import { commandEnv, masking, runCommand } from './exec-child.js';
import { configuredProviders } from './configured.js';
import { spawnServer } from '../serve/spawn.js';
import type { Deps } from '../broker/deps.js';
import type { ProviderDescriptor } from '../model/model.js';

/** What exec --serve takes of exec's options. */
export interface ExecServeOptions {
  /** Empty: every provider configured in the profile. */
  providers: ProviderDescriptor[];
  profile: string;
  command: string[];
  /** --mask / --no-mask; undefined: TOKENS_MASK, else whether CI is set. */
  mask?: boolean;
}

/** The key in the server's URLs (the first path segment of TOKENS_SERVE_URL); none on a unix socket. */
function serveKeyOf(vars: Record<string, string>): string | undefined {
  const url = vars.TOKENS_SERVE_URL;
  if (url === undefined) return undefined;
  const segment = new URL(url).pathname.split('/')[1];
  return segment === undefined || segment === '' ? undefined : segment;
}

export async function runExecServe(options: ExecServeOptions, deps: Deps): Promise<number> {
  const providers = options.providers.length > 0 ? options.providers : await configuredProviders(deps, options.profile);
  const started = await spawnServer(
    deps,
    { providers, profile: options.profile, maxWaitSeconds: DEFAULT_MAX_WAIT_SECONDS, verbose: false },
    'exec',
  );
  if ('code' in started) return started.code;
  // No token reaches CMD, not even one inherited from an outer `tokens exec`: every provider's
  // variables are left out, and the server's URLs stand in for them.
  const env = { ...commandEnv(deps.env, [], [], options.profile, deps.providers), ...started.vars };
  // The key in the URLs is the one secret CMD holds: what --mask hides.
  const key = serveKeyOf(started.vars);
  return runCommand(options.command, env, deps.io.stderr, {
    stay: true,
    companions: [started.pid],
    ...(masking(deps.env, options.mask) && key ? { mask: [key] } : {}),
    ownEnv: deps.env,
  });
}
