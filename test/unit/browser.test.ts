import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { childEnvironment } from '../../src/providers/registry.js';
import { openInBrowser, splitShellWords } from '../../src/http/browser.js';
import { UsageError } from '../../src/base/errors.js';

describe('splitShellWords', () => {
  it.each([
    ['firefox', ['firefox']],
    ['  firefox   --new-window  ', ['firefox', '--new-window']],
    ['a\tb\nc', ['a', 'b', 'c']],
    ["'/Applications/Google Chrome.app/chrome' --incognito", ['/Applications/Google Chrome.app/chrome', '--incognito']],
    ['"/opt/my browser/bin" --flag', ['/opt/my browser/bin', '--flag']],
    ['/opt/my\\ browser/bin', ['/opt/my browser/bin']],
    ['a"b c"d', ['ab cd']],
    ["a'b c'd", ['ab cd']],
    ['""', ['']],
    ["''", ['']],
    ["x '' y", ['x', '', 'y']],
    ['"a\\"b"', ['a"b']],
    ['"a\\\\b"', ['a\\b']],
    ['"a\\$b"', ['a$b']],
    ['"a\\nb"', ['a\\nb']],
    ["'a\\b'", ['a\\b']],
    ['"it\'s"', ["it's"]],
    ['\'say "hi"\'', ['say "hi"']],
    ['a\\\nb', ['ab']],
    ['a \\\n b', ['a', 'b']],
    ['\\"', ['"']],
    ["a 'b\"'", ['a', 'b"']],
    ['trailing\\', ['trailing\\']],
    ['$HOME ~ *', ['$HOME', '~', '*']],
    ['', []],
    ['   ', []],
  ] as const)('%j', (input, words) => {
    expect(splitShellWords(input)).toEqual(words);
  });

  it.each(["'open", '"open', 'a "b', 'a \'b"', 'a "b\\"'])('rejects the unterminated quote in %j', (input) => {
    expect(() => splitShellWords(input)).toThrow(UsageError);
  });
});

describe('openInBrowser with BROWSER', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tokens-browser-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function waitForFile(path: string): Promise<string> {
    for (let i = 0; i < 100; i++) {
      if (existsSync(path)) {
        const text = readFileSync(path, 'utf8');
        if (text.endsWith('\n--end--\n')) return text;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`${path} was not written`);
  }

  it('runs the command with its words and the URL as the last argument, without a shell', async () => {
    const script = join(dir, 'fake browser.sh');
    const out = join(dir, 'argv.txt');
    writeFileSync(
      script,
      `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > "$OUT_FILE.tmp"\nprintf 'secret=%s\\n--end--\\n' "\${TOKENS_SOUNDCLOUD_CLIENT_SECRET-unset}" >> "$OUT_FILE.tmp"\nmv "$OUT_FILE.tmp" "$OUT_FILE"\n`,
    );
    chmodSync(script, 0o755);
    const url = 'https://secure.soundcloud.com/authorize?client_id=x&state=a$b;c&redirect_uri=http%3A%2F%2F127.0.0.1';
    const env = {
      ...process.env,
      OUT_FILE: out,
      TOKENS_SOUNDCLOUD_CLIENT_SECRET: 'do-not-leak',
      BROWSER: `'${script}' --new-window "two words" $HOME`,
    };
    await expect(openInBrowser(url, { env, childEnv: childEnvironment(env) })).resolves.toBe(true);
    const lines = (await waitForFile(out)).split('\n');
    expect(lines.slice(0, 4)).toEqual(['--new-window', 'two words', '$HOME', url]);
    expect(lines[4]).toBe('secret=unset');
  });

  it("without BROWSER, the default opener's environment (process.env) loses the withheld variables first", async () => {
    const saved = { ...process.env };
    try {
      process.env.TOKENS_SOUNDCLOUD_CLIENT_SECRET = 'do-not-leak';
      process.env.PATH = dir; // no opener found: the outcome does not matter, the environment does
      const env = { ...process.env, BROWSER: '' };
      await openInBrowser('https://example.com/', { env, childEnv: childEnvironment(env) });
      expect(process.env.TOKENS_SOUNDCLOUD_CLIENT_SECRET).toBeUndefined();
      expect(process.env.PATH).toBe(dir);
    } finally {
      for (const name of Object.keys(process.env)) delete process.env[name];
      Object.assign(process.env, saved);
    }
  });

  it('returns false when the BROWSER command does not exist', async () => {
    const messages: string[] = [];
    const env = { ...process.env, BROWSER: join(dir, 'no-such-browser') };
    await expect(
      openInBrowser('https://example.com/', { env, childEnv: env, debug: (m) => messages.push(m) }),
    ).resolves.toBe(false);
    expect(messages.join('\n')).toMatch(/could not be started/);
  });

  it('returns false when BROWSER has an unterminated quote', async () => {
    await expect(openInBrowser('https://example.com/', { env: { BROWSER: "'firefox" }, childEnv: {} })).resolves.toBe(
      false,
    );
  });
});
