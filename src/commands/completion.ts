import { UsageError } from '../core/errors.js';
import type { Deps } from '../core/deps.js';

export interface CompletionOptions {
  shell: 'bash' | 'zsh' | 'fish';
}

export async function runCompletion(_options: CompletionOptions, _deps: Deps): Promise<number> {
  throw new UsageError('completion scripts are not yet available');
}
