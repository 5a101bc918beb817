// The one way to tell a user which login command to run again, with --profile off the default.
import { NotConfiguredError } from '../base/errors.js';
import { DEFAULT_PROFILE } from '../base/profile.js';
import { shellQuote } from './format.js';
import type { LoginFlags } from './model.js';

export function loginCommand(provider: string, profile: string, extra = ''): string {
  return `tokens login ${provider}${extra}${profileFlag(profile)}`;
}

export function loginHint(provider: string, profile: string, extra = ''): string {
  return `Run \`${loginCommand(provider, profile, extra)}\` to store new credentials.`;
}

/** Exit 3 for a provider with no settings in this profile, naming the login that fixes it. */
export function notConfigured(provider: string, profile: string): NotConfiguredError {
  return new NotConfiguredError(`${provider} is not configured for profile "${profile}"`, {
    hint: `Run \`${loginCommand(provider, profile)}\`.`,
  });
}

/** " (profile NAME)" in messages to people, nothing for the default profile. */
export function profileNote(profile: string): string {
  return profile === DEFAULT_PROFILE ? '' : ` (profile ${profile})`;
}

/** " --profile NAME" for a command to run again, nothing for the default profile. */
export function profileFlag(profile: string): string {
  return profile === DEFAULT_PROFILE ? '' : ` --profile ${profile}`;
}

/** The flags a login was given, as they would be typed again (values quoted for a shell when needed). */
export function givenFlags(flags: LoginFlags): string {
  const words: string[] = [];
  const value = (name: string, v: string | undefined) => {
    if (v !== undefined) words.push(name, /^[\w.:/@%+=,-]+$/.test(v) ? v : shellQuote(v));
  };
  if (flags.clientCredentials) words.push('--client-credentials');
  if (flags.legacy) words.push('--legacy');
  value('--client-id', flags.clientId);
  value('--team-id', flags.teamId);
  value('--app-id', flags.appId);
  value('--redirect-uri', flags.redirectUri);
  value('--scope', flags.scope);
  if (flags.browser === false) words.push('--no-browser');
  value('--timeout', flags.timeoutSeconds === undefined ? undefined : String(flags.timeoutSeconds));
  return words.length > 0 ? ` ${words.join(' ')}` : '';
}
