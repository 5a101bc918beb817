// What an option's or argument's value completes to in the generated shell completions: set by the
// program (program.ts) on its Options and Arguments, read by the generator (completion-scripts.ts),
// which is loaded only for `tokens completion`.
import type { Argument, Option } from 'commander';

/**
 * What the value of an option or argument completes to in the generated shell completions
 * (src/cli/completion-scripts.ts; options made with `.choices()` need no hint).
 */
export type CompletionHint =
  | { kind: 'values'; values: readonly string[] }
  /** Profile names from config.json, printed by the hidden `tokens __complete profiles`. */
  | { kind: 'profiles' }
  /** The names of tokens' own commands (for `help`). */
  | { kind: 'commands' }
  /** Another program and its arguments (for `exec`): the rest of the line completes as a command line. */
  | { kind: 'command-line' };

/**
 * The hint rides on the Option or Argument object under a registered symbol, so the completion
 * generator (loaded lazily) reads it without importing this module at run time.
 */
export const COMPLETION_HINT = Symbol.for('tokens.completion-hint');

export function completes<T extends Option | Argument>(target: T, hint: CompletionHint): T {
  Object.defineProperty(target, COMPLETION_HINT, { value: hint, enumerable: false });
  return target;
}

/** The first-argument values an option applies with (login flags per provider), for completion. */
export const COMPLETION_ONLY_WITH = Symbol.for('tokens.completion-only-with');

/** Completion offers the option only when the first argument is one of `values` (or not typed yet). */
export function onlyWith(option: Option, values: readonly string[]): Option {
  Object.defineProperty(option, COMPLETION_ONLY_WITH, { value: values, enumerable: false });
  return option;
}
