// Commands are data (src/cli/commands.ts): a spec, and no other edit, makes a command that both
// drivers read the same way, with the global options resolved once for it, in the help and in every
// completion script. A throwaway command shows it, as registry.test.ts does for a fourth provider.
import { describe, expect, it } from 'vitest';
import { commandSpec, commandSpecs } from '../../src/cli/commands.js';
import { completionScript } from '../../src/cli/completion-scripts.js';
import { buildProgram, type ParsedCommand } from '../../src/cli/program.js';
import { scanCommandLine } from '../../src/cli/scan.js';
import { GLOBAL_OPTIONS, optionKey, type AnyCommandSpec, type CommandSpec } from '../../src/cli/spec.js';
import { planFastPath } from '../../src/fast.js';
import { parseProvider } from '../../src/cli/parse.js';
import { PROVIDERS } from '../../src/providers/registry.js';
import { Option } from 'commander';

interface EchoOptions {
  provider: string;
  profile: string;
  shout: boolean;
  times: number;
  tags: readonly string[];
}

/** `tokens echo PROVIDER [--shout] [--times N] [--tag T]…`: answers warm with what it was given. */
const echo: CommandSpec<EchoOptions> = {
  name: 'echo',
  group: 'Tokens:',
  help: () => ({ summary: 'say what was asked (a test command)', examples: ['tokens echo chartmetric --shout'] }),
  arguments: [{ name: '<provider>', help: 'a provider', completes: { kind: 'values', values: ['chartmetric'] } }],
  options: [
    { flags: '--shout', help: 'louder' },
    { flags: '--times <n>', help: 'how often', default: { value: '1' } },
    { flags: '-t, --tag <tag>', help: 'a tag (repeatable)', repeatable: true },
  ],
  toOptions: (parsed) => ({
    provider: parseProvider(parsed.args[0] as string).id,
    profile: parsed.profile,
    shout: parsed.flag('shout') ?? false,
    times: Number(parsed.text('times')),
    tags: parsed.list('tag'),
  }),
  run: async () => 0,
  warm: async (options) => ({ stdout: `${JSON.stringify(options)}\n`, code: 0 }),
};
const specs: AnyCommandSpec[] = [...commandSpecs(PROVIDERS), echo];

const silent = () => undefined;
async function fullProgramParse(argv: string[], env: Record<string, string> = {}): Promise<ParsedCommand> {
  let parsed: ParsedCommand | undefined;
  const program = buildProgram({ writeOut: silent, writeErr: silent, env, commands: specs }, (p) => (parsed = p), '0');
  await program.parseAsync(argv, { from: 'user' });
  return parsed!;
}

describe('a command from its spec alone', () => {
  it('is in the help, with its options and examples, and the global options', () => {
    let help = '';
    const program = buildProgram(
      { writeOut: (t) => (help += t), writeErr: silent, env: {}, commands: specs },
      silent,
      '0',
    );
    expect(program.helpInformation()).toMatch(/echo \[options\] <provider>\s+say what was asked/);
    const command = program.commands.find((c) => c.name() === 'echo')!;
    command.outputHelp();
    for (const text of ['--shout', '--times <n>', '(default: "1")', '-t, --tag <tag>', '--profile <name>', '--verbose'])
      expect(help).toContain(text);
    expect(help).toContain('tokens echo chartmetric --shout');
  });

  it('is offered by every completion script, with its options', () => {
    const program = buildProgram({ writeOut: silent, writeErr: silent, env: {}, commands: specs }, silent, '0');
    for (const shell of ['bash', 'zsh', 'fish'] as const) {
      const script = completionScript(shell, program);
      expect(script, shell).toContain('echo');
      expect(script, shell).toContain('shout');
      expect(script, shell).toContain('times');
    }
  });

  it.each<[string[], Record<string, string>, Partial<EchoOptions>]>([
    [['echo', 'chartmetric'], {}, { profile: 'default', shout: false, times: 1, tags: [] }],
    [['echo', 'chartmetric', '--shout', '--times', '3'], {}, { shout: true, times: 3 }],
    [['echo', '--times=2', 'chartmetric', '-t', 'a', '--tag', 'b'], {}, { times: 2, tags: ['a', 'b'] }],
    // --profile after the command, before it, TOKENS_PROFILE, the default: resolved once, for both drivers.
    [['echo', 'chartmetric', '--profile', 'after'], { TOKENS_PROFILE: 'env' }, { profile: 'after' }],
    [['--profile', 'before', 'echo', 'chartmetric'], { TOKENS_PROFILE: 'env' }, { profile: 'before' }],
    [['--profile', 'before', 'echo', 'chartmetric', '--profile', 'after'], {}, { profile: 'after' }],
    [['echo', 'chartmetric'], { TOKENS_PROFILE: 'env' }, { profile: 'env' }],
  ])('%j (env %j): both drivers give its run the same options', async (argv, env, expected) => {
    const full = await fullProgramParse(argv, env);
    expect(full.command).toBe('echo');
    expect(full.options).toMatchObject(expected);
    const plan = planFastPath(argv, env, specs);
    expect(plan).toMatchObject({ command: 'warm', spec: { name: 'echo' } });
    expect(plan?.command === 'warm' && plan.options).toEqual(full.options);
  });

  it('--verbose on either side reaches the full program, and leaves the fast path out', async () => {
    expect((await fullProgramParse(['-v', 'echo', 'chartmetric'])).verbose).toBe(true);
    expect((await fullProgramParse(['echo', 'chartmetric', '--verbose'])).verbose).toBe(true);
    expect((await fullProgramParse(['echo', 'chartmetric'])).verbose).toBe(false);
    expect(planFastPath(['-v', 'echo', 'chartmetric'], {}, specs)).toBeUndefined();
    expect(planFastPath(['echo', 'chartmetric', '--verbose'], {}, specs)).toBeUndefined();
  });

  it('is not read by the fast path without a warm answer', () => {
    const { warm: _warm, ...cold } = echo;
    expect(planFastPath(['echo', 'chartmetric'], {}, [...commandSpecs(PROVIDERS), cold])).toBeUndefined();
  });
});

/** A valid command line for a spec: a sample for each argument, and exec's command after `--`. */
function sampleLine(spec: AnyCommandSpec): { own: string[]; after: string[] } {
  const own: string[] = [];
  const after: string[] = [];
  for (const { name } of spec.arguments) {
    if (name.includes('...')) after.push('--', 'true');
    else if (name.includes('provider')) own.push('chartmetric');
    else if (name.includes('shell')) own.push('bash');
    else own.push('/x');
  }
  return { own, after };
}

describe('every command, with the global options', () => {
  const visible = commandSpecs(PROVIDERS).filter((spec) => !spec.hidden);
  it.each(
    visible.flatMap((spec) => {
      const { own, after } = sampleLine(spec);
      const rows: Array<[string, string[], Record<string, string>, string]> = [
        [spec.name, [spec.name, ...own, ...after], {}, 'default'],
        [spec.name, ['--profile', 'before', spec.name, ...own, ...after], { TOKENS_PROFILE: 'env' }, 'before'],
        [spec.name, [spec.name, ...own, '--profile', 'after', ...after], { TOKENS_PROFILE: 'env' }, 'after'],
        [spec.name, ['--profile', 'before', spec.name, ...own, '--profile', 'after', ...after], {}, 'after'],
        [spec.name, [spec.name, ...own, ...after], { TOKENS_PROFILE: 'env' }, 'env'],
      ];
      return rows;
    }),
  )('%s: %j (env %j) runs with profile %s', async (name, argv, env, expected) => {
    const parsed = await fullProgramParse(argv, env);
    expect(parsed.command).toBe(name);
    // completion prints a script and has no profile of its own; the rest run with the one resolved.
    if (name !== 'completion') expect((parsed.options as { profile?: string }).profile).toBe(expected);
    const plan = planFastPath(argv, env);
    if (plan?.command === 'warm') expect(plan.options).toEqual(parsed.options);
  });
});

describe('the specs', () => {
  it('are found one by one as in the whole list', () => {
    for (const spec of commandSpecs(PROVIDERS)) expect(commandSpec(spec.name, PROVIDERS)?.name).toBe(spec.name);
    expect(commandSpec('toString', PROVIDERS)).toBeUndefined();
    expect(commandSpec('bogus', PROVIDERS)).toBeUndefined();
  });

  it('name each option by the key Commander gives it', () => {
    for (const spec of [...commandSpecs(PROVIDERS), echo])
      for (const option of [...GLOBAL_OPTIONS, ...spec.options])
        expect(optionKey(option.flags), option.flags).toBe(new Option(option.flags).attributeName());
  });

  it.each<[string[], boolean]>([
    [['get', 'chartmetric'], true],
    [['get', 'chartmetric', '-XPOST'], false],
    [['api', 'chartmetric', '/x', '-XPOST'], false],
    [['get', 'chartmetric', '--format', '-x'], false],
    [['get', 'chartmetric', '--format', 'yaml'], false],
    [['status', '--json=1'], false],
    [['exec', 'true'], false],
    [['exec', '--', 'true'], true],
    [['get', '--', 'chartmetric'], false],
    [['__complete', 'profiles'], false],
    [['get', 'chartmetric', 'extra'], false],
    [['get'], false],
  ])('the scanner reads %j: %s (otherwise the full program does)', (argv, read) => {
    expect(scanCommandLine(argv, (name) => commandSpec(name, PROVIDERS), PROVIDERS, {}) !== undefined).toBe(read);
  });
});
