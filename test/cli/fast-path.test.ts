// The fast path (src/fast.ts → dist/fast.cjs) answers the everyday forms of `get`, `exec`, `status`,
// `--version` and help without the full program. Two things must hold:
//  - it claims only what it understands (planFastPath): the plainest forms of those commands, with
//    values the full program accepts; anything else goes to the full program;
//  - for what it claims, nothing differs from the full program: the same stdout, stderr and exit
//    code. The CLI tests run each call twice, as users get it and with TOKENS_NO_FAST_PATH=1 (which
//    sends every call to the full program), and compare; a module-loader hook shows which of the two
//    actually ran.
import { spawn } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeEsmTracer } from '../support/esm-trace.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildProgram, helpForms, type ParsedCommand } from '../../src/cli/program.js';
import { NO_FAST_PATH_ENV, planFastPath } from '../../src/fast.js';
import { directRun } from '../../src/direct.js';
import { HELP_FILE } from '../../src/cli/fast-help.js';
import { repoTempDir } from '../support/bundle.js';
import { BIN, DIST, ROOT, Sandbox, runNode, type CliResult } from '../support/cli.js';
import { expireCache, useWorlds, type World } from '../support/worlds.js';

type Env = Record<string, string | undefined>;

/** Every form that prints help, as the build records them: derived from the program. */
const HELP_FORMS = helpForms(
  buildProgram({ writeOut: () => undefined, writeErr: () => undefined, env: {} }, () => undefined, '0'),
);

/** What Commander hands the run function for these arguments, and for which command. */
async function commanderReading(argv: string[], env: Env): Promise<ParsedCommand | undefined> {
  let parsed: ParsedCommand | undefined;
  const program = buildProgram({ writeOut: () => undefined, writeErr: () => undefined, env }, (p) => (parsed = p), '0');
  await program.parseAsync(argv, { from: 'user' });
  return parsed;
}

describe('planFastPath: what the fast path claims', () => {
  /** A warm plan: the command's spec and the options its run function gets. */
  const warm = (name: string, options: Record<string, unknown>) => ({
    command: 'warm',
    spec: expect.objectContaining({ name }),
    options,
  });
  const get = (provider: string, extra: Partial<{ profile: string; format: string; minTtlSeconds: number }> = {}) =>
    warm('get', {
      provider: expect.objectContaining({ id: provider }),
      profile: 'default',
      format: 'token',
      minTtlSeconds: 60,
      minTtlGiven: extra.minTtlSeconds !== undefined,
      forceRefresh: false,
      ...extra,
    });
  const exec = (
    providers: string[] | undefined,
    argv: string[],
    profile = 'default',
    minTtl = { seconds: 60, given: false },
  ) =>
    warm('exec', {
      providers: (providers ?? []).map((id) => expect.objectContaining({ id })),
      profile,
      command: argv,
      minTtl,
      serve: false,
    });
  const status = (provider: string | undefined, extra: Partial<{ profile: string; json: boolean }> = {}) =>
    warm('status', {
      profile: 'default',
      json: false,
      ...(provider ? { provider: expect.objectContaining({ id: provider }) } : {}),
      ...extra,
    });

  it.each<[string[], Env, unknown]>([
    [['get', 'chartmetric'], {}, get('chartmetric')],
    [['get', 'soundcloud'], {}, get('soundcloud')],
    [['get', 'soundcharts'], {}, get('soundcharts')],
    ...(['token', 'header', 'json', 'env'] as const).flatMap(
      (format): Array<[string[], Env, unknown]> => [
        [['get', 'chartmetric', '--format', format], {}, get('chartmetric', { format })],
        [['get', 'chartmetric', `--format=${format}`], {}, get('chartmetric', { format })],
      ],
    ),
    [['get', '--format', 'json', 'chartmetric'], {}, get('chartmetric', { format: 'json' })],
    [['get', 'chartmetric', '--min-ttl', '0'], {}, get('chartmetric', { minTtlSeconds: 0 })],
    [['get', 'chartmetric', '--min-ttl=600'], {}, get('chartmetric', { minTtlSeconds: 600 })],
    [['get', 'chartmetric', '--min-ttl', '007'], {}, get('chartmetric', { minTtlSeconds: 7 })],
    [['get', 'chartmetric', '--profile', 'staging'], {}, get('chartmetric', { profile: 'staging' })],
    [['get', 'chartmetric', '--profile=staging'], {}, get('chartmetric', { profile: 'staging' })],
    // TOKENS_PROFILE as commander takes it: the flag wins; set but empty means the default.
    [['get', 'chartmetric'], { TOKENS_PROFILE: 'staging' }, get('chartmetric', { profile: 'staging' })],
    [
      ['get', 'chartmetric', '--profile', 'prod'],
      { TOKENS_PROFILE: 'staging' },
      get('chartmetric', { profile: 'prod' }),
    ],
    [['get', 'chartmetric'], { TOKENS_PROFILE: '' }, get('chartmetric')],
    [['get', 'chartmetric', '--profile='], {}, get('chartmetric')],
    [
      ['get', 'chartmetric', '--profile', 'prod'],
      { TOKENS_PROFILE: 'not a profile!' },
      get('chartmetric', { profile: 'prod' }),
    ],
    [
      ['get', 'soundcharts', '--profile', 'p1', '--format', 'header', '--min-ttl', '5'],
      {},
      get('soundcharts', { profile: 'p1', format: 'header', minTtlSeconds: 5 }),
    ],
    // Endpoint overrides that pass the check.
    [['get', 'chartmetric'], { TOKENS_CHARTMETRIC_TOKEN_URL: 'http://127.0.0.1:9/token' }, get('chartmetric')],
    [['get', 'chartmetric'], { TOKENS_SOUNDCLOUD_TOKEN_URL: 'https://proxy.example/token' }, get('chartmetric')],
    [['exec', '--provider', 'chartmetric', '--', 'true'], {}, exec(['chartmetric'], ['true'])],
    // No --provider: every provider configured in the profile (read from config.json when answering).
    [['exec', '--', 'true'], {}, exec(undefined, ['true'])],
    [['exec', '--profile', 'staging', '--', 'true'], {}, exec(undefined, ['true'], 'staging')],
    [
      ['exec', '--provider', 'chartmetric', '--min-ttl', '5', '--', 'true'],
      {},
      exec(['chartmetric'], ['true'], 'default', { seconds: 5, given: true }),
    ],
    [['status'], {}, status(undefined)],
    [['status', 'chartmetric'], {}, status('chartmetric')],
    [['status', 'chartmetric', '--json'], {}, status('chartmetric', { json: true })],
    [['status', '--json', '--profile', 'staging'], {}, status(undefined, { json: true, profile: 'staging' })],
    [['status', '--profile=staging', 'soundcloud'], {}, status('soundcloud', { profile: 'staging' })],
    [['status'], { TOKENS_PROFILE: 'staging' }, status(undefined, { profile: 'staging' })],
    [['--version'], {}, { command: 'version' }],
    [['-V'], {}, { command: 'version' }],
    // Help: the shapes; which of them the build recorded, dist/help.json says (the CLI tests below).
    [['--help'], {}, { command: 'help', argv: ['--help'] }],
    [['-h'], {}, { command: 'help', argv: ['-h'] }],
    [['help'], {}, { command: 'help', argv: ['help'] }],
    [['get', '--help'], {}, { command: 'help', argv: ['get', '--help'] }],
    [['status', '-h'], {}, { command: 'help', argv: ['status', '-h'] }],
    [['help', 'get'], {}, { command: 'help', argv: ['help', 'get'] }],
    [['help', 'bogus'], {}, { command: 'help', argv: ['help', 'bogus'] }],
    [['bogus', '--help'], {}, { command: 'help', argv: ['bogus', '--help'] }],
    // Commander prints help before it looks at the variables.
    [['--help'], { TOKENS_HTTP_TIMEOUT: 'soon' }, { command: 'help', argv: ['--help'] }],
    [['exec', '--provider=chartmetric', '--', 'true'], {}, exec(['chartmetric'], ['true'])],
    [
      [
        'exec',
        '--provider',
        'soundcloud',
        '--provider',
        'chartmetric',
        '--profile',
        'staging',
        '--',
        'sh',
        '-c',
        'env',
      ],
      {},
      exec(['soundcloud', 'chartmetric'], ['sh', '-c', 'env'], 'staging'),
    ],
    [
      ['exec', '--profile', 'staging', '--provider', 'chartmetric', '--', 'true'],
      {},
      exec(['chartmetric'], ['true'], 'staging'),
    ],
    [
      ['exec', '--provider', 'chartmetric', '--', 'true'],
      { TOKENS_PROFILE: 'staging' },
      exec(['chartmetric'], ['true'], 'staging'),
    ],
    // Everything after `--` is the command's, options and further `--` included.
    [
      ['exec', '--provider', 'chartmetric', '--', 'cmd', '--', '-v', '--help', '--provider', 'x'],
      {},
      exec(['chartmetric'], ['cmd', '--', '-v', '--help', '--provider', 'x']),
    ],
    // The global options before the command name too; given twice, the last one counts (as in Commander).
    [['--profile', 'staging', 'get', 'chartmetric'], {}, get('chartmetric', { profile: 'staging' })],
    [['--profile=staging', 'status'], {}, status(undefined, { profile: 'staging' })],
    [
      ['--profile', 'staging', 'exec', '--provider', 'chartmetric', '--', 'true'],
      {},
      exec(['chartmetric'], ['true'], 'staging'),
    ],
    [['--profile', 'a', 'get', 'chartmetric', '--profile', 'b'], {}, get('chartmetric', { profile: 'b' })],
    [['get', 'chartmetric', '--profile', 'a', '--profile', 'b'], {}, get('chartmetric', { profile: 'b' })],
    [['get', 'chartmetric', '--format', 'json', '--format', 'env'], {}, get('chartmetric', { format: 'env' })],
    [['get', 'chartmetric', '--min-ttl', '1', '--min-ttl', '2'], {}, get('chartmetric', { minTtlSeconds: 2 })],
    [['status', '--json', '--json'], {}, status(undefined, { json: true })],
    // Options the warm answer declines itself (it leaves them to the full program when answering).
    [['get', 'chartmetric', '--force-refresh'], {}, warm('get', { ...get('chartmetric').options, forceRefresh: true })],
    [['exec', '--serve', '--', 'true'], {}, warm('exec', { ...exec(undefined, ['true']).options, serve: true })],
    [['exec', '--mask', '--', 'true'], {}, warm('exec', { ...exec(undefined, ['true']).options, mask: true })],
    [
      ['exec', '--mask', '--no-mask', '--', 'true'],
      {},
      warm('exec', { ...exec(undefined, ['true']).options, mask: false }),
    ],
    // serve's warm answer starts the server itself only with --provider and fresh tokens (src/warm/serve.ts).
    [
      ['serve', '--provider', 'chartmetric', '--listen', '127.0.0.1:0'],
      {},
      warm('serve', {
        providers: [expect.objectContaining({ id: 'chartmetric' })],
        profile: 'default',
        listen: '127.0.0.1:0',
        background: false,
        maxWaitSeconds: 30,
        verbose: false,
      }),
    ],
    [
      ['serve', '--background'],
      { TOKENS_PROFILE: 'p' },
      warm('serve', { providers: [], profile: 'p', background: true, maxWaitSeconds: 30, verbose: false }),
    ],
  ])('claims %j (env %j), with the options the full program gives', async (argv, env, expected) => {
    const plan = planFastPath(argv, env);
    expect(plan).toEqual(expected);
    if (plan?.command !== 'warm') return;
    // Both drivers read the same specs: the Commander program hands the run function the same options.
    const parsed = await commanderReading(argv, env);
    expect(parsed?.command).toBe(plan.spec.name);
    expect(parsed?.options).toEqual(plan.options);
  });

  it.each<[string[], Env]>([
    // Not get or exec, or not the command at all.
    [[], {}],
    [['--version', '--help'], {}],
    [['get', '--version'], {}],
    [['login', 'chartmetric'], {}],
    [['logout', 'chartmetric'], {}],
    [['completion', 'bash'], {}],
    [['__complete', 'profiles'], {}],
    [['GET', 'chartmetric'], {}],
    // Commands without a warm answer, and --verbose (the full program explains).
    [['api', 'chartmetric', '/x'], {}],
    [['-v', 'serve'], {}],
    [['-v', 'status'], {}],
    [['--verbose', 'get', 'chartmetric'], {}],
    [['--profile', 'x'], {}],
    [['--profile'], {}],
    [['--bogus', 'get', 'chartmetric'], {}],
    // get: anything but one known provider and its own options.
    [['get'], {}],
    [['get', 'chartmetric', 'soundcloud'], {}],
    [['get', 'nope'], {}],
    [['get', 'Chartmetric'], {}],
    [['get', '-'], {}],
    [['get', '--', 'chartmetric'], {}],
    [['get', 'chartmetric', '--'], {}],
    [['get', 'chartmetric', '--verbose'], {}],
    [['get', 'chartmetric', '-v'], {}],
    [['get', 'chartmetric', '-h'], {}],
    [['get', 'chartmetric', '--help'], {}],
    [['get', 'chartmetric', '--json'], {}],
    [['get', 'chartmetric', '--form', 'json'], {}],
    [['get', 'chartmetric', '--format'], {}],
    [['get', 'chartmetric', '--format', 'yaml'], {}],
    [['get', 'chartmetric', '--format='], {}],
    [['get', 'chartmetric', '--format', '--profile'], {}],
    [['get', 'chartmetric', '--min-ttl'], {}],
    [['get', 'chartmetric', '--min-ttl', '-1'], {}],
    [['get', 'chartmetric', '--min-ttl', '1.5'], {}],
    [['get', 'chartmetric', '--min-ttl', ''], {}],
    [['get', 'chartmetric', '--min-ttl', '99999999999999999999'], {}],
    [['get', 'chartmetric', '--profile', 'bad name'], {}],
    [['get', 'chartmetric'], { TOKENS_PROFILE: 'bad name' }],
    // The environment: debugging, the tests' switch, a bad endpoint override of the asked provider.
    [['get', 'chartmetric'], { TOKENS_DEBUG: '1' }],
    [['get', 'chartmetric'], { TOKENS_DEBUG: '' }],
    [['get', 'chartmetric'], { [NO_FAST_PATH_ENV]: '1' }],
    [['get', 'chartmetric'], { TOKENS_CHARTMETRIC_TOKEN_URL: 'http://example.com/token' }],
    [['get', 'chartmetric'], { TOKENS_CHARTMETRIC_TOKEN_URL: 'not a url' }],
    [['get', 'soundcloud'], { TOKENS_SOUNDCLOUD_SIGNOUT_URL: 'ftp://127.0.0.1/x' }],
    // Any bad TOKENS_* value is the full program's usage error, whichever provider it concerns.
    [['get', 'chartmetric'], { TOKENS_SOUNDCLOUD_TOKEN_URL: 'http://example.com/token' }],
    [['get', 'chartmetric'], { TOKENS_HTTP_TIMEOUT: 'soon' }],
    [['exec', '--provider', 'chartmetric', '--', 'true'], { TOKENS_LOCK_TIMEOUT: '0' }],
    // exec: only `exec [OPTIONS] -- CMD…`.
    [['exec'], {}],
    [['exec', '--provider', 'chartmetric'], {}],
    [['exec', '--provider', 'chartmetric', '--'], {}],
    [['exec', '--provider', 'chartmetric', 'true'], {}],
    [['exec', '--provider', 'chartmetric', 'sh', '--', 'true'], {}],
    [['exec', '--provider', 'nope', '--', 'true'], {}],
    [['exec', '--provider', 'chartmetric', '--provider', 'nope', '--', 'true'], {}],
    [['exec', '--provider', '--', 'true'], {}],
    [['exec', '--provider', 'chartmetric', '-v', '--', 'true'], {}],
    [['exec', '--provider', 'chartmetric', '--verbose', '--', 'true'], {}],
    [['exec', '--provider', 'chartmetric', '--help'], {}],
    [['exec', '--provider', 'chartmetric', '--format', 'env', '--', 'true'], {}],
    [['exec', '--provider', 'chartmetric', '--profile', 'bad name', '--', 'true'], {}],
    [['exec', '--provider', 'chartmetric', '--', 'true'], { TOKENS_DEBUG: '1' }],
    [['exec', '--provider', 'chartmetric', '--', 'true'], { [NO_FAST_PATH_ENV]: '1' }],
    [
      ['exec', '--provider', 'chartmetric', '--provider', 'soundcloud', '--', 'true'],
      { TOKENS_SOUNDCLOUD_AUTHORIZE_URL: 'http://example.com/a' },
    ],
    [['exec', '--', 'true'], { TOKENS_DEBUG: '1' }],
    // Every TOKENS_* variable is checked up front, a provider's endpoint overrides included.
    [['exec', '--', 'true'], { TOKENS_SOUNDCLOUD_TOKEN_URL: 'http://example.com/token' }],
    [['status'], { TOKENS_CHARTMETRIC_TOKEN_URL: 'not a url' }],
    // status: one known provider at most, --json and --profile only.
    [['status', 'nope'], {}],
    [['status', 'chartmetric', 'soundcloud'], {}],
    [['status', '--json=1'], {}],
    [['status', '--verbose'], {}],
    [['status', '-v'], {}],
    [['status', '--', 'chartmetric'], {}],
    [['status', '--profile', 'bad name'], {}],
    [['status'], { TOKENS_DEBUG: '1' }],
    [['status'], { [NO_FAST_PATH_ENV]: '1' }],
    [['--version'], { [NO_FAST_PATH_ENV]: '1' }],
    // Help: only one help word, `WORD --help|-h` or `help WORD`.
    [['--help', 'get'], {}],
    [['-h', '--help'], {}],
    [['help', '-h'], {}],
    [['help', '--help'], {}],
    [['help', 'get', 'chartmetric'], {}],
    [['get', '--help', '--profile', 'x'], {}],
    [['--profile', 'x', 'get', '--help'], {}],
    [['--profile=x', '--help'], {}],
    [['get', '--help=1'], {}],
    [['--help'], { TOKENS_DEBUG: '1' }],
    [['get', '--help'], { [NO_FAST_PATH_ENV]: '1' }],
  ])('leaves %j (env %j) to the full program', (argv, env) => {
    expect(planFastPath(argv, env)).toBeUndefined();
  });

  it('every help form the build records has the shape the fast path claims', () => {
    expect(HELP_FORMS).toContainEqual(['get', '--help']);
    expect(HELP_FORMS).toContainEqual(['help', 'get']);
    expect(HELP_FORMS.flat()).not.toContain('__complete');
    for (const argv of HELP_FORMS) expect(planFastPath(argv, {}), argv.join(' ')).toEqual({ command: 'help', argv });
  });
});

describe('directRun: the lines that run without Commander (src/direct.ts)', () => {
  it.each<[string[], Env]>([
    [['serve'], {}],
    [['serve', '--provider', 'chartmetric'], {}],
    [['serve', '--provider', 'chartmetric', '--provider', 'soundcloud', '--listen', '127.0.0.1:8787'], {}],
    [['serve', '--socket', '/tmp/x/tokens.sock', '--background'], {}],
    [['serve', '--max-wait', '5', '--provider=soundcharts'], {}],
    [['serve', '--listen', 'localhost:0', '--serve-role', 'exec'], {}],
    [['--profile', 'staging', 'serve', '-v'], {}],
    [['serve', '--verbose'], { TOKENS_PROFILE: 'p2' }],
    [['get', 'chartmetric', '--force-refresh'], {}],
    [['get', 'soundcloud', '-v', '--format', 'json'], {}],
    [['--verbose', 'status'], {}],
    [['status', 'chartmetric', '--json'], { TOKENS_DEBUG: '1' }],
    [['exec', '--serve', '--', 'true'], {}],
    [['exec', '--provider', 'chartmetric', '--mask', '--min-ttl', '90', '--', 'sh', '-c', 'env'], {}],
    [['api', 'chartmetric', '/api/artist/206557'], {}],
    [['api', 'soundcloud', '/me', '-X', 'POST', '-H', 'Accept: text/plain', '-f', 'a=b', '-F', 'n=1'], {}],
    [['api', 'chartmetric', '/api/charts', '--paginate', '--max-pages', '3', '-i', '-H', 'X-A: 1', '-H', 'X-B: 2'], {}],
    [['api', 'soundcharts', '/api/v2/x', '--input', 'body.json', '--silent', '--method=PUT'], {}],
    // A method the run function refuses (exit 2), as it does under Commander.
    [['api', 'chartmetric', '/x', '-X', 'BREW'], {}],
    [['api', 'soundcloud', '/tracks', '--form', 'title=x', '-X', 'POST', '--profile', 'p'], {}],
  ])('runs %j (env %j) with the options and command Commander gives', async (argv, env) => {
    const run = directRun(argv, env);
    expect(run, 'the scanner is sure of it').toBeDefined();
    const parsed = await commanderReading(argv, env);
    expect(run!.spec.name).toBe(parsed?.command);
    expect(run!.options).toEqual(parsed?.options);
    expect(run!.parsed.verbose).toBe(parsed?.verbose);
  });

  it.each<[string[], Env]>([
    // Not a command that runs directly.
    [['login', 'chartmetric'], {}],
    [['logout', 'chartmetric'], {}],
    [['completion', 'bash'], {}],
    // What the scanner doubts or the full program rejects: Commander's errors and help.
    [['serve', '--listen'], {}],
    [['serve', '--serve-role', 'bogus'], {}],
    [['serve', '--max-wait', 'soon'], {}],
    [['serve', '--provider', 'nope'], {}],
    [['serve', '--bogus'], {}],
    [['serve', 'extra'], {}],
    [['serve', '--help'], {}],
    [['get'], {}],
    [['serve'], { TOKENS_STORE: 'floppy' }],
    [['api', 'chartmetric'], {}],
    [['api', 'chartmetric', '/x', '-XPOST'], {}],
    [['api', 'chartmetric', '/x', '-f', 'no-equals-sign'], {}],
    // A value that looks like an option (stdin's `-` included): the scanner does not guess.
    [['api', 'soundcharts', '/x', '--input', '-'], {}],
    [['api', 'chartmetric', '/x', '--max-pages', 'many'], {}],
  ])('leaves %j (env %j) to the full program', (argv, env) => {
    expect(directRun(argv, env)).toBeUndefined();
  });
});

// ───────────────────────────── the built CLI, both ways ─────────────────────────────

let work: string;
/** `--import` this: it records every ES module URL loaded into $FAST_PATH_TRACE. */
let traceEsm: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tokens-fast-'));
  traceEsm = await writeEsmTracer(work, 'FAST_PATH_TRACE');
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

let sandbox: Sandbox;
beforeEach(async () => {
  sandbox = await Sandbox.create();
});
afterEach(async () => sandbox.dispose());

const HOUR = 3600_000;

async function cache(provider: string, token: string, { profile = 'default', ttlMs = HOUR } = {}) {
  const dir = join(sandbox.home, '.cache/tokens', profile);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // A fixed expiry, so --format json prints the same in both runs.
  const expiresAt = Math.floor((Date.now() + ttlMs) / 1000) * 1000;
  await writeFile(
    join(dir, `${provider}.json`),
    JSON.stringify({ access_token: token, token_type: 'bearer', expires_at: expiresAt }),
    { mode: 0o600 },
  );
}

interface Traced extends CliResult {
  /** Whether the program beyond the fast path ran: dist/main.js (Commander) or dist/direct.js (without). */
  fullProgram: boolean;
}

/** Whether a run's loaded modules include an entry beyond the fast path (see Traced.fullProgram). */
const ranBeyondFastPath = (loaded: readonly string[], dist: string) =>
  loaded.some((u) => ['main.js', 'direct.js'].some((entry) => fileURLToPath(u) === join(dist, entry)));

/** A built CLI: bin/tokens.js and the dist/ it requires. */
interface App {
  bin: string;
  dist: string;
}

async function runTraced(
  args: string[],
  env: Env,
  input?: string,
  base: Record<string, string> = sandbox.baseEnv(),
  app: App = { bin: BIN, dist: DIST },
): Promise<Traced> {
  const trace = join(work, `${Math.random().toString(36).slice(2)}.txt`);
  await writeFile(trace, '');
  const full: Record<string, string> = { ...base, FAST_PATH_TRACE: trace };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete full[k];
    else full[k] = v;
  }
  const result = await runNode(
    ['--import', pathToFileURL(traceEsm).href, app.bin, ...args],
    full,
    input === undefined ? {} : { input },
  );
  const loaded = (await readFile(trace, 'utf8')).split('\n').filter((u) => u.startsWith('file:'));
  return { ...result, fullProgram: ranBeyondFastPath(loaded, app.dist) };
}

/** The call as users make it, and the same call forced to the full program. */
async function bothWays(
  args: string[],
  env: Env = {},
  input?: string,
  base?: Record<string, string>,
  app?: App,
): Promise<{ fast: Traced; full: Traced }> {
  const fast = await runTraced(args, env, input, base, app);
  const full = await runTraced(args, { ...env, [NO_FAST_PATH_ENV]: '1' }, input, base, app);
  expect(full.fullProgram, 'TOKENS_NO_FAST_PATH=1 runs the full program').toBe(true);
  return { fast, full };
}

const outcome = (r: CliResult) => ({ code: r.code, signal: r.signal, stdout: r.stdout, stderr: r.stderr });

/** A child that prints the variables exec is about, as JSON (not the tracing and switch variables). */
const PRINT_ENV = [
  process.execPath,
  '-e',
  [
    'const names = Object.keys(process.env).filter((n) => /^(SOUNDCLOUD|CHARTMETRIC|SOUNDCHARTS)_|^TOKENS_/.test(n) && n !== "TOKENS_NO_FAST_PATH").sort();',
    'console.log(JSON.stringify(Object.fromEntries(names.map((n) => [n, process.env[n]]))));',
  ].join(' '),
];

describe('the fast path and the full program answer alike', () => {
  it.each([
    [['get', 'chartmetric']],
    [['get', 'soundcloud']],
    ...(['token', 'header', 'json', 'env'] as const).flatMap((format) => [
      [['get', 'chartmetric', '--format', format]],
      [['get', 'soundcloud', `--format=${format}`]],
      [['get', 'chartmetric', '--format', format, '--profile', 'staging']],
    ]),
    [['get', 'chartmetric', '--min-ttl', '0']],
    [['get', 'chartmetric', '--min-ttl', '1800']],
  ])('warm: %j is the fast path’s, with the full program’s output', async (args) => {
    await cache('chartmetric', 'cm_tok');
    await cache('soundcloud', 'sc-tok._~+/==');
    await cache('chartmetric', 'cm_staging', { profile: 'staging' });
    const { fast, full } = await bothWays(args);
    expect(fast.fullProgram, 'answered by the fast path').toBe(false);
    expect(outcome(fast)).toEqual(outcome(full));
    expect(fast.code).toBe(0);
    expect(fast.stdout).not.toBe('');
  });

  it('TOKENS_PROFILE picks the profile on the fast path as in the full program', async () => {
    await cache('chartmetric', 'cm_default');
    await cache('chartmetric', 'cm_staging', { profile: 'staging' });
    for (const [args, env] of [
      [['get', 'chartmetric', '--format', 'json'], { TOKENS_PROFILE: 'staging' }],
      [['get', 'chartmetric', '--format', 'json', '--profile', 'default'], { TOKENS_PROFILE: 'staging' }],
      [['get', 'chartmetric', '--format', 'json'], { TOKENS_PROFILE: '' }],
      // The global options before the command, and an option given twice (the last one counts).
      [['--profile', 'default', 'get', 'chartmetric', '--format', 'json'], { TOKENS_PROFILE: 'staging' }],
      [['get', 'chartmetric', '--format', 'json', '--format', 'env'], {}],
    ] as Array<[string[], Env]>) {
      const { fast, full } = await bothWays(args, env);
      expect(fast.fullProgram).toBe(false);
      expect(outcome(fast)).toEqual(outcome(full));
    }
  });

  it.each([
    // Not the fast path's: errors, help, and what needs more than the cache.
    [['get', 'nope']],
    [['get', 'chartmetric', '--format', 'yaml']],
    [['get', 'chartmetric', '--min-ttl', '-5']],
    [['get', 'chartmetric', '--profile', 'bad name']],
    [['get', 'chartmetric', 'extra']],
    [['get', 'chartmetric', '--bogus']],
    [['get', 'chartmetric', '--help']],
    [['get', 'chartmetric', '--verbose']],
    [['exec', '--provider', 'chartmetric']],
    [['exec', '--provider', 'nope', '--', 'true']],
  ])('handed off: %j gives the full program’s answer', async (args) => {
    await cache('chartmetric', 'cm_tok');
    const { fast, full } = await bothWays(args);
    expect(fast.fullProgram, 'handed to the full program').toBe(true);
    expect(outcome(fast)).toEqual(outcome(full));
  });

  it.each([
    ['an expiring token (less than --min-ttl left)', ['get', 'chartmetric', '--min-ttl', '7200'], {}],
    ['no cached token', ['get', 'soundcharts'], {}],
    ['another profile', ['get', 'chartmetric', '--profile', 'elsewhere'], {}],
    ['a bad endpoint override', ['get', 'chartmetric'], { TOKENS_CHARTMETRIC_TOKEN_URL: 'http://example.com/token' }],
    [
      "another provider's bad endpoint override",
      ['get', 'chartmetric'],
      { TOKENS_SOUNDCLOUD_TOKEN_URL: 'http://example.com/token' },
    ],
    ['a bad TOKENS_HTTP_TIMEOUT', ['get', 'chartmetric'], { TOKENS_HTTP_TIMEOUT: '2147484' }],
    [
      'exec with an expiring token',
      ['exec', '--provider', 'chartmetric', '--provider', 'soundcloud', '--', 'true'],
      {},
    ],
  ] as Array<[string, string[], Env]>)('handed off: %s → the full program’s answer', async (_what, args, env) => {
    await cache('chartmetric', 'cm_tok');
    await cache('soundcloud', 'sc_tok', { ttlMs: 30_000 });
    const { fast, full } = await bothWays(args, env);
    expect(fast.fullProgram).toBe(true);
    expect(outcome(fast)).toEqual(outcome(full));
    expect(fast.code).not.toBe(0);
  });

  it('a bad TOKENS_* value is exit 2 naming the variable, with a fresh token in the cache', async () => {
    await cache('chartmetric', 'cm_tok');
    const { fast } = await bothWays(['get', 'chartmetric'], { TOKENS_HTTP_TIMEOUT: '2147484' });
    expect(fast.code).toBe(2);
    expect(fast.stdout).toBe('');
    expect(fast.stderr).toMatch(
      /^tokens: TOKENS_HTTP_TIMEOUT must be a number of seconds greater than 0 and at most 3600, not "2147484"\n$/,
    );
  });

  it('a closed stdout (EPIPE) ends alike', async () => {
    await cache('chartmetric', 'cm_tok');
    const closedStdout = (env: Env) =>
      new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [BIN, 'get', 'chartmetric', '--format', 'env'], {
          env: { ...sandbox.baseEnv(), ...env } as Record<string, string>,
        });
        child.stdout.destroy(); // long before the CLI writes: its write fails with EPIPE
        let stderr = '';
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stderr }));
        child.stdin.end();
      });
    expect(await closedStdout({})).toEqual(await closedStdout({ [NO_FAST_PATH_ENV]: '1' }));
  });

  it('a damaged cache file is the full program’s business', async () => {
    await mkdir(join(sandbox.home, '.cache/tokens/default'), { recursive: true });
    await writeFile(join(sandbox.home, '.cache/tokens/default/chartmetric.json'), '{"access_token": "trunc');
    const { fast, full } = await bothWays(['get', 'chartmetric']);
    expect(fast.fullProgram).toBe(true);
    expect(outcome(fast)).toEqual(outcome(full));
  });

  it.each([
    ['the environment', ['--provider', 'soundcloud', '--provider', 'chartmetric', '--', ...PRINT_ENV]],
    ['the environment of another profile', ['--profile', 'staging', '--provider', 'chartmetric', '--', ...PRINT_ENV]],
    ['an exit code', ['--provider', 'chartmetric', '--', 'sh', '-c', 'echo out; echo err >&2; exit 42']],
    ['death by a signal', ['--provider', 'chartmetric', '--', 'sh', '-c', 'kill -TERM $$']],
    ['a command not found', ['--provider', 'chartmetric', '--', 'no-such-command-xyz', 'arg']],
    ['a command that cannot run', ['--provider', 'chartmetric', '--', '/']],
    ['an empty command name', ['--provider', 'chartmetric', '--', '']],
    ['stdin', ['--provider', 'chartmetric', '--', 'cat']],
    [
      'arguments after a second --',
      ['--provider', 'chartmetric', '--', process.execPath, '-e', 'console.log(process.argv.slice(1))', '--', '-v'],
    ],
  ])('warm exec: %s, alike', async (_what, rest) => {
    await cache('chartmetric', 'cm_tok');
    await cache('soundcloud', 'sc_tok');
    await cache('chartmetric', 'cm_staging', { profile: 'staging' });
    const env = {
      TOKENS_PASSPHRASE: 'never-seen-pass',
      TOKENS_CHARTMETRIC_REFRESH_TOKEN: 'never-seen-rt',
      TOKENS_EXTRA: 'kept',
    };
    const { fast, full } = await bothWays(['exec', ...rest], env, 'piped in\n');
    expect(fast.fullProgram, 'answered by the fast path').toBe(false);
    expect(outcome(fast)).toEqual(outcome(full));
    expect(fast.stdout).not.toContain('never-seen');
  });

  it('the exec environment is the contract’s', async () => {
    await cache('chartmetric', 'cm_tok');
    const { fast } = await bothWays(['exec', '--provider', 'chartmetric', '--', ...PRINT_ENV], {
      TOKENS_PASSPHRASE: 'p',
      TOKENS_EXTRA: 'kept',
    });
    expect(fast.fullProgram).toBe(false);
    expect(JSON.parse(fast.stdout)).toEqual({
      CHARTMETRIC_ACCESS_TOKEN: 'cm_tok',
      CHARTMETRIC_AUTHORIZATION: 'Bearer cm_tok',
      TOKENS_EXTRA: 'kept',
      TOKENS_HTTP_TIMEOUT: '5',
      TOKENS_PROFILE: 'default',
    });
  });
});

// ───────────────────────────── what needs config.json and the notes of what is stored ─────────────────────────────

const { loggedIn } = useWorlds({ passphrase: 'fast path passphrase' });

/** bothWays in a world: its HOME, its server, its file store. */
const bothWaysIn = (w: World, args: string[], env: Env = {}) =>
  bothWays(args, env, undefined, { ...w.sandbox.baseEnv(), ...w.env });

/**
 * A world logged in to Chartmetric and SoundCloud (app-only) in the default profile, and to
 * Soundcharts with the legacy API key in "staging": every token that can be cached is.
 */
async function configuredWorld(): Promise<World> {
  const w = await loggedIn('chartmetric');
  const scl = await w.run(['login', 'soundcloud', '--client-credentials', '--client-id', 'scl-client'], {
    env: { TOKENS_SOUNDCLOUD_CLIENT_SECRET: w.secrets[2]! },
  });
  expect(scl.code, scl.stderr).toBe(0);
  // An app-only login caches no token; the first get does.
  expect((await w.run(['get', 'soundcloud'])).code).toBe(0);
  const legacy = await w.run(['login', 'soundcharts', '--legacy', '--app-id', 'APP-1', '--profile', 'staging'], {
    env: { TOKENS_SOUNDCHARTS_API_KEY: 'legacy-api-key-value' },
  });
  expect(legacy.code, legacy.stderr).toBe(0);
  return w;
}

const configPath = (w: World) => join(w.sandbox.home, '.config/tokens/config.json');

describe('exec without --provider: every configured provider, alike both ways', () => {
  it('configured and cached: the fast path’s, with the full program’s environment', async () => {
    const w = await configuredWorld();
    const { fast, full } = await bothWaysIn(w, ['exec', '--', ...PRINT_ENV]);
    expect(fast.fullProgram, 'answered by the fast path').toBe(false);
    expect(outcome(fast)).toEqual(outcome(full));
    expect(Object.keys(JSON.parse(fast.stdout))).toEqual(
      expect.arrayContaining(['CHARTMETRIC_ACCESS_TOKEN', 'SOUNDCLOUD_ACCESS_TOKEN']),
    );
  });

  it.each<[string, (w: World) => Promise<void>, string[]]>([
    ['nothing configured in the profile', async () => undefined, ['--profile', 'empty']],
    ['legacy Soundcharts (no access token to cache)', async () => undefined, ['--profile', 'staging']],
    ['a configured provider without a cached token', async (w) => expireCache(w), []],
    [
      'a damaged config.json',
      async (w) => writeFile(configPath(w), '{"version": 1, "profiles": {"default": {"chartm'),
      [],
    ],
    [
      'a config.json the schema rejects',
      async (w) =>
        writeFile(configPath(w), JSON.stringify({ version: 1, profiles: { default: { chartmetric: { mode: 5 } } } })),
      [],
    ],
    [
      'a config.json only the schema accepts (it trims the URL)',
      async (w) => {
        const config = JSON.parse(await readFile(configPath(w), 'utf8'));
        config.profiles.default.chartmetric.redirect_uri = ' http://127.0.0.1:9/cb ';
        await writeFile(configPath(w), JSON.stringify(config));
      },
      [],
    ],
  ])('%s: the full program answers', async (_what, prepare, options) => {
    const w = await configuredWorld();
    await prepare(w);
    const { fast, full } = await bothWaysIn(w, ['exec', ...options, '--', ...PRINT_ENV]);
    expect(fast.fullProgram, 'handed to the full program').toBe(true);
    expect(outcome(fast)).toEqual(outcome(full));
  });
});

describe('status, alike both ways', () => {
  it.each([
    [['status', 'chartmetric']],
    [['status', 'chartmetric', '--json']],
    [['status']],
    [['status', '--json']],
    [['status', '--profile', 'empty']],
    [['status', '--json', '--profile', 'empty']],
    // Not configured: exit 3 and the full program's one line.
    [['status', 'soundcharts']],
  ])('%j: the fast path’s, with the full program’s output', async (args) => {
    const w = await configuredWorld();
    const { fast, full } = await bothWaysIn(w, args);
    expect(fast.fullProgram, 'answered by the fast path').toBe(false);
    expect(outcome(fast)).toEqual(outcome(full));
    if (args.includes('soundcharts')) expect(fast.code).toBe(3);
  });

  it('an expired token, and a wrong passphrase (the note answers, the store is not opened): alike', async () => {
    const w = await configuredWorld();
    await expireCache(w);
    for (const env of [{}, { TOKENS_PASSPHRASE: 'not the passphrase' }]) {
      const { fast, full } = await bothWaysIn(w, ['status', '--json'], env);
      expect(fast.fullProgram).toBe(false);
      expect(outcome(fast)).toEqual(outcome(full));
      expect(
        JSON.parse(fast.stdout).providers.find((p: { provider: string }) => p.provider === 'chartmetric'),
      ).toMatchObject({ token_expired: true, refresh_token: true });
    }
  });

  it.each<[string, (w: World) => Promise<void>, Env | ((w: World) => Env)]>([
    [
      'no note of what is stored (an older tokens logged in)',
      async (w) => rm(join(w.sandbox.home, '.local/state/tokens/default/chartmetric.stored.json')),
      {},
    ],
    [
      'a note for another store (TOKENS_STORE=keychain, none running)',
      async () => undefined,
      { TOKENS_STORE: 'keychain', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent', TOKENS_KEYCHAIN_TIMEOUT: '2' },
    ],
    [
      'another secrets file (TOKENS_STORE_FILE)',
      async (w) => writeFile(join(w.sandbox.home, 'other.enc'), ''),
      (w) => ({ TOKENS_STORE_FILE: join(w.sandbox.home, 'other.enc') }),
    ],
    ['the secrets file gone', async (w) => rm(join(w.sandbox.home, '.local/share/tokens/secrets.enc')), {}],
    [
      'a note others may write',
      async (w) => chmod(join(w.sandbox.home, '.local/state/tokens/default/chartmetric.stored.json'), 0o622),
      {},
    ],
    ['an invalid TOKENS_STORE', async () => undefined, { TOKENS_STORE: 'redis-ish' }],
    ['colour wanted (FORCE_COLOR)', async () => undefined, { NO_COLOR: undefined, FORCE_COLOR: '1' }],
    ['a damaged config.json', async (w) => writeFile(configPath(w), '{'), {}],
  ])('%s: the full program answers', async (_what, prepare, env) => {
    const w = await configuredWorld();
    await prepare(w);
    const { fast, full } = await bothWaysIn(w, ['status', 'chartmetric'], typeof env === 'function' ? env(w) : env);
    expect(fast.fullProgram, 'handed to the full program').toBe(true);
    expect(outcome(fast)).toEqual(outcome(full));
  });

  it('logout removes the note with the secrets; a login writes it again', async () => {
    const w = await configuredWorld();
    const note = join(w.sandbox.home, '.local/state/tokens/default/chartmetric.stored.json');
    expect(JSON.parse(await readFile(note, 'utf8'))).toMatchObject({ store: 'file', refresh_token: true });
    expect((await w.run(['logout', 'chartmetric'])).code).toBe(0);
    await expect(readFile(note, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
    const { fast, full } = await bothWaysIn(w, ['status', 'chartmetric']);
    expect(fast.fullProgram).toBe(false);
    expect(outcome(fast)).toEqual(outcome(full));
    expect(fast.code).toBe(3);
  });
});

describe('--version', () => {
  it.each([[['--version']], [['-V']]])('%j: the fast path’s, with the full program’s output', async (args) => {
    const { fast, full } = await bothWays(args);
    expect(fast.fullProgram).toBe(false);
    expect(outcome(fast)).toEqual(outcome(full));
    expect(fast.stdout).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('help, alike both ways', () => {
  it.each(HELP_FORMS.map((argv) => [argv]))(
    '%j: the fast path’s, from the build’s recording, with the full program’s output',
    async (args) => {
      const { fast, full } = await bothWays(args);
      expect(fast.fullProgram, 'answered by the fast path').toBe(false);
      expect(outcome(fast)).toEqual(outcome(full));
      expect(fast).toMatchObject({ code: 0, stderr: '' });
      expect(fast.stdout).toMatch(/^Usage: tokens /);
    },
  );

  it.each<[string[], Env]>([
    // Commander prints help before any variable is checked, and without colour when there is none to add.
    [['--help'], { TOKENS_HTTP_TIMEOUT: 'soon' }],
    [['get', '--help'], { TOKENS_PROFILE: 'bad name' }],
    [['help', 'status'], { TOKENS_PROFILE: 'staging', TOKENS_STORE: 'nope' }],
    [['exec', '-h'], { NO_COLOR: undefined, FORCE_COLOR: '1' }],
    [['help'], { HOME: undefined }],
  ])('%j (env %j): the fast path’s, alike', async (args, env) => {
    const { fast, full } = await bothWays(args, env);
    expect(fast.fullProgram).toBe(false);
    expect(outcome(fast)).toEqual(outcome(full));
  });

  it.each([
    [['help', 'bogus']],
    [['bogus', '--help']],
    [['help', 'help']],
    [['help', '--help']],
    [['help', '__complete']],
    [['__complete', '--help']],
    [['get', 'chartmetric', '--help']],
    [['--profile', 'staging', 'get', '--help']],
    [['get', '--help', '--profile', 'staging']],
  ])('%j: not recorded, the full program’s', async (args) => {
    const { fast, full } = await bothWays(args);
    expect(fast.fullProgram, 'handed to the full program').toBe(true);
    expect(outcome(fast)).toEqual(outcome(full));
  });

  it.each<[string, ((file: string) => Promise<void>) | undefined]>([
    ['no', undefined],
    ['a damaged', (file) => writeFile(file, '{"forms": [')],
    [
      'a strange',
      (file) => writeFile(file, JSON.stringify({ forms: [{ argv: ['get', '--help'], stdout: 'not the help' }] })),
    ],
  ])('%s dist/help.json: the full program answers', async (_what, write) => {
    // A copy of the CLI under the repository (its packages resolve from there), this one file changed.
    const dir = await repoTempDir('help-');
    try {
      const app = { bin: join(dir, 'bin/tokens.js'), dist: join(dir, 'dist') };
      await cp(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
      await cp(DIST, app.dist, { recursive: true });
      await rm(join(app.dist, HELP_FILE));
      await write?.(join(app.dist, HELP_FILE));
      for (const args of [['get', '--help'], ['--help']]) {
        const { fast, full } = await bothWays(args, {}, undefined, undefined, app);
        expect(fast.fullProgram, 'handed to the full program').toBe(true);
        expect(outcome(fast)).toEqual(outcome(full));
        expect(fast.stdout).toMatch(/^Usage: tokens /);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('in a terminal: the full program, wrapped to the terminal’s width', async () => {
    const fast = await inTerminal(['get', '--help'], {});
    const full = await inTerminal(['get', '--help'], { [NO_FAST_PATH_ENV]: '1' });
    expect(full.fullProgram).toBe(true);
    expect(fast.fullProgram, 'handed to the full program').toBe(true);
    expect(outcome(fast)).toEqual(outcome(full));
    expect(fast.code, fast.stderr).toBe(0);
    // Wrapped at 132 columns, not a pipe's 80: the same words, in longer lines.
    const piped = await runTraced(['get', '--help'], {});
    expect(Math.max(...fast.stdout.split('\n').map((line) => line.length))).toBeGreaterThan(80);
    expect(fast.stdout).not.toBe(piped.stdout);
    expect(fast.stdout.replace(/\s+/g, ' ')).toBe(piped.stdout.replace(/\s+/g, ' '));
  });
});

/** Runs CMD with stdout on a pseudo-terminal of 132 columns; prints what it showed; exits with CMD's code. */
const TERMINAL_DRIVER = `
import fcntl, os, struct, subprocess, sys, termios
master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 40, 132, 0, 0))
child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=slave)
os.close(slave)
out = b''
while True:
    try:
        data = os.read(master, 65536)
    except OSError:
        break
    if not data:
        break
    out += data
sys.stdout.buffer.write(out)
sys.exit(child.wait())
`;

/** runTraced with stdout on a terminal (python3's pty module, as in test/cli/prompt.test.ts); stderr a pipe. */
async function inTerminal(args: string[], env: Env): Promise<Traced> {
  const trace = join(work, `${Math.random().toString(36).slice(2)}.txt`);
  await writeFile(trace, '');
  const full: Record<string, string> = { ...sandbox.baseEnv(), FAST_PATH_TRACE: trace };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) full[k] = v;
  const argv = [process.execPath, '--import', pathToFileURL(traceEsm).href, BIN, ...args];
  const result = await new Promise<CliResult>((resolve, reject) => {
    const child = spawn('python3', ['-c', TERMINAL_DRIVER, ...argv], { env: full });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', () => reject(new Error('python3 is needed for the terminal test (Debian: python3)')));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const loaded = (await readFile(trace, 'utf8')).split('\n').filter((u) => u.startsWith('file:'));
  return {
    ...result,
    // The terminal shows each \n as \r\n.
    stdout: result.stdout.replaceAll('\r\n', '\n'),
    fullProgram: ranBeyondFastPath(loaded, DIST),
  };
}
