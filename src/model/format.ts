// What `get --format` prints and what `exec` puts in the environment, from one credential.
// On the warm path: plain string work only.
import { UsageError } from '../base/errors.js';
import type { Credential } from './model.js';
import type { ProviderDescriptor } from './model.js';

export const FORMATS = ['token', 'header', 'json', 'env'] as const;
export type Format = (typeof FORMATS)[number];

export function parseFormat(value: string): Format {
  if ((FORMATS as readonly string[]).includes(value)) return value as Format;
  throw new UsageError(`unknown format "${value}"; use one of: ${FORMATS.join(', ')}`);
}

/** The variables exec sets and --format env prints, in order. */
export function credentialEnv(provider: ProviderDescriptor, credential: Credential): Array<[string, string]> {
  if (credential.kind === 'static') return credential.credentials.env;
  const token = credential.token.access_token;
  return [
    [`${provider.envPrefix}_ACCESS_TOKEN`, token],
    [`${provider.envPrefix}_AUTHORIZATION`, `${provider.authScheme} ${token}`],
  ];
}

/** Every variable exec may set for a provider, in any of its modes. */
export function credentialEnvNames(provider: ProviderDescriptor): string[] {
  return [
    `${provider.envPrefix}_ACCESS_TOKEN`,
    `${provider.envPrefix}_AUTHORIZATION`,
    ...(provider.staticEnvNames ?? []),
  ];
}

/** The headers that carry the credential: Authorization with the provider's scheme, or the legacy pair. */
export function credentialHeaders(provider: ProviderDescriptor, credential: Credential): Array<[string, string]> {
  if (credential.kind === 'static') return credential.credentials.headers;
  return [['Authorization', `${provider.authScheme} ${credential.token.access_token}`]];
}

/** POSIX shell single quoting: safe to eval. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function formatCredential(
  format: Format,
  provider: ProviderDescriptor,
  profile: string,
  credential: Credential,
): string {
  if (format === 'env') {
    return credentialEnv(provider, credential)
      .map(([name, value]) => `export ${name}=${shellQuote(value)}\n`)
      .join('');
  }
  if (credential.kind === 'static') {
    const { credentials } = credential;
    if (format === 'header') return headerLines(provider, credential);
    if (format === 'json') return `${JSON.stringify({ provider: provider.id, profile, ...credentials.json })}\n`;
    throw new UsageError(`${provider.id} (profile "${profile}") uses legacy API keys, which have no access token`, {
      hint: 'Use --format header or --format env.',
    });
  }
  const { token } = credential;
  switch (format) {
    case 'token':
      return `${token.access_token}\n`;
    case 'header':
      return headerLines(provider, credential);
    case 'json':
      return `${JSON.stringify({
        provider: provider.id,
        profile,
        access_token: token.access_token,
        token_type: provider.authScheme,
        expires_at: new Date(token.expires_at).toISOString(),
      })}\n`;
  }
}

function headerLines(provider: ProviderDescriptor, credential: Credential): string {
  return credentialHeaders(provider, credential)
    .map(([name, value]) => `${name}: ${value}\n`)
    .join('');
}
