// The fast path's reading of a command line, from the same command specs Commander is built from
// (commands.ts), without Commander. It reads only the forms it is sure Commander reads the same way
// (`--name value`, `--name=value`, `-X value`, flags, `--` before exec's command) and gives up on
// anything else (help, an unknown or combined short option, a missing value or one that looks like
// an option, a bad choice, arguments that do not fit): the full program then answers, with its
// own errors. test/cli/fast-path.test.ts checks that both drivers give the same options.
import {
  GLOBAL_OPTIONS,
  globalsOf,
  isNegation,
  optionKey,
  optionNames,
  takesValue,
  type AnyCommandSpec,
  type OptionSpec,
  type Parsed,
} from './spec.js';
import type { Env } from '../model/paths.js';
import type { ProviderDescriptor } from '../model/model.js';

interface Given {
  /** Option key → its values in order (a flag: true or false per time given). */
  values: Map<string, (string | boolean)[]>;
  sequence: { key: string; value: string }[];
}

/** An option with its key and names, worked out once per reading. */
interface Known {
  option: OptionSpec;
  key: string;
  names: string[];
}

const know = (options: readonly OptionSpec[]): Known[] =>
  options.map((option) => ({ option, key: optionKey(option.flags), names: optionNames(option.flags) }));

/** One option at argv[i] (and its value), recorded in `given`; the next index, or undefined if unsure. */
function readOption(argv: readonly string[], i: number, known: readonly Known[], given: Given) {
  const arg = argv[i]!;
  const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
  const name = eq > 0 ? arg.slice(0, eq) : arg;
  const found = known.find((k) => k.names.includes(name));
  if (!found) return undefined;
  const { option, key } = found;
  const values = given.values.get(key) ?? [];
  given.values.set(key, values);
  if (!takesValue(option)) {
    if (eq > 0) return undefined;
    values.push(!name.startsWith('--no-'));
    return i + 1;
  }
  const value = eq > 0 ? arg.slice(eq + 1) : argv[i + 1];
  if (value === undefined || (eq < 0 && value.startsWith('-'))) return undefined;
  if (option.choices && !option.choices.includes(value)) return undefined;
  values.push(value);
  if (option.repeatable) given.sequence.push({ key, value });
  return eq > 0 ? i + 1 : i + 2;
}

/** The parsed view of what was given, defaults applied as Commander applies them. */
function parsedFrom(known: readonly Known[], given: Given) {
  const specOf = (key: string) => known.filter((k) => k.key === key).map((k) => k.option);
  const last = (key: string) => given.values.get(key)?.at(-1);
  return {
    text: (key: string) => {
      const value = last(key);
      if (value !== undefined) return String(value);
      const fallback = specOf(key)[0]?.default?.value;
      return typeof fallback === 'string' ? fallback : undefined;
    },
    list: (key: string) => {
      const values = given.values.get(key);
      if (values && values.length > 0) return values.map(String);
      const fallback = specOf(key)[0]?.default?.value;
      return Array.isArray(fallback) ? [...fallback] : [];
    },
    flag: (key: string) => {
      const value = last(key);
      if (typeof value === 'boolean') return value;
      // A --no- flag without its positive form is true unless given, as Commander has it.
      const forms = specOf(key);
      return forms.length > 0 && forms.every(isNegation) ? true : undefined;
    },
    given: (key: string) => (given.values.get(key)?.length ?? 0) > 0,
    sequence: given.sequence,
  };
}

/** The operands as the spec's arguments, or undefined when they do not fit it. */
function argumentsFrom(spec: AnyCommandSpec, operands: readonly string[]): Parsed['args'] | undefined {
  const args: (string | readonly string[] | undefined)[] = [];
  let next = 0;
  for (const argument of spec.arguments) {
    const required = argument.name.startsWith('<');
    if (argument.name.endsWith('...>') || argument.name.endsWith('...]')) {
      const rest = operands.slice(next);
      if (required && rest.length === 0) return undefined;
      args.push(rest);
      next = operands.length;
    } else if (next < operands.length) args.push(operands[next++]);
    else if (required) return undefined;
    else args.push(undefined);
  }
  return next === operands.length ? args : undefined;
}

/**
 * The command and what was given for it, read with its spec (`specOf` finds it by name); undefined
 * when unsure. Throws what
 * the specs' own checks throw (a bad profile): the caller gives up then too.
 */
export function scanCommandLine(
  argv: readonly string[],
  specOf: (name: string) => AnyCommandSpec | undefined,
  providers: readonly ProviderDescriptor[],
  env: Env,
): { spec: AnyCommandSpec; parsed: Parsed } | undefined {
  // The global options before the command name.
  const before: Given = { values: new Map(), sequence: [] };
  const globalOptions = know(GLOBAL_OPTIONS);
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-')) {
    const next = readOption(argv, i, globalOptions, before);
    if (next === undefined) return undefined;
    i = next;
  }
  const spec = argv[i] === undefined ? undefined : specOf(argv[i]!);
  if (!spec || spec.hidden) return undefined;
  const options = [...globalOptions, ...know(spec.options)];
  const given: Given = { values: new Map(), sequence: [] };
  const operands: string[] = [];
  for (i++; i < argv.length; ) {
    const arg = argv[i]!;
    if (arg === '--') {
      // Only exec's form `exec OPTIONS -- CMD…` is read with a `--`: all after it is the command's.
      if (!spec.passThrough || operands.length > 0) return undefined;
      operands.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('-') && arg !== '-') {
      const next = readOption(argv, i, options, given);
      if (next === undefined) return undefined;
      i = next;
      continue;
    }
    // Before any `--`, an operand of exec would take the rest as its command: the full program's.
    if (spec.passThrough) return undefined;
    operands.push(arg);
    i++;
  }
  const args = argumentsFrom(spec, operands);
  if (!args) return undefined;
  const own = parsedFrom(options, given);
  const globals = globalsOf(own, parsedFrom(globalOptions, before), env);
  return { spec, parsed: { args, ...own, ...globals, providers } };
}
