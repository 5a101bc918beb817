// A real headless Chromium for the SoundCloud login tests, and a stand-in `BROWSER` command that
// only records the URL the CLI asked it to open (the test then opens it in Chromium itself).
import { existsSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.TOKENS_TEST_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Headless Chromium. --no-sandbox because tests may run as root; the rest keeps Chromium from
 * opening connections of its own (updates, sync, field trials), which a closed network refuses.
 * A missing browser fails the tests, naming the package: the login flow is never left untested.
 */
export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `${CHROMIUM_PATH} not found: install the Debian package \`chromium\` (npm test installs it when run as root)`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface BrowserShim {
  /** The value for the BROWSER variable. */
  command: string;
  /** Where the shim appends every URL it is given, one per line. */
  urlFile: string;
  /** Every URL received so far. */
  urls(): Promise<string[]>;
  /** The names of the environment variables the shim saw, over all its runs. */
  envNames(): Promise<string[]>;
  /** The next URL not yet returned by nextUrl (waits for it, polling the file). */
  nextUrl(timeoutMs?: number): Promise<string>;
}

/** Writes the shim (a POSIX sh script) into `dir`, which must be a path without blanks. */
export async function browserShim(dir: string): Promise<BrowserShim> {
  const urlFile = join(dir, 'opened-urls.txt');
  const envFile = join(dir, 'browser-env-names.txt');
  const command = join(dir, 'fake-browser.sh');
  if (/\s/.test(command)) throw new Error(`the shim path must not contain blanks: ${command}`);
  await writeFile(urlFile, '');
  await writeFile(envFile, '');
  // The URL is the last argument (the CLI appends it to the words of BROWSER). Only the names of
  // the variables are kept, never values.
  await writeFile(
    command,
    `#!/bin/sh\nenv | sed -n 's/^\\([A-Za-z_][A-Za-z0-9_]*\\)=.*/\\1/p' >> '${envFile}'\n` +
      `for arg do last=$arg; done\nprintf '%s\\n' "$last" >> '${urlFile}'\n`,
  );
  await chmod(command, 0o755);
  const urls = async () => (await readFile(urlFile, 'utf8')).split('\n').filter(Boolean);
  let taken = 0;
  return {
    command,
    urlFile,
    urls,
    envNames: async () => [...new Set((await readFile(envFile, 'utf8')).split('\n').filter(Boolean))],
    async nextUrl(timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const all = await urls();
        if (all.length > taken) return all[taken++]!;
        if (Date.now() > deadline) throw new Error('the CLI did not open a browser in time');
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
  };
}
