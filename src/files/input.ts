// Reading what login needs: secrets from their variable, a hidden prompt on a terminal, or the
// lines of stdin in order (the secret first, then a pasted redirect URL).
import { createInterface, type Interface } from 'node:readline';
import { LoginError, UsageError } from '../base/errors.js';
import type { IO } from '../model/runtime.js';
import type { Env } from '../model/paths.js';
import type { SecretRequest } from '../model/model.js';

export class InputReader {
  readonly #io: IO;
  #lines: AsyncIterator<string> | undefined;
  #readline: Interface | undefined;

  constructor(io: IO) {
    this.#io = io;
  }

  async readSecret(request: SecretRequest, env: Env): Promise<string> {
    const fromEnv = env[request.env];
    let value: string | undefined;
    if (fromEnv !== undefined && fromEnv !== '') value = fromEnv;
    else if (this.#io.stdinIsTTY) value = await this.#hiddenPrompt(`${request.label}: `);
    else value = await this.readLine();
    value = value?.trim();
    if (!value) {
      throw new UsageError(`no ${request.label} given`, {
        hint: `Type it at the prompt, pipe it on stdin, or set ${request.env}.`,
      });
    }
    return value;
  }

  /** The next line of stdin, or undefined at end of input. */
  async readLine(prompt?: string): Promise<string | undefined> {
    if (prompt) this.#io.stderr.write(prompt);
    if (!this.#lines) {
      this.#readline = createInterface({ input: this.#io.stdin, crlfDelay: Infinity, terminal: false });
      this.#lines = this.#readline[Symbol.asyncIterator]();
    }
    const next = await this.#lines.next();
    return next.done ? undefined : next.value;
  }

  close(): void {
    this.#readline?.close();
  }

  /** A line typed on the terminal without echo (stdin must be a terminal). */
  readHidden(prompt: string): Promise<string> {
    return this.#hiddenPrompt(prompt);
  }

  #hiddenPrompt(prompt: string): Promise<string> {
    const stdin = this.#io.stdin as NodeJS.ReadStream;
    const { stderr } = this.#io;
    // Echo goes off before the prompt shows, so even a paste that follows at once is not echoed.
    stdin.setRawMode?.(true);
    stderr.write(prompt);
    return new Promise((resolve, reject) => {
      let value = '';
      const finish = (error?: Error) => {
        stdin.off('data', onData);
        stdin.setRawMode?.(false);
        stdin.pause();
        stderr.write('\n');
        if (error) reject(error);
        else resolve(value);
      };
      const onData = (chunk: Buffer) => {
        for (const char of chunk.toString('utf8')) {
          if (char === '\r' || char === '\n' || char === '\u0004') return finish();
          if (char === '\u0003') return finish(new LoginError('cancelled'));
          if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
          else if (char >= ' ') value += char;
        }
      };
      stdin.resume();
      stdin.on('data', onData);
    });
  }
}
