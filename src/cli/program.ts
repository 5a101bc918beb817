// The Commander program, built from the command specs (commands.ts): each command's parsed flags
// become its run function's options (spec.toOptions), handed with the run function to `onAction`;
// running it is main's business. No I/O happens here.
import { Argument, Command, Option } from 'commander';
import { TOKENS_PASSPHRASE, TOKENS_PROFILE, TOKENS_REDIS_URL, TOKENS_STORE } from '../model/env.js';
import { PROVIDERS } from '../providers/registry.js';
import { DEFAULT_PROFILE } from '../base/profile.js';
import { HELP_COMMAND, HELP_FLAGS } from './help-words.js';
import { completes, onlyWith } from './completion-hints.js';
import { commandSpecs, listInWords, SHELL_GROUP } from './commands.js';
import { GLOBAL_OPTIONS, globalsOf, optionKey, type AnyCommandSpec, type OptionSpec, type Parsed } from './spec.js';
import type { Deps } from '../broker/deps.js';
import type { ProviderDescriptor } from '../model/model.js';

export { COMPLETE_COMMAND, SHELLS } from './commands.js';

export type Invocation = (deps: Deps) => Promise<number>;

export interface ProgramIO {
  writeOut: (text: string) => void;
  writeErr: (text: string) => void;
  env: Deps['env'];
  /** The registry; a test may pass a longer one. */
  providers?: readonly ProviderDescriptor[];
  /** The commands; a test may pass more (by default, commands.ts's for these providers). */
  commands?: readonly AnyCommandSpec[];
}

export interface ParsedCommand {
  /** The command's name and the options its run function gets (what the fast path must match). */
  command: string;
  options: unknown;
  invocation: Invocation;
  verbose: boolean;
  /** True for the hidden completion helper, which must stay silent whatever the environment holds. */
  lenient?: boolean;
}

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

/** A Commander Option from its spec; a repeatable one records its values in `sequence` as given. */
function commanderOption(spec: OptionSpec, sequence: { key: string; value: string }[]): Option {
  const option = new Option(spec.flags, spec.help);
  if (spec.choices) option.choices(spec.choices);
  if (spec.default) option.default(spec.default.value, spec.default.shown);
  if (spec.env) option.env(spec.env);
  if (spec.hidden) option.hideHelp();
  if (spec.repeatable) {
    const key = optionKey(spec.flags);
    option.argParser((value: string, previous: string[] | undefined) => {
      sequence.push({ key, value });
      return [...(previous ?? []), value];
    });
  }
  if (spec.completes) completes(option, spec.completes);
  if (spec.onlyWith) onlyWith(option, spec.onlyWith);
  return option;
}

/** What Commander parsed for one command (or the program), as the specs read it. */
function viewOf(command: Command): Pick<Parsed, 'text' | 'list' | 'flag' | 'given'> {
  const values = command.opts();
  return {
    text: (key) => (values[key] === undefined ? undefined : String(values[key])),
    list: (key) => (values[key] as string[] | undefined) ?? [],
    flag: (key) => values[key] as boolean | undefined,
    given: (key) => command.getOptionValueSource(key) === 'cli',
  };
}

export function buildProgram(io: ProgramIO, onAction: (parsed: ParsedCommand) => void, version: string): Command {
  const providers = io.providers ?? PROVIDERS;
  const specs = io.commands ?? commandSpecs(providers);
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
    });
  // The global options are the program's too: `tokens --profile staging get …`.
  for (const option of GLOBAL_OPTIONS) program.addOption(commanderOption(option, []));
  program.addHelpText(
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

  for (const spec of specs) {
    if (spec.hidden) {
      addHiddenCommand(program, spec, onAction);
      continue;
    }
    if (spec.group) program.commandsGroup(spec.group);
    const sequence: { key: string; value: string }[] = [];
    const command = program
      .command(spec.name)
      .helpOption(HELP_FLAGS.join(', '), 'show help')
      .exitOverride()
      .configureOutput({
        writeOut: io.writeOut,
        writeErr: io.writeErr,
        outputError: (text, write) => write(commanderErrorLine(text, `tokens ${spec.name}`)),
      });
    const help = spec.help?.() ?? {};
    if (help.summary) command.summary(help.summary);
    if (help.description) command.description(help.description);
    for (const argument of spec.arguments) {
      const made = new Argument(argument.name, argument.help);
      command.addArgument(argument.completes ? completes(made, argument.completes) : made);
    }
    for (const option of [...GLOBAL_OPTIONS, ...spec.options]) command.addOption(commanderOption(option, sequence));
    if (spec.passThrough) command.passThroughOptions();
    if (help.examples) command.addHelpText('after', examples([...help.examples], help.notes));
    command.action((...received: unknown[]) => {
      const own = viewOf(received.at(-1) as Command);
      const globals = globalsOf(own, viewOf(program), io.env);
      const parsed: Parsed = {
        args: received.slice(0, spec.arguments.length) as Parsed['args'],
        ...own,
        sequence: [...sequence],
        ...globals,
        providers,
        program,
      };
      const options: unknown = spec.toOptions(parsed);
      onAction({
        command: spec.name,
        options,
        verbose: globals.verbose,
        invocation: (deps) => spec.run(options, deps),
      });
    });
  }

  // `help [command]`, made here so that it sits with `completion` and completes command names.
  program.addHelpCommand(
    new Command(HELP_COMMAND)
      .addArgument(completes(new Argument('[command]', 'the command to explain'), { kind: 'commands' }))
      .description('show help for a command')
      .helpGroup(SHELL_GROUP)
      .helpOption(false),
  );
  return program;
}

/** A hidden, lenient command: no help, anything accepted, nothing printed; its run must be silent too. */
function addHiddenCommand(program: Command, spec: AnyCommandSpec, onAction: (parsed: ParsedCommand) => void): void {
  const command = program
    .command(spec.name, { hidden: true })
    .allowUnknownOption()
    .allowExcessArguments()
    .helpOption(false)
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined, outputError: () => undefined });
  for (const argument of spec.arguments) command.addArgument(new Argument(argument.name, argument.help));
  command.action((...received: unknown[]) => {
    const parsed: Parsed = {
      args: received.slice(0, spec.arguments.length) as Parsed['args'],
      text: () => undefined,
      list: () => [],
      flag: () => undefined,
      given: () => false,
      sequence: [],
      profile: DEFAULT_PROFILE,
      verbose: false,
      providers: [],
    };
    const options: unknown = spec.toOptions(parsed);
    onAction({
      command: spec.name,
      options,
      verbose: false,
      lenient: true,
      invocation: (deps) => spec.run(options, deps),
    });
  });
}

/**
 * Every argument list that prints help on stdout: `--help`, `-h` and `help` for the program, and
 * `CMD --help`, `CMD -h` and `help CMD` for each visible command. The build records the full
 * program's answer to each for the fast path (scripts/build.mjs, src/cli/fast-help.ts). Not `help help`
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
