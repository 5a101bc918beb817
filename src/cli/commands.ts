// Every command of tokens, as data (spec.ts): the one place a command's arguments, options,
// defaults, help and completion are declared. The program (program.ts) and the fast path
// (scan.ts, src/fast.ts) are both built from this list; a run function loads only when it runs.
import { DEFAULT_MIN_TTL_SECONDS } from '../files/cache.js';
import { DEFAULT_MAX_WAIT_SECONDS } from '../model/env.js';
import { UsageError } from '../base/errors.js';
import { FORMATS, parseFormat } from '../model/format.js';
import { LOGIN_FLAG_KEYS, LOGIN_FLAGS, loginFlagName } from '../model/login-flags.js';
import { HTTP_METHODS, parseField, parseFormPart, parseHeader } from '../http/request-fields.js';
import { COMPLETE_COMMAND } from './help-words.js';
import { parseProvider, parseSeconds, parseWholeNumber } from './parse.js';
import {
  optionKey,
  type AnyCommandSpec,
  type ArgumentSpec,
  type CommandSpec,
  type OptionSpec,
  type Parsed,
} from './spec.js';
import type { ApiOptions } from '../commands/api.js';
import type { ExecOptions } from '../commands/exec.js';
import type { GetOptions } from '../commands/get.js';
import type { LoginOptions } from '../commands/login.js';
import type { LogoutOptions } from '../commands/logout.js';
import type { ServeOptions } from '../commands/serve.js';
import type { StatusOptions } from '../commands/status-report.js';
import type { CompleteOptions, CompletionOptions } from './completion.js';
import type { LoginFlags, ProviderDescriptor } from '../model/model.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;

/** The help group of the shell's commands: `completion`, and Commander's `help`. */
export const SHELL_GROUP = 'Shell:';

export { COMPLETE_COMMAND };

/** A spec without its name (its key in COMMANDS). */
type Unnamed = Omit<AnyCommandSpec, 'name'>;

/** A spec, its options type checked against its run function's, in the list of any. */
const command = <Options>(spec: Omit<CommandSpec<Options>, 'name'>): Unnamed => spec;

/** "a, b and c". */
export const listInWords = (items: readonly string[]) =>
  items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;

/** --min-ttl, its default shown as it works: 60, or half a shorter-lived token's lifetime (cache.ts). */
const minTtlOption = (help: string): OptionSpec => ({
  flags: '--min-ttl <seconds>',
  help,
  default: {
    value: String(DEFAULT_MIN_TTL_SECONDS),
    shown: `${DEFAULT_MIN_TTL_SECONDS}, or half the lifetime when shorter`,
  },
});

const minTtlOf = (parsed: Parsed) => ({
  seconds: parseWholeNumber(parsed.text('minTtl')!, '--min-ttl'),
  given: parsed.given('minTtl'),
});

/** --max-wait of `api` and `serve`: how long a rate limit is waited out. */
const maxWaitOption = (help: string): OptionSpec => ({
  flags: '--max-wait <seconds>',
  help,
  default: { value: String(DEFAULT_MAX_WAIT_SECONDS) },
});

const maxWaitOf = (parsed: Parsed) => parseSeconds(parsed.text('maxWait')!, '--max-wait');

/** The login flags given on the command line, by the table in model/login-flags.ts. */
function loginFlags(parsed: Parsed): LoginFlags {
  const flags: Record<string, string | number | boolean> = {};
  for (const key of LOGIN_FLAG_KEYS) {
    const spec = LOGIN_FLAGS[key];
    const option = optionKey(spec.syntax);
    if (!parsed.given(option)) continue;
    if (spec.value === 'present') flags[key] = true;
    else if (spec.value === 'negated') flags[key] = false;
    else if (spec.value === 'seconds') flags[key] = parseSeconds(parsed.text(option)!, loginFlagName(key), { min: 1 });
    else flags[key] = parsed.text(option)!;
  }
  return flags as LoginFlags;
}

/** The one argument at `index`, as given. */
const arg = (parsed: Parsed, index: number) => parsed.args[index] as string;

/** What each command's spec is made with: the registry, and the pieces the specs share. */
interface Kit {
  providers: readonly ProviderDescriptor[];
  providerIds: string[];
  /** The provider named by the argument at `index`. */
  provider: (parsed: Parsed, index?: number) => ProviderDescriptor;
  providerArgument: (name: string) => ArgumentSpec;
  providersOption: (help: string) => OptionSpec;
  /** The providers named with providersOption's --provider, in order. */
  providersGiven: (parsed: Parsed) => ProviderDescriptor[];
}

function kitFor(providers: readonly ProviderDescriptor[]): Kit {
  const providerIds = providers.map((p) => p.id);
  return {
    providers,
    providerIds,
    provider: (parsed, index = 0) => parseProvider(arg(parsed, index), providers),
    providerArgument: (name) => ({
      name,
      help: providerIds.join('|'),
      completes: { kind: 'values', values: providerIds },
    }),
    providersOption: (help) => ({
      flags: '--provider <provider>',
      help,
      repeatable: true,
      default: { value: [], shown: 'all configured' },
      completes: { kind: 'values', values: providerIds },
    }),
    providersGiven: (parsed) => parsed.list('provider').map((name) => parseProvider(name, providers)),
  };
}

/**
 * Every command, by name, in the order the help lists them: each spec is made on its own, so the
 * fast path makes (and Node compiles) only the one it was asked for.
 */
const COMMANDS: Record<string, (kit: Kit) => Unnamed> = {
  login: ({ providers, provider, providerArgument }) =>
    command<LoginOptions>({
      group: 'Credentials:',
      help: () => ({
        summary: 'store credentials for a provider (browser login for SoundCloud)',
        description: 'Store the credentials of a provider in the secret store and verify them.',
        examples: [
          'tokens login soundcloud --client-id ID                  # browser login (Authorization Code + PKCE)',
          'tokens login soundcloud --client-id ID --no-browser     # print the URL; paste the redirected URL on stdin',
          'tokens login soundcloud --client-credentials --client-id ID   # app-only, no user',
          'echo "$REFRESH" | tokens login chartmetric              # secret from stdin, no prompt',
          'tokens login soundcharts --client-id ID --team-id TEAM',
          'tokens login chartmetric --profile staging              # separate credentials per profile',
        ],
        notes: `
Secrets are never flags. Each is read from its environment variable when set
(${providers.flatMap((p) => p.secrets.map((secret) => secret.env)).join(', ')}),
else from a hidden prompt on a terminal, else from the first line of stdin.`,
      }),
      arguments: [providerArgument('<provider>')],
      options: LOGIN_FLAG_KEYS.map((key) => ({
        flags: LOGIN_FLAGS[key].syntax,
        help: LOGIN_FLAGS[key].help,
        onlyWith: LOGIN_FLAGS[key].providers,
      })),
      toOptions: (parsed) => ({ provider: provider(parsed), profile: parsed.profile, flags: loginFlags(parsed) }),
      run: async (options, deps) => (await import('../commands/login.js')).runLogin(options, deps),
    }),
  get: ({ provider, providerArgument }) =>
    command<GetOptions>({
      group: 'Tokens:',
      help: () => ({
        summary: 'print a valid access token',
        description:
          'Print a valid access token, from the cache while it has --min-ttl seconds left, else minted or refreshed.',
        examples: [
          'tokens get chartmetric --format header',
          'curl -H @<(tokens get soundcloud --format header) https://api.soundcloud.com/me',
          'curl -H "Authorization: Bearer $(tokens get chartmetric)" https://api.chartmetric.com/api/…',
          'eval "$(tokens get soundcharts --format env)"           # export SOUNDCHARTS_ACCESS_TOKEN=…',
          'tokens get soundcloud --format json | jq -r .expires_at',
          'tokens get chartmetric --min-ttl 600 --profile staging  # valid for 10 more minutes at least',
        ],
      }),
      arguments: [providerArgument('<provider>')],
      options: [
        { flags: '--format <format>', help: 'output format', choices: FORMATS, default: { value: 'token' } },
        minTtlOption('minimum seconds of validity a cached token must have'),
        { flags: '--force-refresh', help: 'ignore the cache and mint or refresh now' },
      ],
      readsSecrets: true,
      toOptions: (parsed) => {
        const minTtl = minTtlOf(parsed);
        return {
          provider: provider(parsed),
          profile: parsed.profile,
          format: parseFormat(parsed.text('format')!),
          minTtlSeconds: minTtl.seconds,
          minTtlGiven: minTtl.given,
          forceRefresh: parsed.flag('forceRefresh') ?? false,
        };
      },
      run: async (options, deps) => (await import('../commands/get.js')).runGet(options, deps),
      direct: true,
      warm: async (options, context) => (await import('../warm/get.js')).warmGet(options, context),
      warmIsQuick: true,
    }),
  exec: ({ providers, providersOption, providersGiven }) =>
    command<ExecOptions>({
      group: 'Tokens:',
      help: () => ({
        summary: 'run a command with fresh tokens in its environment',
        description: 'Run a command (no shell) with P_ACCESS_TOKEN and P_AUTHORIZATION set for each provider.',
        examples: [
          `tokens exec --provider soundcloud -- sh -c 'curl -H "Authorization: $SOUNDCLOUD_AUTHORIZATION" https://api.soundcloud.com/me'`,
          'tokens exec --min-ttl 1800 -- ./nightly-report.sh    # every token valid for 30 more minutes at least',
          'tokens exec --provider chartmetric --provider soundcharts -- python3 report.py',
          'tokens exec --profile staging -- npm test        # every provider configured in "staging"',
          'tokens exec --serve -- jupyter lab               # notebooks call $CHARTMETRIC_API_URL/api/… for hours',
          'tokens exec --mask -- bash -x ./job.sh 2>&1 | tee job.log   # the tokens show as *** in job.log',
        ],
        notes: `
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
      }),
      arguments: [
        { name: '<command...>', help: 'the command and its arguments, after --', completes: { kind: 'command-line' } },
      ],
      options: [
        providersOption('provider to include (repeatable)'),
        minTtlOption('minimum seconds of validity each token must have'),
        {
          flags: '--serve',
          help: 'give the command P_API_URL and TOKENS_SERVE_URL of a server that adds the credentials',
        },
        {
          flags: '--mask',
          help: "replace the tokens in the command's piped stdout/stderr with *** (default: on under CI)",
        },
        { flags: '--no-mask', help: 'pass the output through untouched, even under CI' },
      ],
      passThrough: true,
      readsSecrets: true,
      toOptions: (parsed) => {
        const mask = parsed.flag('mask');
        return {
          providers: providersGiven(parsed),
          profile: parsed.profile,
          command: [...(parsed.args[0] as readonly string[])],
          minTtl: minTtlOf(parsed),
          serve: parsed.flag('serve') ?? false,
          ...(mask === undefined ? {} : { mask }),
        };
      },
      run: async (options, deps) => (await import('../commands/exec.js')).runExec(options, deps),
      direct: true,
      warm: async (options, context) => (await import('../warm/exec.js')).warmExec(options, context),
    }),
  api: ({ providers, provider, providerArgument }) =>
    command<ApiOptions>({
      group: 'Tokens:',
      help: () => ({
        summary: 'make an authenticated request to a provider API',
        description:
          'Send one request (with --paginate, one per page) to the API of PROVIDER with a fresh access token, and write the response body to stdout byte for byte.',
        examples: [
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
        notes: `
API bases (override with the variable; http:// only for loopback hosts):
${providers.map((p) => `  ${p.id.padEnd(12)}${p.endpoints.api.default.padEnd(40)}${p.endpoints.api.env}`).join('\n')}

-f/-F keys nest: -f 'track[title]=New' gives {"track":{"title":"New"}}; 'ids[]=1' appends.
A 401 refreshes the token once and repeats the request; a 429 is waited out up to
--max-wait; GET, HEAD, PUT, DELETE and OPTIONS are retried after network errors and 5xx,
POST and PATCH are sent once. Redirects are followed for GET and HEAD; the credentials never
leave the API base, nor -H headers its origin. An error status prints the body, one line on
stderr, exit 8.`,
      }),
      arguments: [
        providerArgument('<provider>'),
        { name: '<path>', help: 'a PATH starting with / (appended to the API base), or a full URL under the base' },
      ],
      options: [
        {
          flags: '-X, --method <method>',
          help: 'HTTP method (default GET, or POST with --input/--form)',
          completes: { kind: 'values', values: HTTP_METHODS },
        },
        { flags: '-H, --header <header>', help: "extra request header 'Name: value' (repeatable)", repeatable: true },
        {
          flags: '-f, --raw-field <key=value>',
          help: 'a string field: query parameter for GET/HEAD/DELETE, else JSON body (repeatable)',
          repeatable: true,
        },
        {
          flags: '-F, --field <key=value>',
          help: 'a typed field: true, false, null, integers; @PATH reads a file, @- stdin (repeatable)',
          repeatable: true,
        },
        {
          flags: '--form <key=value>',
          help: 'a multipart/form-data part; key=@PATH streams a file (repeatable)',
          repeatable: true,
        },
        { flags: '--input <path>', help: 'the request body from a file, or - for stdin' },
        { flags: '--paginate', help: 'follow next-page links and print one JSON array of all items' },
        {
          flags: '--max-pages <n>',
          help: 'with --paginate: the most pages read; more is exit 5',
          default: { value: '1000' },
        },
        { flags: '-i, --include', help: 'print the status line and response headers before the body' },
        { flags: '--silent', help: 'do not print the response body' },
        maxWaitOption('longest wait for a rate limit before giving up (exit 5)'),
      ],
      toOptions: (parsed) => {
        // -f and -F together, in the order given: it decides nesting and the order of array items.
        const fields = parsed.sequence
          .filter(({ key }) => key === 'rawField' || key === 'field')
          .map(({ key, value }) => parseField(value, key === 'field'));
        const method = parsed.text('method');
        const input = parsed.text('input');
        return {
          provider: provider(parsed),
          profile: parsed.profile,
          target: arg(parsed, 1),
          ...(method === undefined ? {} : { method: method.toUpperCase() }),
          headers: parsed.list('header').map(parseHeader),
          fields,
          form: parsed.list('form').map(parseFormPart),
          ...(input === undefined ? {} : { input }),
          paginate: parsed.flag('paginate') ?? false,
          maxPages: parseWholeNumber(parsed.text('maxPages')!, '--max-pages', { min: 1 }),
          include: parsed.flag('include') ?? false,
          silent: parsed.flag('silent') ?? false,
          maxWaitSeconds: maxWaitOf(parsed),
        };
      },
      run: async (options, deps) => (await import('../commands/api.js')).runApi(options, deps),
      direct: true,
    }),
  serve: ({ providersOption, providersGiven }) =>
    command<ServeOptions>({
      group: 'Tokens:',
      help: () => ({
        summary: 'serve the provider APIs on loopback with fresh credentials added',
        description:
          'Run a local server through which any program calls the provider APIs without holding a token: each request gets fresh credentials (refreshed on 401, 429 waited out) and its answer comes back byte for byte.',
        examples: [
          'eval "$(tokens serve --background)"          # like ssh-agent: exports the URLs and TOKENS_SERVE_PID',
          'curl "$CHARTMETRIC_API_URL/api/artist/206557"',
          'curl "$TOKENS_SERVE_URL/token/soundcloud?min_ttl=600"   # the token itself, for an SDK',
          'tokens serve --provider soundcloud --listen 127.0.0.1:8787',
          'tokens serve --socket "$XDG_RUNTIME_DIR/tokens.sock"',
          'curl --unix-socket "$TOKENS_SERVE_SOCKET" "$SOUNDCLOUD_API_URL/me"',
          'tokens exec --serve -- python3 etl.py         # the server lives as long as the command',
        ],
        notes: `
When ready it prints, for each provider P, export P_API_URL='http://127.0.0.1:PORT/KEY/p'
and export TOKENS_SERVE_URL='http://127.0.0.1:PORT/KEY': the KEY (new at each start, or
TOKENS_SERVE_KEY) is the only thing between the port and your APIs, so keep the URLs private.
Requests: ANY $P_API_URL/PATH goes to the API base + /PATH with the credentials; links back into
the API (Location, next_href, page.next) come back pointing at the server. GET
$TOKENS_SERVE_URL/token/P[?min_ttl=S] gives the token as JSON; GET $TOKENS_SERVE_URL/health
says what is at hand. SIGINT or SIGTERM stops it (requests in flight get up to 10 s).`,
      }),
      arguments: [],
      options: [
        providersOption('provider to serve (repeatable)'),
        { flags: '--listen <host:port>', help: 'loopback address and port (default 127.0.0.1:0, a free port)' },
        { flags: '--socket <path>', help: 'a unix socket (mode 0600, in a directory of yours) instead of a port' },
        { flags: '--background', help: 'detach once ready; print TOKENS_SERVE_PID too' },
        maxWaitOption('longest wait for a rate limit before passing the 429 back'),
        { flags: '--serve-role <role>', help: '', choices: ['exec', 'background'], hidden: true },
      ],
      toOptions: (parsed) => {
        const listen = parsed.text('listen');
        const socket = parsed.text('socket');
        const role = parsed.text('serveRole');
        return {
          providers: providersGiven(parsed),
          profile: parsed.profile,
          ...(listen === undefined ? {} : { listen }),
          ...(socket === undefined ? {} : { socket }),
          background: parsed.flag('background') ?? false,
          maxWaitSeconds: maxWaitOf(parsed),
          verbose: parsed.verbose,
          ...(role === undefined ? {} : { role: role as 'exec' | 'background' }),
        };
      },
      run: async (options, deps) => (await import('../commands/serve.js')).runServe(options, deps),
      direct: true,
      warm: async (options, context) => (await import('../warm/serve.js')).warmServe(options, context),
    }),
  status: ({ provider, providerArgument }) =>
    command<StatusOptions>({
      group: 'Credentials:',
      help: () => ({
        summary: 'show what is configured and when tokens expire',
        description:
          'Show what is configured, in which store and mode, and when cached tokens expire. Never prints a secret.',
        examples: [
          'tokens status',
          'tokens status --json --profile staging',
          'tokens status chartmetric >/dev/null || tokens login chartmetric',
        ],
        notes:
          'With PROVIDER, exits 3 when that provider is not configured and 4 when it refused the stored login (log in again); without, exits 0.',
      }),
      arguments: [providerArgument('[provider]')],
      options: [{ flags: '--json', help: 'machine-readable output' }],
      toOptions: (parsed) => ({
        profile: parsed.profile,
        json: parsed.flag('json') ?? false,
        ...(parsed.args[0] ? { provider: provider(parsed) } : {}),
      }),
      run: async (options, deps) => (await import('../commands/status.js')).runStatus(options, deps),
      direct: true,
      warm: async (options, context) => (await import('../warm/status.js')).warmStatus(options, context),
    }),
  logout: ({ provider, providerArgument }) =>
    command<LogoutOptions>({
      group: 'Credentials:',
      help: () => ({
        summary: "remove a provider's credentials (SoundCloud: sign out first)",
        description: 'Remove the secrets, cached token and settings of a provider for the profile.',
        examples: [
          'tokens logout soundcloud                     # signs out at SoundCloud first, then removes locally',
          'tokens logout chartmetric --profile staging',
        ],
      }),
      arguments: [providerArgument('<provider>')],
      options: [],
      toOptions: (parsed) => ({ provider: provider(parsed), profile: parsed.profile }),
      run: async (options, deps) => (await import('../commands/logout.js')).runLogout(options, deps),
    }),
  completion: (_kit) =>
    command<CompletionOptions>({
      group: SHELL_GROUP,
      help: () => ({
        summary: 'print a shell completion script',
        description: 'Print the completion script for bash, zsh or fish (the same files ship in completions/).',
        examples: [
          'tokens completion bash > ~/.local/share/bash-completion/completions/tokens',
          'tokens completion zsh > ~/.zfunc/_tokens     # with fpath=(~/.zfunc $fpath) before compinit in ~/.zshrc',
          'tokens completion fish > ~/.config/fish/completions/tokens.fish',
          'source <(tokens completion bash)             # this shell only',
        ],
      }),
      arguments: [{ name: '<shell>', help: SHELLS.join('|'), completes: { kind: 'values', values: SHELLS } }],
      options: [],
      toOptions: (parsed) => {
        const shell = arg(parsed, 0);
        if (!(SHELLS as readonly string[]).includes(shell))
          throw new UsageError(`unknown shell "${shell}"; use bash, zsh or fish`);
        if (!parsed.program) throw new Error('completion needs the program');
        return { shell: shell as (typeof SHELLS)[number], program: parsed.program };
      },
      run: async (options, deps) => (await import('./completion.js')).runCompletion(options, deps),
    }),
  // Values for the completion scripts (`tokens __complete profiles`): fast, store-free, and
  // silent: whatever goes wrong, it prints nothing and exits 0.
  [COMPLETE_COMMAND]: (_kit) =>
    command<CompleteOptions>({
      arguments: [{ name: '[what]', help: '' }],
      options: [],
      hidden: true,
      toOptions: (parsed) => ({ what: (parsed.args[0] as string | undefined) ?? '' }),
      run: async (options, deps) => (await import('./completion.js')).runComplete(options, deps),
    }),
};

/** Every command's spec, in order. */
export function commandSpecs(providers: readonly ProviderDescriptor[]): AnyCommandSpec[] {
  const kit = kitFor(providers);
  return Object.entries(COMMANDS).map(([name, make]) => ({ name, ...make(kit) }));
}

/** The spec of the command called `name`, or undefined. */
export function commandSpec(name: string, providers: readonly ProviderDescriptor[]): AnyCommandSpec | undefined {
  const make = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  return make ? { name, ...make(kitFor(providers)) } : undefined;
}
