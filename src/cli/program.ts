// The Commander program: each command parses its flags into an options object and hands the
// matching run function to `onAction`; running it is main's business. No I/O happens here.
import { Argument, Command, Option } from 'commander';
import { parseFormat, FORMATS } from '../core/format.js';
import { DEFAULT_MIN_TTL_SECONDS } from '../core/cache.js';
import { UsageError } from '../core/errors.js';
import { LOGIN_FLAG_KEYS, LOGIN_FLAGS, loginFlagName } from '../core/login-flags.js';
import { TOKENS_DEBUG, TOKENS_PASSPHRASE, TOKENS_PROFILE, TOKENS_REDIS_URL, TOKENS_STORE } from '../core/env.js';
import { PROVIDERS } from '../providers/registry.js';
import { parseProfile, parseProvider as parseProviderName, parseSeconds, parseWholeNumber } from './parse.js';
import { HELP_COMMAND, HELP_FLAGS } from './help-words.js';
import { completes, onlyWith } from './completion-hints.js';
import { parseField, parseFormPart, parseHeader, type FieldSpec } from '../core/request-fields.js';
import type { Deps } from '../core/deps.js';
import type { LoginFlags, ProviderDescriptor } from '../core/model.js';

export type Invocation = (deps: Deps) => Promise<number>;

export interface ProgramIO {
  writeOut: (text: string) => void;
  writeErr: (text: string) => void;
  env: Deps['env'];
  /** The registry; a test may pass a longer one. */
  providers?: readonly ProviderDescriptor[];
}

export interface ParsedCommand {
  invocation: Invocation;
  verbose: boolean;
  /** True for the hidden completion helper, which must stay silent whatever the environment holds. */
  lenient?: boolean;
}

export const SHELLS = ['bash', 'zsh', 'fish'] as const;

/** The login flags given on the command line, by the table in core/login-flags.ts. */
function loginFlags(command: Command): LoginFlags {
  const flags: Record<string, string | number | boolean> = {};
  for (const key of LOGIN_FLAG_KEYS) {
    const spec = LOGIN_FLAGS[key];
    const option = command.options.find((o) => o.flags === spec.syntax)!;
    const name = option.attributeName();
    if (command.getOptionValueSource(name) !== 'cli') continue;
    const value: unknown = command.opts()[name];
    if (spec.value === 'present') flags[key] = true;
    else if (spec.value === 'negated') flags[key] = false;
    else if (spec.value === 'seconds') flags[key] = parseSeconds(String(value), loginFlagName(key), { min: 1 });
    else flags[key] = String(value);
  }
  return flags as LoginFlags;
}

/** The hidden command the completion scripts call for dynamic values; never shown in help. */
export const COMPLETE_COMMAND = '__complete';

/** "a, b and c". */
const listInWords = (items: readonly string[]) =>
  items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;

/**
 * Commander's own errors (unknown option or command, missing argument, bad choice) in the CLI's
 * one-line style: `tokens: unknown option '--bogus'. See 'tokens get --help'.` Still exit 2 (main).
 */
export function commanderErrorLine(text: string, commandPath: string): string {
  const [first = '', ...rest] = text.trim().split('\n');
  const message = first.replace(/^error: /, '').replace(/[.\s]+$/, '');
  const suggestion = rest
    .join(' ')
    .trim()
    .replace(/^\((.*)\)$/, '$1');
  return `tokens: ${message}${suggestion ? ` (${suggestion.replace(/^Did/, 'did')})` : ''}. See '${commandPath} --help'.\n`;
}

const examples = (lines: string[], notes = '') =>
  `\nExamples:\n${lines.map((line) => `  ${line}`).join('\n')}\n${notes ? `\n${notes.replace(/^\n+|\n+$/g, '')}\n` : ''}`;

/** --profile, on the program (before the command) and on every command (after it). */
const profileOption = () =>
  completes(
    new Option('--profile <name>', 'profile to use (separate credentials per profile)')
      .env(TOKENS_PROFILE.name)
      .default('default'),
    {
      kind: 'profiles',
    },
  );

export function buildProgram(io: ProgramIO, onAction: (parsed: ParsedCommand) => void, version: string): Command {
  const providers = io.providers ?? PROVIDERS;
  const providerIds = providers.map((p) => p.id);
  const providerArgument = (name: string) =>
    completes(new Argument(name, providerIds.join('|')), { kind: 'values', values: providerIds });
  const parseProvider = (name: string) => parseProviderName(name, providers);
  const program = new Command('tokens')
    .description(
      `Fresh access tokens for the ${listInWords(providers.map((p) => p.title))} APIs, with secrets kept in the OS keychain.`,
    )
    .version(version, '-V, --version', 'print the version')
    .helpOption(HELP_FLAGS.join(', '), 'show help')
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: io.writeOut,
      writeErr: io.writeErr,
      outputError: (text, write) => write(commanderErrorLine(text, 'tokens')),
    })
    .addOption(profileOption())
    .addHelpText(
      'after',
      examples(
        [
          'tokens login chartmetric                    # store a refresh token (prompted, or piped on stdin)',
          'tokens get chartmetric --format header      # Authorization: Bearer …',
          'tokens exec --provider soundcloud -- ./fetch.sh',
          'tokens api soundcloud /me                   # an authenticated request, refreshed on 401',
          'tokens status chartmetric >/dev/null || tokens login chartmetric',
          'tokens <command> --help                     # examples for each command',
        ],
        `
Environment (every variable: see the README):
${[TOKENS_PROFILE, TOKENS_STORE, TOKENS_PASSPHRASE, TOKENS_REDIS_URL].map((v) => `  ${v.name.padEnd(18)} ${v.doc}`).join('\n')}

Exit codes:
  0 success                      5 provider or network unavailable, or rate limited
  1 internal error (a bug)       6 secret store unavailable (keychain, passphrase)
  2 usage error or bad config    7 login not completed (denied, timed out)
  3 not configured/logged in     8 api: the API answered with an error status
  4 credentials rejected: log in again
  exec exits with its command's code (128 + N when killed by signal N).`,
      ),
    );

  const common = (command: Command) =>
    command
      .addOption(profileOption())
      .option('-v, --verbose', 'explain what happens on stderr (never secrets)')
      .helpOption(HELP_FLAGS.join(', '), 'show help')
      .exitOverride()
      .configureOutput({
        writeOut: io.writeOut,
        writeErr: io.writeErr,
        outputError: (text, write) => write(commanderErrorLine(text, `tokens ${command.name()}`)),
      });
  /**
   * --profile after the command, else before it (`tokens --profile staging get …`), else
   * TOKENS_PROFILE, else the default: the command's own option carries the last two.
   */
  const profileOf = (command: Command): string =>
    parseProfile(
      command.getOptionValueSource('profile') !== 'cli' && program.getOptionValueSource('profile') === 'cli'
        ? program.opts().profile
        : command.opts().profile,
    );
  const verbose = (command: Command) => Boolean(command.opts().verbose) || Boolean(io.env[TOKENS_DEBUG.name]);

  program.commandsGroup('Credentials:');
  const login = common(program.command('login'))
    .summary('store credentials for a provider (browser login for SoundCloud)')
    .description('Store the credentials of a provider in the secret store and verify them.')
    .addArgument(providerArgument('<provider>'));
  for (const key of LOGIN_FLAG_KEYS)
    login.addOption(onlyWith(new Option(LOGIN_FLAGS[key].syntax, LOGIN_FLAGS[key].help), LOGIN_FLAGS[key].providers));
  login
    .addHelpText(
      'after',
      examples(
        [
          'tokens login soundcloud --client-id ID                  # browser login (Authorization Code + PKCE)',
          'tokens login soundcloud --client-id ID --no-browser     # print the URL; paste the redirected URL on stdin',
          'tokens login soundcloud --client-credentials --client-id ID   # app-only, no user',
          'echo "$REFRESH" | tokens login chartmetric              # secret from stdin, no prompt',
          'tokens login soundcharts --client-id ID --team-id TEAM',
          'tokens login chartmetric --profile staging              # separate credentials per profile',
        ],
        `
Secrets are never flags. Each is read from its environment variable when set
(${providers.flatMap((p) => p.secrets.map((secret) => secret.env)).join(', ')}),
else from a hidden prompt on a terminal, else from the first line of stdin.`,
      ),
    )
    .action((name: string, _opts, command: Command) => {
      const provider = parseProvider(name);
      const profile = profileOf(command);
      const flags = loginFlags(command);
      onAction({
        verbose: verbose(command),
        invocation: async (deps) => (await import('../commands/login.js')).runLogin({ provider, profile, flags }, deps),
      });
    });

  program.commandsGroup('Tokens:');
  common(program.command('get'))
    .summary('print a valid access token')
    .description(
      'Print a valid access token, from the cache while it has --min-ttl seconds left, else minted or refreshed.',
    )
    .addArgument(providerArgument('<provider>'))
    .addOption(new Option('--format <format>', 'output format').choices(FORMATS).default('token'))
    .addOption(minTtlOption('minimum seconds of validity a cached token must have'))
    .option('--force-refresh', 'ignore the cache and mint or refresh now')
    .addHelpText(
      'after',
      examples([
        'tokens get chartmetric --format header',
        'curl -H @<(tokens get soundcloud --format header) https://api.soundcloud.com/me',
        'curl -H "Authorization: Bearer $(tokens get chartmetric)" https://api.chartmetric.com/api/…',
        'eval "$(tokens get soundcharts --format env)"           # export SOUNDCHARTS_ACCESS_TOKEN=…',
        'tokens get soundcloud --format json | jq -r .expires_at',
        'tokens get chartmetric --min-ttl 600 --profile staging  # valid for 10 more minutes at least',
      ]),
    )
    .action((name: string, _opts, command: Command) => {
      const provider = parseProvider(name);
      const o = command.opts();
      const options = {
        provider,
        profile: profileOf(command),
        format: parseFormat(o.format),
        minTtlSeconds: parseWholeNumber(o.minTtl, '--min-ttl'),
        minTtlGiven: command.getOptionValueSource('minTtl') !== 'default',
        forceRefresh: Boolean(o.forceRefresh),
      };
      onAction({
        verbose: verbose(command),
        invocation: async (deps) => (await import('../commands/get.js')).runGet(options, deps),
      });
    });

  common(program.command('exec'))
    .summary('run a command with fresh tokens in its environment')
    .description('Run a command (no shell) with P_ACCESS_TOKEN and P_AUTHORIZATION set for each provider.')
    .addArgument(
      completes(new Argument('<command...>', 'the command and its arguments, after --'), { kind: 'command-line' }),
    )
    .addOption(
      completes(
        new Option('--provider <provider>', 'provider to include (repeatable)')
          .argParser((v: string, acc: string[]) => [...acc, v])
          .default([] as string[], 'all configured'),
        { kind: 'values', values: providerIds },
      ),
    )
    .addOption(minTtlOption('minimum seconds of validity each token must have'))
    .option('--serve', 'give the command P_API_URL and TOKENS_SERVE_URL of a server that adds the credentials')
    .option('--mask', "replace the tokens in the command's piped stdout/stderr with *** (default: on under CI)")
    .option('--no-mask', 'pass the output through untouched, even under CI')
    .passThroughOptions()
    .addHelpText(
      'after',
      examples(
        [
          `tokens exec --provider soundcloud -- sh -c 'curl -H "Authorization: $SOUNDCLOUD_AUTHORIZATION" https://api.soundcloud.com/me'`,
          'tokens exec --min-ttl 1800 -- ./nightly-report.sh    # every token valid for 30 more minutes at least',
          'tokens exec --provider chartmetric --provider soundcharts -- python3 report.py',
          'tokens exec --profile staging -- npm test        # every provider configured in "staging"',
          'tokens exec --serve -- jupyter lab               # notebooks call $CHARTMETRIC_API_URL/api/… for hours',
          'tokens exec --mask -- bash -x ./job.sh 2>&1 | tee job.log   # the tokens show as *** in job.log',
        ],
        `
For each provider P (${providers.map((p) => p.envPrefix).join(', ')}) the command gets P_ACCESS_TOKEN
and P_AUTHORIZATION (the whole header value, e.g. "OAuth TOKEN"); Soundcharts legacy mode
sets SOUNDCHARTS_APP_ID and SOUNDCHARTS_API_KEY instead. TOKENS_PROFILE is set too.
No shell is run: use sh -c for variables. tokens becomes the command (same PID, signals
straight to it) and so exits with its exit code.
With --mask (default when CI is set; TOKENS_MASK=1|0), tokens stays the parent and relays the
command's stdout and stderr that are not terminals with every token it handed over (also split
or percent-encoded) replaced by ***; a terminal is left alone. It guards against accidents
(set -x, curl -v, a dumped env), not a command that encodes a token on purpose.
The tokens are set once, when the command
starts: a job that runs longer than a token lives (about an hour) should ask \`tokens get\` for
a token each time it needs one instead, or run under --serve: then the command gets, per provider,
P_API_URL (a URL on a local server, \`tokens serve\`, that adds fresh credentials to each request)
and TOKENS_SERVE_URL, and no token; the server stops when the command ends. Without --provider, a
configured provider that cannot give a token is left out with a one-line warning (its variables
unset) and the command still runs; a provider named with --provider that fails stops it (exit with
that code).`,
      ),
    )
    .action((command: string[], _opts, cmd: Command) => {
      const o = cmd.opts();
      const providers = (o.provider as string[]).map(parseProvider);
      const options = {
        providers,
        profile: profileOf(cmd),
        command,
        minTtl: {
          seconds: parseWholeNumber(o.minTtl, '--min-ttl'),
          given: cmd.getOptionValueSource('minTtl') !== 'default',
        },
        serve: Boolean(o.serve),
        ...(typeof o.mask === 'boolean' ? { mask: o.mask } : {}),
      };
      onAction({
        verbose: verbose(cmd),
        invocation: async (deps) => (await import('../commands/exec.js')).runExec(options, deps),
      });
    });

  const repeatable = (flags: string, description: string) =>
    new Option(flags, description).argParser((value: string, previous: string[] | undefined) => [
      ...(previous ?? []),
      value,
    ]);
  const apiBases = providers
    .map((p) => `  ${p.id.padEnd(12)}${p.endpoints.api.default.padEnd(40)}${p.endpoints.api.env}`)
    .join('\n');
  // -f and -F together, in the order given: it decides nesting and the order of array items.
  const fields: FieldSpec[] = [];
  const field = (flags: string, description: string, typed: boolean) =>
    new Option(flags, description).argParser((value: string) => {
      fields.push(parseField(value, typed));
      return fields.length;
    });
  common(program.command('api'))
    .summary('make an authenticated request to a provider API')
    .description(
      'Send one request (with --paginate, one per page) to the API of PROVIDER with a fresh access token, and write the response body to stdout byte for byte.',
    )
    .addArgument(providerArgument('<provider>'))
    .addArgument(
      new Argument('<path>', 'a PATH starting with / (appended to the API base), or a full URL under the base'),
    )
    .addOption(
      completes(new Option('-X, --method <method>', 'HTTP method (default GET, or POST with --input/--form)'), {
        kind: 'values',
        values: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      }),
    )
    .addOption(repeatable('-H, --header <header>', "extra request header 'Name: value' (repeatable)"))
    .addOption(
      field(
        '-f, --raw-field <key=value>',
        'a string field: query parameter for GET/HEAD/DELETE, else JSON body (repeatable)',
        false,
      ),
    )
    .addOption(
      field(
        '-F, --field <key=value>',
        'a typed field: true, false, null, integers; @PATH reads a file, @- stdin (repeatable)',
        true,
      ),
    )
    .addOption(repeatable('--form <key=value>', 'a multipart/form-data part; key=@PATH streams a file (repeatable)'))
    .option('--input <path>', 'the request body from a file, or - for stdin')
    .option('--paginate', 'follow next-page links and print one JSON array of all items')
    .option('--max-pages <n>', 'with --paginate: the most pages read; more is exit 5', '1000')
    .option('-i, --include', 'print the status line and response headers before the body')
    .option('--silent', 'do not print the response body')
    .option('--max-wait <seconds>', 'longest wait for a rate limit before giving up (exit 5)', '30')
    .addHelpText(
      'after',
      examples(
        [
          'tokens api soundcloud /me',
          "tokens api soundcloud /me/tracks --paginate | jq -r '.[].title'",
          "tokens api soundcloud /tracks -f q=ambient -f 'bpm[from]=120' -F limit=50",
          "tokens api soundcloud /tracks --form 'track[title]=Demo' --form 'track[asset_data]=@demo.wav'",
          'tokens api soundcloud /tracks/123 -X PUT -f \'track[title]=New title\'   # JSON {"track":{"title":…}}',
          'tokens api chartmetric /api/artist/206557 --max-wait 120    # ride out the plan rate limit',
          'tokens api soundcharts /api/v2/artist/UUID/songs --paginate',
          'jq -n \'{playlist:{title:"Mix"}}\' | tokens api soundcloud /playlists --input -',
          'tokens api soundcloud /me -i --silent                      # status line and headers only',
        ],
        `
API bases (override with the variable; http:// only for loopback hosts):
${apiBases}

-f/-F keys nest: -f 'track[title]=New' gives {"track":{"title":"New"}}; 'ids[]=1' appends.
A 401 refreshes the token once and repeats the request; a 429 is waited out up to
--max-wait; GET, HEAD, PUT, DELETE and OPTIONS are retried after network errors and 5xx,
POST and PATCH are sent once. Redirects are followed for GET and HEAD; the credentials never
leave the API base, nor -H headers its origin. An error status prints the body, one line on
stderr, exit 8.`,
      ),
    )
    .action((name: string, target: string, _opts, command: Command) => {
      const o = command.opts();
      const options = {
        provider: parseProvider(name),
        profile: profileOf(command),
        target,
        ...(o.method === undefined ? {} : { method: String(o.method).toUpperCase() }),
        headers: ((o.header as string[] | undefined) ?? []).map(parseHeader),
        fields: [...fields],
        form: ((o.form as string[] | undefined) ?? []).map(parseFormPart),
        ...(o.input === undefined ? {} : { input: String(o.input) }),
        paginate: Boolean(o.paginate),
        maxPages: parseWholeNumber(o.maxPages, '--max-pages', { min: 1 }),
        include: Boolean(o.include),
        silent: Boolean(o.silent),
        maxWaitSeconds: parseSeconds(o.maxWait, '--max-wait'),
      };
      onAction({
        verbose: verbose(command),
        invocation: async (deps) => (await import('../commands/api.js')).runApi(options, deps),
      });
    });

  common(program.command('serve'))
    .summary('serve the provider APIs on loopback with fresh credentials added')
    .description(
      'Run a local server through which any program calls the provider APIs without holding a token: each request gets fresh credentials (refreshed on 401, 429 waited out) and its answer comes back byte for byte.',
    )
    .addOption(
      completes(
        new Option('--provider <provider>', 'provider to serve (repeatable)')
          .argParser((v: string, acc: string[]) => [...acc, v])
          .default([] as string[], 'all configured'),
        { kind: 'values', values: providerIds },
      ),
    )
    .option('--listen <host:port>', 'loopback address and port (default 127.0.0.1:0, a free port)')
    .option('--socket <path>', 'a unix socket (mode 0600, in a directory of yours) instead of a port')
    .option('--background', 'detach once ready; print TOKENS_SERVE_PID too')
    .option('--max-wait <seconds>', 'longest wait for a rate limit before passing the 429 back', '30')
    .addOption(new Option('--serve-role <role>').choices(['exec', 'background']).hideHelp())
    .addHelpText(
      'after',
      examples(
        [
          'eval "$(tokens serve --background)"          # like ssh-agent: exports the URLs and TOKENS_SERVE_PID',
          'curl "$CHARTMETRIC_API_URL/api/artist/206557"',
          'curl "$TOKENS_SERVE_URL/token/soundcloud?min_ttl=600"   # the token itself, for an SDK',
          'tokens serve --provider soundcloud --listen 127.0.0.1:8787',
          'tokens serve --socket "$XDG_RUNTIME_DIR/tokens.sock"',
          'curl --unix-socket "$TOKENS_SERVE_SOCKET" "$SOUNDCLOUD_API_URL/me"',
          'tokens exec --serve -- python3 etl.py         # the server lives as long as the command',
        ],
        `
When ready it prints, for each provider P, export P_API_URL='http://127.0.0.1:PORT/KEY/p'
and export TOKENS_SERVE_URL='http://127.0.0.1:PORT/KEY': the KEY (new at each start, or
TOKENS_SERVE_KEY) is the only thing between the port and your APIs, so keep the URLs private.
Requests: ANY $P_API_URL/PATH goes to the API base + /PATH with the credentials; links back into
the API (Location, next_href, page.next) come back pointing at the server. GET
$TOKENS_SERVE_URL/token/P[?min_ttl=S] gives the token as JSON; GET $TOKENS_SERVE_URL/health
says what is at hand. SIGINT or SIGTERM stops it (requests in flight get up to 10 s).`,
      ),
    )
    .action((_opts, command: Command) => {
      const o = command.opts();
      const options = {
        providers: (o.provider as string[]).map(parseProvider),
        profile: profileOf(command),
        ...(o.listen === undefined ? {} : { listen: String(o.listen) }),
        ...(o.socket === undefined ? {} : { socket: String(o.socket) }),
        background: Boolean(o.background),
        maxWaitSeconds: parseSeconds(o.maxWait, '--max-wait'),
        verbose: verbose(command),
        ...(o.serveRole === undefined ? {} : { role: o.serveRole as 'exec' | 'background' }),
      };
      onAction({
        verbose: verbose(command),
        invocation: async (deps) => (await import('../commands/serve.js')).runServe(options, deps),
      });
    });

  program.commandsGroup('Credentials:');
  common(program.command('status'))
    .summary('show what is configured and when tokens expire')
    .description(
      'Show what is configured, in which store and mode, and when cached tokens expire. Never prints a secret.',
    )
    .addArgument(providerArgument('[provider]'))
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      examples(
        [
          'tokens status',
          'tokens status --json --profile staging',
          'tokens status chartmetric >/dev/null || tokens login chartmetric',
        ],
        'With PROVIDER, exits 3 when that provider is not configured and 4 when it refused the stored login (log in again); without, exits 0.',
      ),
    )
    .action((name: string | undefined, _opts, command: Command) => {
      const o = command.opts();
      const options = {
        profile: profileOf(command),
        json: Boolean(o.json),
        ...(name ? { provider: parseProvider(name) } : {}),
      };
      onAction({
        verbose: verbose(command),
        invocation: async (deps) => (await import('../commands/status.js')).runStatus(options, deps),
      });
    });

  common(program.command('logout'))
    .summary("remove a provider's credentials (SoundCloud: sign out first)")
    .description('Remove the secrets, cached token and settings of a provider for the profile.')
    .addArgument(providerArgument('<provider>'))
    .addHelpText(
      'after',
      examples([
        'tokens logout soundcloud                     # signs out at SoundCloud first, then removes locally',
        'tokens logout chartmetric --profile staging',
      ]),
    )
    .action((name: string, _opts, command: Command) => {
      const options = { provider: parseProvider(name), profile: profileOf(command) };
      onAction({
        verbose: verbose(command),
        invocation: async (deps) => (await import('../commands/logout.js')).runLogout(options, deps),
      });
    });

  program.commandsGroup('Shell:');
  common(program.command('completion'))
    .summary('print a shell completion script')
    .description('Print the completion script for bash, zsh or fish (the same files ship in completions/).')
    .addArgument(completes(new Argument('<shell>', SHELLS.join('|')), { kind: 'values', values: SHELLS }))
    .addHelpText(
      'after',
      examples([
        'tokens completion bash > ~/.local/share/bash-completion/completions/tokens',
        'tokens completion zsh > ~/.zfunc/_tokens     # with fpath=(~/.zfunc $fpath) before compinit in ~/.zshrc',
        'tokens completion fish > ~/.config/fish/completions/tokens.fish',
        'source <(tokens completion bash)             # this shell only',
      ]),
    )
    .action((shell: string, _opts, command: Command) => {
      if (!(SHELLS as readonly string[]).includes(shell))
        throw new UsageError(`unknown shell "${shell}"; use bash, zsh or fish`);
      onAction({
        verbose: verbose(command),
        invocation: async (deps) =>
          (await import('./completion.js')).runCompletion({ shell: shell as (typeof SHELLS)[number], program }, deps),
      });
    });

  // `help [command]`, made here so that it sits in the Shell group and completes command names.
  program.addHelpCommand(
    new Command(HELP_COMMAND)
      .addArgument(completes(new Argument('[command]', 'the command to explain'), { kind: 'commands' }))
      .description('show help for a command')
      .helpOption(false),
  );

  // Hidden: values for the completion scripts (`tokens __complete profiles`). Fast, store-free, and
  // silent: whatever goes wrong, it prints nothing and exits 0.
  program
    .command(COMPLETE_COMMAND, { hidden: true })
    .argument('[what]')
    .allowUnknownOption()
    .allowExcessArguments()
    .helpOption(false)
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined, outputError: () => undefined })
    .action((what: string | undefined) => {
      onAction({
        verbose: false,
        lenient: true,
        invocation: async (deps) => (await import('./completion.js')).runComplete({ what: what ?? '' }, deps),
      });
    });

  return program;
}

/**
 * Every argument list that prints help on stdout: `--help`, `-h` and `help` for the program, and
 * `CMD --help`, `CMD -h` and `help CMD` for each visible command. The build records the full
 * program's answer to each for the fast path (scripts/build.mjs, src/fast-help.ts). Not `help help`
 * or `help --help`: Commander prints those as a usage error, on stderr.
 */
export function helpForms(program: Command): string[][] {
  // visibleCommands lists the help command too: it is the one not among program.commands.
  const commands = program
    .createHelp()
    .visibleCommands(program)
    .filter((command) => program.commands.includes(command))
    .flatMap((command) => [command.name(), ...command.aliases()]);
  return [
    ...HELP_FLAGS.map((flag) => [flag]),
    [HELP_COMMAND],
    ...commands.flatMap((name) => [...HELP_FLAGS.map((flag) => [name, flag]), [HELP_COMMAND, name]]),
  ];
}

/** --min-ttl, its default shown as it works: 60, or half a shorter-lived token's lifetime (cache.ts). */
function minTtlOption(description: string): Option {
  return new Option('--min-ttl <seconds>', description).default(
    String(DEFAULT_MIN_TTL_SECONDS),
    `${DEFAULT_MIN_TTL_SECONDS}, or half the lifetime when shorter`,
  );
}
