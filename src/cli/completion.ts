// `tokens completion SHELL` prints the completion script generated from the Commander program;
// the hidden `tokens __complete WHAT` prints the dynamic values those scripts ask for.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { PROFILE_PATTERN } from './parse.js';
import type { Deps } from '../broker/deps.js';

export interface CompletionOptions {
  shell: 'bash' | 'zsh' | 'fish';
  /** The program whose commands, options and arguments the script completes. */
  program: Command;
}

export async function runCompletion(options: CompletionOptions, deps: Deps): Promise<number> {
  // The generator is only needed here: load it on demand, never on the warm path.
  const scripts = await import('./completion-scripts.js');
  deps.io.stdout.write(scripts.completionScript(options.shell, options.program));
  return 0;
}

export interface CompleteOptions {
  /** What to list; only `profiles` is known. Anything else prints nothing. */
  what: string;
}

/**
 * Profile names from config.json, one a line: read with plain JSON.parse (no schema, no lock, no
 * store), so it is quick, and silent: on any error it prints nothing and exits 0.
 */
export async function runComplete(options: CompleteOptions, deps: Deps): Promise<number> {
  if (options.what !== 'profiles') return 0;
  try {
    const data: unknown = JSON.parse(await readFile(join(deps.paths.configDir, 'config.json'), 'utf8'));
    const profiles = (data as { profiles?: unknown } | null)?.profiles;
    if (!profiles || typeof profiles !== 'object' || Array.isArray(profiles)) return 0;
    const names = Object.keys(profiles).filter((name) => PROFILE_PATTERN.test(name));
    if (names.length > 0) deps.io.stdout.write(`${names.join('\n')}\n`);
  } catch {
    // Completion must never get in the way: nothing to offer.
  }
  return 0;
}
