// `tokens exec`: run a command with fresh tokens in its environment, as aws-vault exec does.
// The command's environment and the running of it live in exec-child.ts, shared with the fast path.
import { TokenBroker } from '../broker/broker.js';
import { describeTokensError, isTokensError, type TokensError } from '../base/errors.js';
import { resolveEndpoints } from '../model/endpoints.js';
import { readEnv, TOKENS_EXEC_STAY } from '../model/env.js';
import { commandEnv, maskedSecrets, masking, runCommand } from './exec-child.js';
import { configuredProviders } from './configured.js';
import type { Deps } from '../broker/deps.js';
import type { Credential, ProviderDescriptor } from '../model/model.js';

export interface ExecOptions {
  /** Empty: every provider configured in the profile. */
  providers: ProviderDescriptor[];
  profile: string;
  command: string[];
  /** --min-ttl: each token's validity, and whether it was asked for (the rules of `get`). */
  minTtl: { seconds: number; given: boolean };
  /** --serve: the command gets the URLs of a server (src/commands/exec-serve.ts) instead of tokens. */
  serve?: boolean;
  /** --mask (true) or --no-mask (false); undefined: TOKENS_MASK, else whether CI is set. */
  mask?: boolean;
}

export async function runExec(options: ExecOptions, deps: Deps): Promise<number> {
  if (options.serve) return (await import('./exec-serve.js')).runExecServe(options, deps);
  for (const provider of options.providers) resolveEndpoints(provider, deps.env);
  const named = options.providers.length > 0;
  const wanted = named ? options.providers : await configuredProviders(deps, options.profile);
  const broker = new TokenBroker(deps);
  const get = (p: ProviderDescriptor) =>
    broker.get(p, options.profile, {
      minTtlSeconds: options.minTtl.seconds,
      minTtlGiven: options.minTtl.given,
      forceRefresh: false,
    });
  // Named with --provider: each is needed, and its failure is fatal. Otherwise one that cannot
  // give a token is left out (one warning naming it and why; its variables unset) and CMD runs.
  const settled = named
    ? (await Promise.all(wanted.map(get))).map(fulfilled)
    : await Promise.allSettled(wanted.map(get));
  const providers: ProviderDescriptor[] = [];
  const credentials: Credential[] = [];
  const leftOut: ProviderDescriptor[] = [];
  settled.forEach((result, i) => {
    const provider = wanted[i]!;
    if (result.status === 'fulfilled') {
      providers.push(provider);
      credentials.push(result.value);
      return;
    }
    if (!isTokensError(result.reason)) throw result.reason;
    deps.io.stderr.write(leftOutWarning(provider, result.reason));
    leftOut.push(provider);
  });
  return runCommand(
    options.command,
    commandEnv(deps.env, providers, credentials, options.profile, leftOut),
    deps.io.stderr,
    {
      stay: readEnv(deps.env, TOKENS_EXEC_STAY),
      ...(masking(deps.env, options.mask) ? { mask: maskedSecrets(providers, credentials) } : {}),
      ownEnv: deps.env,
    },
  );
}

function fulfilled<T>(value: T): PromiseSettledResult<T> {
  return { status: 'fulfilled', value };
}

/** One line: the provider, its exit code and the error's own words (message and hint). */
function leftOutWarning(provider: ProviderDescriptor, error: TokensError): string {
  const why = describeTokensError(error)
    .replace(/^tokens: /, '')
    .trimEnd();
  return `tokens: warning: ${provider.id} left out (exit ${error.exitCode}: ${why}); its variables are not set\n`;
}
