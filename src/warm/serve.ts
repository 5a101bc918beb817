// `tokens serve` started by the fast path: when every provider asked for has its token fresh in the
// cache, the server listens and prints its ready lines from dist/fast.cjs, with the same code as
// runServe from the listen on (serveUntilStopped); what answers requests (the broker, the HTTP
// policy, the rules) loads from the full program's bundle once the ready line is out, as it does
// under runServe. Anything more is runServe's: --background, a server another tokens started (its
// withheld values come over fd 3), --socket (its directory's checks), every configured provider (the
// store's settings), a token to refresh or a login to confirm, a listen that fails (runServe says why).
import { ExitCode, describeError } from '../base/errors.js';
import { resolveEndpoints } from '../model/endpoints.js';
import { readEnv, TOKENS_SERVE_KEY } from '../model/env.js';
import {
  DEFAULT_LISTEN,
  freshInCache,
  newKey,
  parseListen,
  serveUntilStopped,
  type ServeOptions,
} from '../commands/serve.js';
import type { WarmAnswer, WarmContext } from './context.js';

export async function warmServe(options: ServeOptions, context: WarmContext): Promise<WarmAnswer | undefined> {
  const { env, paths } = context;
  if (options.background || options.role !== undefined) return undefined;
  if (options.socket !== undefined || options.providers.length === 0) return undefined;
  const tcp = parseListen(options.listen ?? DEFAULT_LISTEN);
  for (const provider of options.providers) {
    resolveEndpoints(provider, env);
    if (!(await freshInCache(paths, env, options.profile, provider, Date.now()))) return undefined;
  }
  const key = readEnv(env, TOKENS_SERVE_KEY) ?? (await newKey());
  const config = {
    providerIds: options.providers.map((p) => p.id),
    profile: options.profile,
    maxWaitSeconds: options.maxWaitSeconds,
    key,
    verbose: options.verbose,
  };
  let ready = false;
  try {
    const code = await serveUntilStopped({
      stdout: process.stdout,
      at: { tcp },
      providers: options.providers,
      key,
      answering: (listening) => context.answerRequests(config, listening),
      onReady: () => (ready = true),
    });
    return { code };
  } catch (error) {
    // Before the ready line nothing was done but a failed listen: runServe tries again and says why.
    // After it, the call is answered: a second server must not start.
    if (!ready) return undefined;
    return { code: ExitCode.internal, stderr: describeError(error, options.verbose) };
  }
}
