// The Commander program: each command parses its flags into an options object and hands the
// matching run function to `onAction`; running it is main's business. No I/O happens here.
import { Command, Option } from 'commander';
import { parseFormat, FORMATS } from '../core/format.js';
import { UsageError } from '../core/errors.js';
import { PROVIDER_IDS } from '../providers/registry.js';
import { parseProfile, parseProvider, parseWholeNumber } from './parse.js';
import type { Deps } from '../core/deps.js';
import type { LoginFlags } from '../providers/types.js';

export type Invocation = (deps: Deps) => Promise<number>;

export interface ProgramIO {
  writeOut: (text: string) => void;
  writeErr: (text: string) => void;
  env: Deps['env'];
}

export interface ParsedCommand {
  invocation: Invocation;
  verbose: boolean;
}

const providerList = PROVIDER_IDS.join('|');

export function buildProgram(io: ProgramIO, onAction: (parsed: ParsedCommand) => void, version: string): Command {
  const program = new Command('tokens')
    .description('Fresh access tokens for the SoundCloud, Chartmetric and Soundcharts APIs, with secrets kept in the OS keychain.')
    .version(version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeOut: io.writeOut, writeErr: io.writeErr, outputError: (text, write) => write(text) });

  const common = (command: Command) =>
    command
      .addOption(new Option('--profile <name>', 'profile to use (separate credentials per profile)').env('TOKENS_PROFILE').default('default'))
      .option('-v, --verbose', 'explain what happens on stderr (never secrets)')
      .helpOption('-h, --help', 'show help')
      .exitOverride()
      .configureOutput({ writeOut: io.writeOut, writeErr: io.writeErr, outputError: (text, write) => write(text) });
  const verbose = (command: Command) => Boolean(command.opts().verbose) || Boolean(io.env.TOKENS_DEBUG);
  const given = (command: Command, name: string) => command.getOptionValueSource(name) === 'cli';

  common(program.command('login'))
    .summary('store credentials for a provider (browser login for SoundCloud)')
    .description('Store the credentials of a provider in the secret store and verify them.')
    .argument('<provider>', providerList)
    .option('--client-id <id>', 'OAuth client id (SoundCloud, Soundcharts)')
    .option('--team-id <team>', 'Soundcharts team name or id')
    .option('--legacy', 'Soundcharts: store the deprecated x-app-id / x-api-key pair')
    .option('--app-id <id>', 'Soundcharts legacy app id (with --legacy)')
    .option('--client-credentials', 'SoundCloud: app-only credentials, no user login')
    .option('--redirect-uri <uri>', 'SoundCloud: loopback redirect URI registered with your app')
    .option('--scope <scope>', 'SoundCloud: scope to request (none is sent unless given)')
    .option('--no-browser', 'SoundCloud: print the URL instead of opening a browser; accept the redirected URL on stdin')
    .option('--timeout <seconds>', 'SoundCloud: how long to wait for the browser (default 300)')
    .action((name: string, _opts, command: Command) => {
      const provider = parseProvider(name);
      const profile = parseProfile(command.opts().profile);
      const o = command.opts();
      const flags: LoginFlags = {};
      if (given(command, 'clientId')) flags.clientId = o.clientId;
      if (given(command, 'teamId')) flags.teamId = o.teamId;
      if (given(command, 'appId')) flags.appId = o.appId;
      if (given(command, 'legacy')) flags.legacy = true;
      if (given(command, 'clientCredentials')) flags.clientCredentials = true;
      if (given(command, 'redirectUri')) flags.redirectUri = o.redirectUri;
      if (given(command, 'scope')) flags.scope = o.scope;
      if (given(command, 'browser')) flags.browser = false;
      if (given(command, 'timeout')) flags.timeoutSeconds = parseWholeNumber(o.timeout, '--timeout', { min: 1 });
      onAction({
        verbose: verbose(command),
        invocation: async (deps) => (await import('../commands/login.js')).runLogin({ provider, profile, flags }, deps),
      });
    });

  common(program.command('get'))
    .summary('print a valid access token')
    .description('Print a valid access token, from the cache while it has --min-ttl seconds left, else minted or refreshed.')
    .argument('<provider>', providerList)
    .addOption(new Option('--format <format>', 'output format').choices(FORMATS).default('token'))
    .option('--min-ttl <seconds>', 'minimum seconds of validity a cached token must have', '60')
    .option('--force-refresh', 'ignore the cache and mint or refresh now')
    .action((name: string, _opts, command: Command) => {
      const provider = parseProvider(name);
      const o = command.opts();
      const options = {
        provider,
        profile: parseProfile(o.profile),
        format: parseFormat(o.format),
        minTtlSeconds: parseWholeNumber(o.minTtl, '--min-ttl'),
        forceRefresh: Boolean(o.forceRefresh),
      };
      onAction({ verbose: verbose(command), invocation: async (deps) => (await import('../commands/get.js')).runGet(options, deps) });
    });

  common(program.command('exec'))
    .summary('run a command with fresh tokens in its environment')
    .description('Run a command (no shell) with P_ACCESS_TOKEN and P_AUTHORIZATION set for each provider.')
    .argument('<command...>', 'the command and its arguments, after --')
    .option('--provider <provider>', 'provider to include (repeatable; default: all configured)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .passThroughOptions()
    .action((command: string[], _opts, cmd: Command) => {
      const o = cmd.opts();
      const providers = (o.provider as string[]).map(parseProvider);
      const options = { providers, profile: parseProfile(o.profile), command };
      onAction({ verbose: verbose(cmd), invocation: async (deps) => (await import('../commands/exec.js')).runExec(options, deps) });
    });

  common(program.command('status'))
    .summary('show what is configured and when tokens expire')
    .description('Show what is configured, in which store and mode, and when cached tokens expire. Never prints a secret.')
    .argument('[provider]', providerList)
    .option('--json', 'machine-readable output')
    .action((name: string | undefined, _opts, command: Command) => {
      const o = command.opts();
      const options = { profile: parseProfile(o.profile), json: Boolean(o.json), ...(name ? { provider: parseProvider(name) } : {}) };
      onAction({ verbose: verbose(command), invocation: async (deps) => (await import('../commands/status.js')).runStatus(options, deps) });
    });

  common(program.command('logout'))
    .summary("remove a provider's credentials (SoundCloud: sign out first)")
    .description('Remove the secrets, cached token and settings of a provider for the profile.')
    .argument('<provider>', providerList)
    .action((name: string, _opts, command: Command) => {
      const options = { provider: parseProvider(name), profile: parseProfile(command.opts().profile) };
      onAction({ verbose: verbose(command), invocation: async (deps) => (await import('../commands/logout.js')).runLogout(options, deps) });
    });

  common(program.command('completion'))
    .summary('print a shell completion script')
    .description('Print the completion script for bash, zsh or fish.')
    .argument('<shell>', 'bash|zsh|fish')
    .action((shell: string, _opts, command: Command) => {
      if (!['bash', 'zsh', 'fish'].includes(shell)) throw new UsageError(`unknown shell "${shell}"; use bash, zsh or fish`);
      onAction({
        verbose: verbose(command),
        invocation: async (deps) => (await import('../commands/completion.js')).runCompletion({ shell: shell as 'bash' | 'zsh' | 'fish' }, deps),
      });
    });

  return program;
}
