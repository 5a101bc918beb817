import { describe, expect, it } from 'vitest';
import { credentialEnv, formatCredential, parseFormat, shellQuote } from '../../src/model/format.js';
import { soundcloud } from '../../src/providers/soundcloud/index.js';
import { chartmetric } from '../../src/providers/chartmetric/index.js';
import { soundcharts } from '../../src/providers/soundcharts/index.js';
import { soundchartsAdapter } from '../../src/providers/soundcharts/adapter.js';
import type { Credential } from '../../src/model/model.js';

const token = (access_token: string): Credential => ({
  kind: 'token',
  token: { access_token, token_type: 'bearer', expires_at: Date.UTC(2030, 0, 1) },
});
const legacy: Credential = {
  kind: 'static',
  credentials: soundchartsAdapter.staticCredentials!({ mode: 'legacy', app_id: 'APP' }, { api_key: 'KEY' })!,
};

describe('formatCredential', () => {
  it.each([
    ['token', soundcloud, token('T1'), 'T1\n'],
    ['header', soundcloud, token('T1'), 'Authorization: OAuth T1\n'],
    ['header', chartmetric, token('T2'), 'Authorization: Bearer T2\n'],
    ['header', soundcharts, token('T3'), 'Authorization: Bearer T3\n'],
    [
      'env',
      soundcloud,
      token('T1'),
      "export SOUNDCLOUD_ACCESS_TOKEN='T1'\nexport SOUNDCLOUD_AUTHORIZATION='OAuth T1'\n",
    ],
    [
      'env',
      chartmetric,
      token("a'b"),
      "export CHARTMETRIC_ACCESS_TOKEN='a'\\''b'\nexport CHARTMETRIC_AUTHORIZATION='Bearer a'\\''b'\n",
    ],
    ['header', soundcharts, legacy, 'x-app-id: APP\nx-api-key: KEY\n'],
    ['env', soundcharts, legacy, "export SOUNDCHARTS_APP_ID='APP'\nexport SOUNDCHARTS_API_KEY='KEY'\n"],
  ] as const)('%s for %s', (format, provider, credential, expected) => {
    expect(formatCredential(format, provider, 'default', credential)).toBe(expected);
  });

  it('json carries the documented fields with an ISO expiry', () => {
    const out = JSON.parse(formatCredential('json', chartmetric, 'staging', token('T2')));
    expect(out).toEqual({
      provider: 'chartmetric',
      profile: 'staging',
      access_token: 'T2',
      token_type: 'Bearer',
      expires_at: '2030-01-01T00:00:00.000Z',
    });
  });

  it('json for legacy Soundcharts has mode, app_id and api_key', () => {
    expect(JSON.parse(formatCredential('json', soundcharts, 'default', legacy))).toEqual({
      provider: 'soundcharts',
      profile: 'default',
      mode: 'legacy',
      app_id: 'APP',
      api_key: 'KEY',
    });
  });

  it('token format is a usage error in legacy mode, pointing to header and env', () => {
    expect(() => formatCredential('token', soundcharts, 'default', legacy)).toThrow(
      expect.objectContaining({ exitCode: 2, hint: expect.stringContaining('--format header') }),
    );
  });

  it('exec variables match the env format', () => {
    expect(credentialEnv(soundcloud, token('X'))).toEqual([
      ['SOUNDCLOUD_ACCESS_TOKEN', 'X'],
      ['SOUNDCLOUD_AUTHORIZATION', 'OAuth X'],
    ]);
  });
});

describe('parseFormat and shellQuote', () => {
  it.each(['token', 'header', 'json', 'env'])('accepts %s', (f) => expect(parseFormat(f)).toBe(f));
  it.each(['', 'TOKEN', 'yaml'])('refuses %j with exit 2', (f) =>
    expect(() => parseFormat(f)).toThrow(expect.objectContaining({ exitCode: 2 })),
  );
  it.each([
    ['plain', "'plain'"],
    ["it's", "'it'\\''s'"],
    ['$HOME `x`', "'$HOME `x`'"],
  ])('quotes %j', (input, expected) => expect(shellQuote(input)).toBe(expected));
});
