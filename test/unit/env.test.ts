// The environment module: every TOKENS_* variable declared once, bad values are usage errors that
// name the variable, and the README's table matches the declarations.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  checkEnv,
  MAX_TIMEOUT_SECONDS,
  readEnv,
  TOKENS_HTTP_TIMEOUT,
  TOKENS_KEYCHAIN_TIMEOUT,
  TOKENS_LOCK_TIMEOUT,
  TOKENS_PASSPHRASE,
  TOKENS_STORE,
  TOKENS_STORE_FILE,
  type EnvVar,
} from '../../src/model/env.js';
import { UsageError } from '../../src/base/errors.js';
import { allVariables } from '../../src/providers/registry.js';

describe('readEnv', () => {
  it.each([
    [TOKENS_HTTP_TIMEOUT, undefined, 15_000],
    [TOKENS_HTTP_TIMEOUT, '', 15_000],
    [TOKENS_HTTP_TIMEOUT, '2.5', 2_500],
    [TOKENS_HTTP_TIMEOUT, ' 30 ', 30_000],
    [TOKENS_HTTP_TIMEOUT, String(MAX_TIMEOUT_SECONDS), MAX_TIMEOUT_SECONDS * 1000],
    [TOKENS_LOCK_TIMEOUT, undefined, 90_000],
    [TOKENS_KEYCHAIN_TIMEOUT, '0.5', 500],
    [TOKENS_STORE, undefined, 'keychain'],
    [TOKENS_STORE, 'file', 'file'],
    [TOKENS_STORE_FILE, '/srv/secrets.enc', '/srv/secrets.enc'],
  ] as Array<[EnvVar<unknown>, string | undefined, unknown]>)('%o = %o → %o', (variable, raw, expected) => {
    expect(readEnv(raw === undefined ? {} : { [variable.name]: raw }, variable)).toBe(expected);
  });

  it.each([
    [TOKENS_HTTP_TIMEOUT, 'soon'],
    [TOKENS_HTTP_TIMEOUT, '0'],
    [TOKENS_HTTP_TIMEOUT, '-1'],
    [TOKENS_HTTP_TIMEOUT, '1e3'],
    // Past what a timer can hold, Node fires at once: every request failed "within 2147484 s".
    [TOKENS_HTTP_TIMEOUT, '2147484'],
    [TOKENS_HTTP_TIMEOUT, String(MAX_TIMEOUT_SECONDS + 1)],
    [TOKENS_LOCK_TIMEOUT, 'forever'],
    [TOKENS_KEYCHAIN_TIMEOUT, '0'],
    [TOKENS_STORE, 'plaintext'],
    [TOKENS_STORE_FILE, 'relative/secrets.enc'],
  ] as Array<[EnvVar<unknown>, string]>)('%o = %o is a usage error naming the variable', (variable, raw) => {
    const read = () => readEnv({ [variable.name]: raw }, variable);
    expect(read).toThrow(UsageError);
    expect(read).toThrow(new RegExp(`^${variable.name} `));
  });

  it('never echoes the value of a secret variable, even a bad one', () => {
    const secretVar = {
      ...TOKENS_PASSPHRASE,
      parse: () => {
        throw new Error('is bad');
      },
    };
    expect(() => readEnv({ TOKENS_PASSPHRASE: 'hunter2-actual-value' }, secretVar)).toThrow(
      /^TOKENS_PASSPHRASE is bad$/,
    );
  });

  it('checkEnv reports the first bad variable of the list, provider variables included', () => {
    expect(() => checkEnv({ TOKENS_HTTP_TIMEOUT: '10' }, allVariables())).not.toThrow();
    expect(() => checkEnv({ TOKENS_CHARTMETRIC_TOKEN_URL: 'http://example.com/token' }, allVariables())).toThrow(
      /TOKENS_CHARTMETRIC_TOKEN_URL/,
    );
  });
});

describe('the README', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(
    readme.indexOf('## Environment variables'),
    readme.indexOf('\n## ', readme.indexOf('## Environment variables') + 1),
  );
  const rows = section.split('\n').filter((line) => line.startsWith('| `TOKENS_'));

  it('lists every declared variable with its documentation, and nothing else', () => {
    const declared = allVariables().filter((v) => !v.internal);
    expect(rows.map((row) => /^\| `(TOKENS_[A-Z_]+)`/.exec(row)![1])).toEqual(declared.map((v) => v.name));
    for (const variable of declared) {
      const row = rows.find((r) => r.startsWith(`| \`${variable.name}\``))!;
      expect(row).toContain(variable.doc);
      expect(row.includes('withheld from every child process')).toBe(Boolean(variable.secret));
    }
  });
});
