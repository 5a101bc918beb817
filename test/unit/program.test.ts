// The command line: --profile before or after the command, and Commander's own errors in the CLI's
// one-line style with exit 2.
import { describe, expect, it } from 'vitest';
import { buildProgram, commanderErrorLine, type ParsedCommand } from '../../src/cli/program.js';
import { main } from '../../src/main.js';
import type { IO } from '../../src/broker/deps.js';
import { PassThrough } from 'node:stream';

/** The profile the parsed command runs with, as its "not configured" error names it. (TOKENS_PROFILE is read by Commander from process.env: test/cli/fast-path.test.ts covers it through the CLI.) */
async function parsedProfile(argv: string[], env: Record<string, string> = {}): Promise<string> {
  let parsed: ParsedCommand | undefined;
  const program = buildProgram({ writeOut: () => undefined, writeErr: () => undefined, env }, (p) => (parsed = p), '0');
  await program.parseAsync(argv, { from: 'user' });
  // status with a provider that is not configured: the run function reads the profile first.
  const home = `/nonexistent-${process.pid}`;
  const stderr = new PassThrough();
  let text = '';
  stderr.on('data', (d: Buffer) => (text += d.toString()));
  const io = {
    stdout: new PassThrough(),
    stderr,
    stdin: new PassThrough(),
    stdinIsTTY: false,
    stderrIsTTY: false,
    stdoutIsTTY: false,
  } as unknown as IO;
  const { realDeps } = await import('../../src/cli/runner.js');
  await parsed!
    .invocation(realDeps(io, { HOME: home, XDG_CONFIG_HOME: `${home}/c` }, false))
    .catch((e: Error) => (text += e.message));
  return /profile "([^"]+)"/.exec(text)?.[1] ?? text;
}

describe('--profile', () => {
  it.each([
    [['status', 'chartmetric'], {}, 'default'],
    [['status', 'chartmetric', '--profile', 'staging'], {}, 'staging'],
    [['--profile', 'staging', 'status', 'chartmetric'], {}, 'staging'],
    [['--profile=staging', 'status', 'chartmetric'], {}, 'staging'],
    // After the command is closer to it, and wins.
    [['--profile', 'before', 'status', 'chartmetric', '--profile', 'after'], {}, 'after'],
    // Every command that reads a profile, with --profile before and after its name.
    ...[
      ['get', 'chartmetric'],
      ['exec', '--provider', 'chartmetric', '--', 'true'],
      ['api', 'chartmetric', '/api/artist/1'],
      ['logout', 'chartmetric'],
      ['serve', '--provider', 'chartmetric'],
    ].flatMap((command): Array<[string[], Record<string, string>, string]> => {
      const [name, ...rest] = command;
      const dashes = rest.indexOf('--');
      const own = dashes < 0 ? rest : rest.slice(0, dashes);
      const after = dashes < 0 ? [] : rest.slice(dashes);
      return [
        [['--profile', 'staging', name!, ...rest], {}, 'staging'],
        [[name!, ...own, '--profile', 'staging', ...after], {}, 'staging'],
        [[name!, ...rest], {}, 'default'],
      ];
    }),
  ] as Array<[string[], Record<string, string>, string]>)('%j (env %j) → profile %s', async (argv, env, expected) => {
    expect(await parsedProfile(argv, env)).toBe(expected);
  });
});

describe("Commander's errors", () => {
  it.each([
    ["error: unknown option '--bogus'\n", 'tokens get', "tokens: unknown option '--bogus'. See 'tokens get --help'.\n"],
    [
      "error: unknown option '--profil'\n(Did you mean --profile?)\n",
      'tokens get',
      "tokens: unknown option '--profil' (did you mean --profile?). See 'tokens get --help'.\n",
    ],
    [
      "error: unknown command 'gte'\n(Did you mean get?)\n",
      'tokens',
      "tokens: unknown command 'gte' (did you mean get?). See 'tokens --help'.\n",
    ],
    [
      "error: missing required argument 'provider'\n",
      'tokens login',
      "tokens: missing required argument 'provider'. See 'tokens login --help'.\n",
    ],
  ])('%j → one line', (text, path, expected) => {
    expect(commanderErrorLine(text, path)).toBe(expected);
  });

  it.each([
    [['get', 'chartmetric', '--bogus'], /^tokens: unknown option '--bogus'\. See 'tokens get --help'\.\n$/],
    [['--bogus', 'get', 'chartmetric'], /^tokens: unknown option '--bogus'\. See 'tokens --help'\.\n$/],
    [['frobnicate'], /^tokens: unknown command 'frobnicate'\. See 'tokens --help'\.\n$/],
    [['get'], /^tokens: missing required argument 'provider'\. See 'tokens get --help'\.\n$/],
    [['status', 'chartmetric', 'extra'], /^tokens: too many arguments for 'status'.*See 'tokens status --help'\.\n$/],
  ])('main %j: exit 2 and exactly one line on stderr', async (argv, line) => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (d: Buffer) => (out += d.toString()));
    stderr.on('data', (d: Buffer) => (err += d.toString()));
    const io = {
      stdout,
      stderr,
      stdin: new PassThrough(),
      stdinIsTTY: false,
      stderrIsTTY: false,
      stdoutIsTTY: false,
    } as unknown as IO;
    expect(await main(argv, io, { HOME: '/nonexistent' })).toBe(2);
    expect(out).toBe('');
    expect(err).toMatch(line);
  });
});

describe('help', () => {
  it.each([['get'], ['exec']])(
    '%s --help gives the --min-ttl default as the README does (issue 22, first hour 11)',
    (name) => {
      let out = '';
      const program = buildProgram(
        { writeOut: (t: string) => (out += t), writeErr: () => undefined, env: {} },
        () => undefined,
        '0',
      );
      const command = program.commands.find((c) => c.name() === name)!;
      out = command.helpInformation();
      expect(out.replace(/\s+/g, ' ')).toContain('(default: 60, or half the lifetime when shorter)');
      expect(out).not.toContain('(default: "60")');
    },
  );
});
