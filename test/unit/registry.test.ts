// The registry is the one list of providers: a fourth descriptor, and no other edit, reaches the
// config schema, the command line (its parser, help and completion words) and the variables that no
// child process sees.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { completionScript } from '../../src/cli/completion-scripts.js';
import { loadConfig } from '../../src/files/config.js';
import { checkEnv } from '../../src/model/env.js';
import { UsageError } from '../../src/base/errors.js';
import { resolvePaths } from '../../src/model/paths.js';
import { allVariables, childEnvironment, PROVIDERS, withheldVariables } from '../../src/providers/registry.js';
import type { ProviderDescriptor } from '../../src/model/model.js';

const fourth: ProviderDescriptor = {
  id: 'songstats',
  title: 'Songstats',
  envPrefix: 'SONGSTATS',
  authScheme: 'Bearer',
  modes: ['api_key'],
  endpoints: {
    token: { env: 'TOKENS_SONGSTATS_TOKEN_URL', default: 'https://api.songstats.example/token' },
    api: { env: 'TOKENS_SONGSTATS_API_URL', default: 'https://api.songstats.example' },
  },
  secrets: [{ name: 'api_key', env: 'TOKENS_SONGSTATS_API_KEY', label: 'Songstats API key' }],
  loadAdapter: async () => {
    throw new Error('not needed here');
  },
};
const registry = [...PROVIDERS, fourth];

function configWith(provider: string) {
  const home = mkdtempSync(join(tmpdir(), 'tokens-registry-'));
  const paths = resolvePaths({ HOME: home });
  mkdirSync(paths.configDir, { recursive: true });
  writeFileSync(
    join(paths.configDir, 'config.json'),
    JSON.stringify({ version: 1, profiles: { default: { [provider]: { mode: 'api_key' } } } }),
  );
  return paths;
}

describe('a fourth provider in the registry', () => {
  it('is accepted by the config schema, which refuses it without the registry entry', async () => {
    const paths = configWith('songstats');
    await expect(loadConfig({ paths, providers: registry })).resolves.toMatchObject({
      profiles: { default: { songstats: { mode: 'api_key' } } },
    });
    await expect(loadConfig({ paths, providers: PROVIDERS })).rejects.toThrow(UsageError);
  });

  it('has its secret variables withheld from every child, and its endpoint variable checked', () => {
    const env = {
      TOKENS_SONGSTATS_API_KEY: 'ss-actual-secret',
      TOKENS_SONGSTATS_TOKEN_URL: 'https://x.example/t',
      PATH: '/bin',
    };
    expect(withheldVariables(registry).has('TOKENS_SONGSTATS_API_KEY')).toBe(true);
    expect(withheldVariables(PROVIDERS).has('TOKENS_SONGSTATS_API_KEY')).toBe(false);
    expect(childEnvironment(env, registry)).toEqual({
      TOKENS_SONGSTATS_TOKEN_URL: 'https://x.example/t',
      PATH: '/bin',
    });
    expect(() => checkEnv({ TOKENS_SONGSTATS_TOKEN_URL: 'http://example.com/t' }, allVariables(registry))).toThrow(
      /TOKENS_SONGSTATS_TOKEN_URL/,
    );
  });

  it('is a provider on the command line: parsed, in the help, and offered by every completion script', () => {
    const out: string[] = [];
    const program = buildProgram(
      { writeOut: (t) => out.push(t), writeErr: (t) => out.push(t), env: {}, providers: registry },
      () => undefined,
      '0.0.0',
    );
    let parsed = false;
    const parsing = buildProgram(
      { writeOut: () => undefined, writeErr: () => undefined, env: {}, providers: registry },
      () => (parsed = true),
      '0.0.0',
    );
    parsing.parse(['get', 'songstats'], { from: 'user' });
    expect(parsed).toBe(true);
    expect(program.helpInformation()).toContain('Songstats');
    const login = program.commands.find((c) => c.name() === 'login')!;
    let loginHelp = '';
    login.configureOutput({ writeOut: (t) => (loginHelp += t) });
    login.outputHelp();
    expect(loginHelp).toContain('TOKENS_SONGSTATS_API_KEY');
    for (const shell of ['bash', 'zsh', 'fish'] as const)
      expect(completionScript(shell, program)).toContain('songstats');
    expect(
      completionScript(
        'bash',
        buildProgram({ writeOut: () => undefined, writeErr: () => undefined, env: {} }, () => undefined, '0'),
      ),
    ).not.toContain('songstats');
  });
});
