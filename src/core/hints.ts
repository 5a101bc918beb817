// The one way to tell a user which login command to run again, with --profile off the default.
import { NotConfiguredError } from './errors.js';

export function loginCommand(provider: string, profile: string, extra = ''): string {
  return `tokens login ${provider}${extra}${profile === 'default' ? '' : ` --profile ${profile}`}`;
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
  return profile === 'default' ? '' : ` (profile ${profile})`;
}
