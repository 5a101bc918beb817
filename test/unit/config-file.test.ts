// config.json's hand check (src/files/config-file.ts) stands in for the zod schema (src/core/config-
// schema.ts) on the fast path and in loadConfig. It may be stricter than the schema (a config it is
// unsure of goes to zod), never looser, and what it accepts it accepts unchanged: checked here on
// the configs login writes, on hand-picked bad ones, and on eight thousand generated ones.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCertainlyValidConfig, readConfigQuickly } from '../../src/files/config-file.js';
import { configSchema } from '../../src/files/config-schema.js';
import { loadConfig } from '../../src/files/config.js';
import { resolvePaths, type Paths } from '../../src/model/paths.js';
import { PROVIDERS } from '../../src/providers/registry.js';

const ConfigFile = configSchema(PROVIDERS);
const isCertain = (data: unknown) => isCertainlyValidConfig(data, PROVIDERS);

/** What `tokens login` writes, one provider of each mode. */
const WRITTEN = {
  version: 1,
  profiles: {
    default: {
      chartmetric: { mode: 'refresh_token', store: 'file' },
      soundcharts: { mode: 'client_credentials', client_id: 'sc-client', team_id: 'My Team', store: 'keychain' },
      soundcloud: {
        mode: 'authorization_code',
        client_id: 'scl-client',
        redirect_uri: 'http://127.0.0.1:8765/callback',
        scope: 'non-expiring',
        store: 'keychain',
      },
    },
    staging: {
      soundcharts: { mode: 'legacy', app_id: 'APP-1', store: 'file' },
      soundcloud: { mode: 'client_credentials', client_id: 'scl-client', store: 'file' },
    },
  },
};

const withSettings = (settings: unknown) => ({ version: 1, profiles: { default: { chartmetric: settings } } });
const long = (n: number) => 'x'.repeat(n);

/** Configs the schema rejects, or accepts only after changing them; the hand check must refuse each. */
const REFUSED: Array<[string, unknown]> = [
  ['not an object', []],
  ['null', null],
  ['version 2', { version: 2, profiles: {} }],
  ['version as a string', { version: '1', profiles: {} }],
  ['no profiles', { version: 1 }],
  ['an extra top-level key', { version: 1, profiles: {}, extra: true }],
  ['profiles as an array', { version: 1, profiles: [] }],
  ['a profile that is not an object', { version: 1, profiles: { default: 'x' } }],
  ['an unknown provider', { version: 1, profiles: { default: { spotify: { mode: 'x' } } } }],
  ['settings as null', withSettings(null)],
  ['no mode', withSettings({ store: 'file' })],
  ['an empty mode', withSettings({ mode: '' })],
  ['a mode of another provider', withSettings({ mode: 'legacy' })],
  ['a numeric mode', withSettings({ mode: 5 })],
  ['an unknown settings key', withSettings({ mode: 'refresh_token', refresh_token: 'secret?' })],
  ['a client id with a space', withSettings({ mode: 'refresh_token', client_id: 'a b' })],
  ['an empty client id', withSettings({ mode: 'refresh_token', client_id: '' })],
  ['a client id of 501 characters', withSettings({ mode: 'refresh_token', client_id: long(501) })],
  ['a team id of 501 characters', withSettings({ mode: 'refresh_token', team_id: long(501) })],
  ['an empty team id', withSettings({ mode: 'refresh_token', team_id: '' })],
  ['an app id with a tab', withSettings({ mode: 'refresh_token', app_id: 'a\tb' })],
  ['a redirect URI that is not a URL', withSettings({ mode: 'refresh_token', redirect_uri: 'nope' })],
  ['a relative redirect URI', withSettings({ mode: 'refresh_token', redirect_uri: '/callback' })],
  ['a redirect URI zod trims', withSettings({ mode: 'refresh_token', redirect_uri: ' http://127.0.0.1:1/cb ' })],
  [
    'a redirect URI with a newline zod drops',
    withSettings({ mode: 'refresh_token', redirect_uri: 'http://127.0.0.1:1/c\nb' }),
  ],
  ['a scope of 1001 characters', withSettings({ mode: 'refresh_token', scope: long(1001) })],
  ['store s3', withSettings({ mode: 'refresh_token', store: 's3' })],
  ['a __proto__ profile', JSON.parse('{"version":1,"profiles":{"__proto__":{"chartmetric":{"mode":"x"}}}}')],
];

describe('isCertainlyValidConfig', () => {
  it('accepts what login writes, unchanged, as the schema does', () => {
    expect(isCertain(WRITTEN)).toBe(true);
    expect(ConfigFile.parse(WRITTEN)).toEqual(WRITTEN);
    expect(isCertain({ version: 1, profiles: {} })).toBe(true);
    expect(
      isCertain(
        withSettings({
          mode: 'refresh_token',
          client_id: long(500),
          team_id: long(500),
          scope: long(1000),
          redirect_uri: 'https://example.com/cb',
        }),
      ),
    ).toBe(true);
  });

  it.each(REFUSED)('refuses %s', (_what, data) => {
    expect(isCertain(data)).toBe(false);
  });

  it('never accepts what the schema rejects or would change (generated configs)', () => {
    // A small deterministic generator: each settings field drawn from valid and invalid values.
    let seed = 42;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)]!;
    const ABSENT = Symbol('absent');
    // Mostly valid values, so that all of a config is valid often enough.
    const pools: Record<string, unknown[]> = {
      mode: [
        'refresh_token',
        'legacy',
        'client_credentials',
        'authorization_code',
        'refresh_token',
        'legacy',
        ABSENT,
        '',
        0,
        null,
        'x',
      ],
      client_id: [ABSENT, ABSENT, ABSENT, 'abc', long(500), 'abc', '', 'a b', long(501), 7, null],
      team_id: [ABSENT, ABSENT, ABSENT, 'My Team', long(500), '', long(501), false],
      app_id: [ABSENT, ABSENT, ABSENT, 'APP', ' APP', 'A\nB'],
      redirect_uri: [
        ABSENT,
        ABSENT,
        ABSENT,
        ABSENT,
        'http://127.0.0.1:1/cb',
        'https://h/x?y=1#z',
        'mailto:x',
        'http://[::1]:9/',
        'nope',
        '',
        ' http://a/ ',
        'http://a/\t',
        'http://a b/',
        1,
      ],
      scope: [ABSENT, ABSENT, ABSENT, '', 'a b c', long(1000), long(1001), []],
      store: [ABSENT, ABSENT, 'keychain', 'file', 'redis', 's3', '', null],
      extra: [ABSENT, ABSENT, ABSENT, ABSENT, ABSENT, 'x'],
    };
    let accepted = 0;
    let schemaOnly = 0;
    for (let i = 0; i < 8000; i++) {
      const settings: Record<string, unknown> = {};
      for (const [field, pool] of Object.entries(pools)) {
        const value = pick(pool);
        if (value !== ABSENT) settings[field] = value;
      }
      const provider = pick([
        'chartmetric',
        'soundcloud',
        'soundcharts',
        'chartmetric',
        'soundcloud',
        'soundcharts',
        'other',
      ]);
      const data = {
        version: pick([1, 1, 1, 1, 1, 2]),
        profiles: { [pick(['default', 'staging', 'constructor'])]: { [provider]: settings } },
      };
      const schema = ConfigFile.safeParse(data);
      if (isCertain(data)) {
        accepted++;
        expect(schema.success, JSON.stringify(data)).toBe(true);
        expect(schema.data).toEqual(data);
      } else if (schema.success) {
        schemaOnly++;
      }
    }
    // Both sides were exercised: the generator is not vacuous.
    expect(accepted).toBeGreaterThan(20);
    expect(schemaOnly).toBeGreaterThan(0);
  });
});

describe('readConfigQuickly and loadConfig', () => {
  let dir: string;
  let paths: Paths;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tokens-config-'));
    paths = resolvePaths({ HOME: dir });
    await mkdir(paths.configDir, { recursive: true, mode: 0o700 });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const write = (text: string) => writeFile(join(paths.configDir, 'config.json'), text, { mode: 0o600 });

  it('no file: the empty config, both ways', async () => {
    await rm(join(paths.configDir, 'config.json'), { force: true });
    expect(readConfigQuickly(paths, PROVIDERS)).toEqual({ version: 1, profiles: {} });
    expect(await loadConfig({ paths, providers: PROVIDERS })).toEqual({ version: 1, profiles: {} });
  });

  it('a config login wrote: the same config, both ways', async () => {
    await write(JSON.stringify(WRITTEN, null, 2));
    expect(readConfigQuickly(paths, PROVIDERS)).toEqual(WRITTEN);
    expect(await loadConfig({ paths, providers: PROVIDERS })).toEqual(WRITTEN);
  });

  it.each([
    ['truncated JSON', '{"version": 1, "prof'],
    ['a field the schema rejects', JSON.stringify(withSettings({ mode: 5 }))],
  ])('%s: undefined quickly, a usage error from loadConfig', async (_what, text) => {
    await write(text);
    expect(readConfigQuickly(paths, PROVIDERS)).toBeUndefined();
    await expect(loadConfig({ paths, providers: PROVIDERS })).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringContaining('invalid config'),
    });
  });

  it('a config only the schema accepts (it trims a URL): undefined quickly, loaded by loadConfig', async () => {
    await write(JSON.stringify(withSettings({ mode: 'refresh_token', redirect_uri: ' http://127.0.0.1:1/cb ' })));
    expect(readConfigQuickly(paths, PROVIDERS)).toBeUndefined();
    expect((await loadConfig({ paths, providers: PROVIDERS })).profiles.default?.chartmetric?.redirect_uri).toBe(
      'http://127.0.0.1:1/cb',
    );
  });
});
