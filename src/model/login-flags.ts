// The flags of `tokens login`, declared once: the program builds its options from this table, and
// an adapter's "does not apply to" check names them from it.
import type { LoginFlags } from './model.js';

export interface LoginFlagSpec {
  /** Commander's flag syntax, e.g. "--client-id <id>". */
  readonly syntax: string;
  readonly help: string;
  /** How the given value becomes the LoginFlags field. */
  readonly value: 'text' | 'present' | 'negated' | 'seconds';
  /** The providers whose login takes it (in some mode): completion offers it only with these. */
  readonly providers: readonly string[];
}

export const LOGIN_FLAGS: { readonly [K in keyof LoginFlags]-?: LoginFlagSpec } = {
  clientId: {
    syntax: '--client-id <id>',
    help: 'OAuth client id (SoundCloud, Soundcharts)',
    value: 'text',
    providers: ['soundcloud', 'soundcharts'],
  },
  teamId: {
    syntax: '--team-id <team>',
    help: 'Soundcharts team name or id',
    value: 'text',
    providers: ['soundcharts'],
  },
  legacy: {
    syntax: '--legacy',
    help: 'Soundcharts: store the deprecated x-app-id / x-api-key pair',
    value: 'present',
    providers: ['soundcharts'],
  },
  appId: {
    syntax: '--app-id <id>',
    help: 'Soundcharts legacy app id (with --legacy)',
    value: 'text',
    providers: ['soundcharts'],
  },
  clientCredentials: {
    syntax: '--client-credentials',
    help: 'SoundCloud: app-only credentials, no user login',
    value: 'present',
    providers: ['soundcloud'],
  },
  redirectUri: {
    syntax: '--redirect-uri <uri>',
    help: 'SoundCloud: loopback redirect URI registered with your app',
    value: 'text',
    providers: ['soundcloud'],
  },
  scope: {
    syntax: '--scope <scope>',
    help: 'SoundCloud: scope to request (none is sent unless given)',
    value: 'text',
    providers: ['soundcloud'],
  },
  browser: {
    syntax: '--no-browser',
    help: 'SoundCloud: print the URL instead of opening a browser; accept the redirected URL on stdin',
    value: 'negated',
    providers: ['soundcloud'],
  },
  timeoutSeconds: {
    syntax: '--timeout <seconds>',
    help: 'SoundCloud: how long to wait for the browser (default 300)',
    value: 'seconds',
    providers: ['soundcloud'],
  },
};

export const LOGIN_FLAG_KEYS = Object.keys(LOGIN_FLAGS) as Array<keyof LoginFlags>;

/** The flag as typed: "--client-id". */
export function loginFlagName(key: keyof LoginFlags): string {
  return LOGIN_FLAGS[key].syntax.split(' ')[0]!;
}
