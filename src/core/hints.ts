// The one way to tell a user which login command to run again, with --profile off the default.

export function loginCommand(provider: string, profile: string, extra = ''): string {
  return `tokens login ${provider}${extra}${profile === 'default' ? '' : ` --profile ${profile}`}`;
}

export function loginHint(provider: string, profile: string, extra = ''): string {
  return `Run \`${loginCommand(provider, profile, extra)}\` to store new credentials.`;
}
