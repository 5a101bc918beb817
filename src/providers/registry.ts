// Every provider, one line each: the one list of providers. Everything else that lists them is
// derived from it here (names, the variables they read, the variables no child sees) or takes it
// as an argument (the config schema, the completion words). Descriptors are plain data; their code
// loads on demand.
import { CORE_VARIABLES, withoutVariables, type EnvVar } from '../model/env.js';
import { checkEndpointUrl } from '../model/endpoints.js';
import { chartmetric } from './chartmetric/index.js';
import { soundcharts } from './soundcharts/index.js';
import { soundcloud } from './soundcloud/index.js';
import type { Env } from '../model/paths.js';
import type { ProviderDescriptor } from '../model/model.js';

export const PROVIDERS = [soundcloud, chartmetric, soundcharts] as const satisfies readonly ProviderDescriptor[];

export type ProviderId = (typeof PROVIDERS)[number]['id'];

/** A provider's own variables: its endpoint overrides and the secrets `login` reads. */
export function providerVariables(provider: ProviderDescriptor): EnvVar<unknown>[] {
  const endpoints = Object.entries(provider.endpoints).map(([name, endpoint]) => ({
    name: endpoint.env,
    doc:
      name === 'api'
        ? `${provider.title} API base for \`tokens api\` (default ${endpoint.default})`
        : `${provider.title} ${name} endpoint (default ${endpoint.default})`,
    fallback: endpoint.default,
    parse: (raw: string) => checkEndpointUrl(raw, endpoint.env),
  }));
  const secrets = provider.secrets.map((secret) => ({
    name: secret.env,
    doc: `the ${secret.label} for \`tokens login ${provider.id}\``,
    fallback: undefined,
    parse: (raw: string) => raw,
    secret: true,
  }));
  return [...endpoints, ...secrets];
}

/** Every TOKENS_* variable tokens reads, for the up-front check and the README's table. */
export function allVariables(providers: readonly ProviderDescriptor[] = PROVIDERS): EnvVar<unknown>[] {
  return [...CORE_VARIABLES, ...providers.flatMap(providerVariables)];
}

/** The variables that no child process of tokens ever sees: every one that carries a secret. */
export function withheldVariables(providers: readonly ProviderDescriptor[] = PROVIDERS): ReadonlySet<string> {
  return new Set(
    allVariables(providers)
      .filter((v) => v.secret)
      .map((v) => v.name),
  );
}

/**
 * The one rule for a child's environment (exec's command, the browser, the keychain helper): ours
 * without the withheld variables.
 */
export function childEnvironment(
  env: Env,
  providers: readonly ProviderDescriptor[] = PROVIDERS,
): Record<string, string> {
  return withoutVariables(env, withheldVariables(providers));
}
