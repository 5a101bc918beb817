// Opening the authorization URL in a browser: the command in BROWSER when set (split into words
// as a shell would, no shell run, the URL added as the last argument), else the `open` package.
// Never waits for the browser to exit; a browser that cannot be started yields false, and the
// caller prints the URL instead.

import { spawn, type ChildProcess } from 'node:child_process';
import type { Env } from '../model/paths.js';
import { UsageError } from '../base/errors.js';

/**
 * Splits a command line into words like a POSIX shell, without expansions: blanks separate words;
 * '…' is literal; in "…" a backslash escapes only $ ` " \ and newline; elsewhere a backslash
 * escapes any character; backslash-newline is a line continuation. An unterminated quote is a
 * UsageError.
 */
export function splitShellWords(s: string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) {
        words.push(current);
        current = '';
        inWord = false;
      }
      i++;
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new UsageError('unterminated single quote');
      current += s.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      inWord = true;
      i++;
      let closed = false;
      while (i < s.length) {
        const d = s[i]!;
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\' && i + 1 < s.length && '$`"\\\n'.includes(s[i + 1]!)) {
          if (s[i + 1] !== '\n') current += s[i + 1];
          i += 2;
        } else {
          current += d;
          i++;
        }
      }
      if (!closed) throw new UsageError('unterminated double quote');
    } else if (c === '\\') {
      if (i + 1 >= s.length) {
        current += '\\';
        inWord = true;
        i++;
      } else if (s[i + 1] === '\n') {
        i += 2;
      } else {
        current += s[i + 1];
        inWord = true;
        i += 2;
      }
    } else {
      current += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(current);
  return words;
}

/** Resolves true on 'spawn', false on 'error' (e.g. ENOENT); an error listener stays attached. */
function spawned(child: ChildProcess): Promise<boolean> {
  return new Promise((resolve) => {
    child.on('error', () => resolve(false));
    child.once('spawn', () => resolve(true));
  });
}

export interface OpenInBrowserOptions {
  /** Where BROWSER is read. */
  env: Env;
  /** The browser's environment: ours without the withheld variables (Deps.childEnv). */
  childEnv: Env;
  /** Why the browser could not be started, for --verbose. */
  debug?: (message: string) => void;
}

/**
 * Opens `url` in a browser; true when a browser command was started (not that a page showed).
 * Never throws.
 */
export async function openInBrowser(url: string, options: OpenInBrowserOptions): Promise<boolean> {
  const { env, childEnv } = options;
  const debug = options.debug ?? (() => {});
  const browser = env.BROWSER;
  if (browser !== undefined && browser.trim() !== '') {
    let words: string[];
    try {
      words = splitShellWords(browser);
    } catch (e) {
      debug(`BROWSER cannot be parsed: ${(e as Error).message}`);
      return false;
    }
    const [command, ...args] = words;
    if (!command) {
      debug('BROWSER names no command');
      return false;
    }
    try {
      const child = spawn(command, [...args, url], {
        detached: true,
        stdio: 'ignore',
        shell: false,
        windowsHide: true,
        env: childEnv,
      });
      const ok = await spawned(child);
      if (ok) child.unref();
      else debug(`BROWSER command ${JSON.stringify(command)} could not be started`);
      return ok;
    } catch (e) {
      debug(`BROWSER command could not be started: ${(e as Error).message}`);
      return false;
    }
  }

  try {
    // `open` starts its opener (xdg-open, open, start) with process.env and takes no environment of
    // its own; so the withheld variables leave process.env first. main works on its own copy of the
    // environment (Deps.env), so nothing of ours reads process.env after this.
    for (const name of Object.keys(process.env)) if (!(name in childEnv)) delete process.env[name];
    const { default: open } = await import('open');
    const child = await open(url, { wait: false });
    child.on('error', (e) => debug(`the default browser opener failed: ${e.message}`));
    // A pid is assigned synchronously when the spawn succeeded (its 'spawn' event may be past).
    if (child.pid === undefined) {
      debug('the default browser opener could not be started');
      return false;
    }
    if (child.exitCode !== null) return child.exitCode === 0;
    // The opener (xdg-open, open, start) usually hands over to the browser and exits at once; one
    // that fails fast (no desktop, no browser) is reported as a failure. Beyond a short grace period
    // we stop looking: a running opener is taken as success.
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(true), 300);
      child.once('exit', (code) => {
        clearTimeout(timer);
        if (code !== 0 && code !== null) debug(`the default browser opener exited with code ${code}`);
        resolve(code === 0 || code === null);
      });
    });
  } catch (e) {
    debug(`the default browser could not be opened: ${(e as Error).message}`);
    return false;
  }
}
