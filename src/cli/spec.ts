// A command as data: its arguments, options, defaults, completion hints and help, how what was
// parsed becomes its run function's options, its run function and, where it has one, its warm
// answer. Two drivers read the same specs: the Commander program (program.ts) and the fast path's
// scanner (scan.ts), which never loads Commander. The global options are declared and resolved here,
// once, for every command and both drivers.
import { TOKENS_DEBUG, TOKENS_PROFILE } from '../model/env.js';
import { DEFAULT_PROFILE, parseProfile } from '../base/profile.js';
import type { Command } from 'commander';
import type { CompletionHint } from './completion-hints.js';
import type { Deps } from '../broker/deps.js';
import type { Env } from '../model/paths.js';
import type { ProviderDescriptor } from '../model/model.js';
import type { WarmAnswer, WarmContext } from '../warm/context.js';

export interface OptionSpec {
  /** Commander's flags: '-X, --method <method>', '--mask', '--no-mask'. `<value>` makes it take one. */
  readonly flags: string;
  readonly help: string;
  /** Given again, the values add up in order (else the last one counts, as Commander has it). */
  readonly repeatable?: true;
  /** The value when not given; `shown` is how help states it. */
  readonly default?: { readonly value: string | readonly string[]; readonly shown?: string };
  readonly choices?: readonly string[];
  /** The variable help names as the option's source (its value is resolved here, not by Commander). */
  readonly env?: string;
  readonly completes?: CompletionHint;
  /** Completion offers the option only after one of these first arguments (login's per-provider flags). */
  readonly onlyWith?: readonly string[];
  readonly hidden?: true;
}

export interface ArgumentSpec {
  /** '<provider>', '[provider]', '<command...>'. */
  readonly name: string;
  readonly help: string;
  readonly completes?: CompletionHint;
}

/** What either driver parsed from one command line, in the form every command's `options` reads. */
export interface Parsed {
  /** The arguments in declared order: a variadic one is a list, an absent optional one undefined. */
  readonly args: readonly (string | readonly string[] | undefined)[];
  /** A value option's value (its default when not given), by key (Commander's attribute name). */
  text(key: string): string | undefined;
  /** A repeatable option's values, in order. */
  list(key: string): readonly string[];
  /** A flag: true, false for its --no- form, undefined when neither was given and it has no default. */
  flag(key: string): boolean | undefined;
  /** Whether the option was given on the command line (not its default). */
  given(key: string): boolean;
  /** Every repeatable option's values as given, in command-line order (-f and -F interleave: the order decides nesting). */
  readonly sequence: readonly { readonly key: string; readonly value: string }[];
  readonly profile: string;
  readonly verbose: boolean;
  readonly providers: readonly ProviderDescriptor[];
  /** The Commander program (`completion` prints its script); absent in the fast driver. */
  readonly program?: Command;
}

export interface CommandHelp {
  /** The one line in the program's list of commands. */
  readonly summary?: string;
  readonly description?: string;
  readonly examples?: readonly string[];
  /** Help text after the examples. */
  readonly notes?: string;
}

export interface CommandSpec<Options> {
  readonly name: string;
  /** The heading the program's help lists it under. */
  readonly group?: string;
  /** Its help, made when help or completion is shown (the fast path never needs it). */
  readonly help?: () => CommandHelp;
  readonly arguments: readonly ArgumentSpec[];
  readonly options: readonly OptionSpec[];
  /** Options after the first argument belong to it (exec's command line). */
  readonly passThrough?: true;
  /**
   * Hidden and lenient (the completion scripts' helper): no help, unknown options and extra
   * arguments accepted, nothing printed whatever the environment holds.
   */
  readonly hidden?: true;
  /** The full program is likely to open the secret store: its slow part may start early. */
  readonly readsSecrets?: true;
  /**
   * A line of this command the fast path's scanner is sure of runs without Commander (src/direct.ts),
   * for a quicker start: for commands whose lines test/cli/fast-path.test.ts reads both ways.
   */
  readonly direct?: true;
  /** The run function's options; throws a UsageError for a bad value, before any I/O. */
  readonly toOptions: (parsed: Parsed) => Options;
  readonly run: (options: Options, deps: Deps) => Promise<number>;
  /**
   * The answer from files alone, or undefined to leave the call to the full program; decided before
   * anything is printed or run.
   */
  readonly warm?: (options: Options, context: WarmContext) => Promise<WarmAnswer | undefined>;
  /**
   * The warm answer is over within Node's start-up: Node's inspector is refused on SIGUSR1 only
   * once it begins to wait (WarmContext.refuseInspector).
   */
  readonly warmIsQuick?: true;
}

/** Any command's spec: the options type is each command's own business. */
// biome-ignore lint/suspicious/noExplicitAny: a list of specs whose options types differ.
export type AnyCommandSpec = CommandSpec<any>;

/** The global options: accepted before the command name and after it, resolved once (globalsOf). */
export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  {
    flags: '--profile <name>',
    help: 'profile to use (separate credentials per profile)',
    env: TOKENS_PROFILE.name,
    default: { value: DEFAULT_PROFILE },
    completes: { kind: 'profiles' },
  },
  { flags: '-v, --verbose', help: 'explain what happens on stderr (never secrets)' },
];

/** What a driver read of the options on one side of the command's name. */
export type OptionsView = Pick<Parsed, 'text' | 'given'>;

/**
 * --profile after the command (`command`), else before it (`program`), else TOKENS_PROFILE (even
 * empty), else the default; --verbose either side, or TOKENS_DEBUG set to something. Only what was
 * given on the command line counts from either side.
 */
export function globalsOf(command: OptionsView, program: OptionsView, env: Env): { profile: string; verbose: boolean } {
  const profileOn = (side: OptionsView) => (side.given('profile') ? side.text('profile') : undefined);
  return {
    profile: parseProfile(profileOn(command) ?? profileOn(program) ?? env[TOKENS_PROFILE.name]),
    verbose: command.given('verbose') || program.given('verbose') || Boolean(env[TOKENS_DEBUG.name]),
  };
}

/** The key of an option: Commander's attribute name ('--min-ttl' → minTtl, '--no-mask' → mask). */
export function optionKey(flags: string): string {
  const names = optionNames(flags);
  let long = names.find((name) => name.startsWith('--'))?.slice(2) ?? names[0]!.slice(1);
  if (long.startsWith('no-')) long = long.slice(3);
  const words = long.split('-');
  return words.map((word, i) => (i === 0 ? word : word.charAt(0).toUpperCase() + word.slice(1))).join('');
}

/** The names an option answers to: ['-X', '--method']. (No regular expression: the fast path runs this.) */
export function optionNames(flags: string): string[] {
  return flags
    .replaceAll(',', ' ')
    .split(' ')
    .filter((part) => part.startsWith('-'));
}

/** Whether the option takes a value (`<value>`; tokens has no optional `[value]` options). */
export const takesValue = (option: OptionSpec): boolean => option.flags.includes('<');

/** A flag in its --no- form: false when given, and true by default when it has no positive form. */
export const isNegation = (option: OptionSpec): boolean => optionNames(option.flags).some((n) => n.startsWith('--no-'));
