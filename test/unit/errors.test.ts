import { describe, expect, it } from 'vitest';
import { CommanderError } from 'commander';
import { exitCodeFor } from '../../src/cli/runner.js';
import {
  CredentialsRejectedError,
  describeError,
  LoginError,
  NotConfiguredError,
  StoreError,
  UnavailableError,
  UsageError,
} from '../../src/base/errors.js';

describe('error → exit code, in one place', () => {
  it.each([
    [new UsageError('x'), 2],
    [new NotConfiguredError('x'), 3],
    [new CredentialsRejectedError('x'), 4],
    [new UnavailableError('x'), 5],
    [new StoreError('x'), 6],
    [new LoginError('x'), 7],
    [new CommanderError(1, 'commander.unknownOption', 'x'), 2],
    [new CommanderError(0, 'commander.helpDisplayed', 'x'), 0],
    [new TypeError('bug'), 1],
  ])('%s → %d', (error, code) => expect(exitCodeFor(error)).toBe(code));

  it('prints one line with the hint', () => {
    expect(
      describeError(
        new NotConfiguredError('chartmetric is not configured', { hint: 'Run `tokens login chartmetric`.' }),
        false,
      ),
    ).toBe('tokens: chartmetric is not configured. Run `tokens login chartmetric`.\n');
  });

  it('quoted input with control characters stays one inert line: they are shown as escapes', () => {
    expect(describeError(new UsageError('-H takes \'Name: value\', not "a\nb\u001b[2J\u202e"'), false)).toBe(
      'tokens: -H takes \'Name: value\', not "a\\u000ab\\u001b[2J\\u202e"\n',
    );
  });

  it('hides the stack of a bug unless verbose', () => {
    const text = describeError(new TypeError('boom'), false);
    expect(text.split('\n').filter(Boolean)).toHaveLength(1);
    expect(text).not.toContain('at ');
    expect(describeError(new TypeError('boom'), true)).toContain('boom');
  });
});
