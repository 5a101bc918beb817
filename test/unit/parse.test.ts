import { describe, expect, it } from 'vitest';
import { parseProfile, parseProvider, parseSeconds, parseWholeNumber } from '../../src/cli/parse.js';
import { MAX_TIMEOUT_SECONDS } from '../../src/model/env.js';
import { checkEndpointUrl, isLoopbackHost } from '../../src/model/endpoints.js';

describe('parseProvider', () => {
  it.each(['soundcloud', 'chartmetric', 'soundcharts'])('knows %s', (p) => expect(parseProvider(p).id).toBe(p));
  it('lists the known providers for an unknown one', () => {
    expect(() => parseProvider('spotify')).toThrow(/known providers: soundcloud, chartmetric, soundcharts/);
  });
});

describe('parseProfile', () => {
  it.each([
    [undefined, 'default'],
    ['', 'default'],
    ['staging', 'staging'],
    ['prod_2-eu', 'prod_2-eu'],
  ])('%j → %j', (input, expected) => expect(parseProfile(input)).toBe(expected));
  it.each(['../etc', '.hidden', 'a/b', 'x'.repeat(65), 'with space'])('refuses %j', (input) => {
    expect(() => parseProfile(input)).toThrow(expect.objectContaining({ exitCode: 2 }));
  });
});

describe('parseWholeNumber', () => {
  it.each([
    ['0', 0],
    ['60', 60],
    ['3600', 3600],
  ])('%s → %d', (input, n) => expect(parseWholeNumber(input, '--min-ttl')).toBe(n));
  it.each(['-1', '1.5', 'abc', '', '1e3'])('refuses %j', (input) => {
    expect(() => parseWholeNumber(input, '--min-ttl')).toThrow(
      expect.objectContaining({ exitCode: 2, message: expect.stringContaining('--min-ttl') }),
    );
  });
  it('honours a minimum', () => expect(() => parseWholeNumber('0', '--timeout', { min: 1 })).toThrow(/--timeout/));
});

describe('parseSeconds: seconds that set a timer', () => {
  it('accepts up to the longest timeout any variable may set', () => {
    expect(parseSeconds('0', '--max-wait')).toBe(0);
    expect(parseSeconds(String(MAX_TIMEOUT_SECONDS), '--max-wait')).toBe(MAX_TIMEOUT_SECONDS);
  });
  it.each(['3601', '99999999', '9'.repeat(30)])(
    'refuses %s: a timer that long overflows and fires at once',
    (input) => {
      expect(() => parseSeconds(input, '--max-wait')).toThrow(
        expect.objectContaining({
          exitCode: 2,
          message: `--max-wait takes a whole number from 0 to ${MAX_TIMEOUT_SECONDS}, not "${input}"`,
        }),
      );
    },
  );
});

describe('endpoint overrides', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['localhost', true],
    ['[::1]', true],
    ['10.0.0.1', false],
    ['example.com', false],
    ['127.0.0.1.nip.io', false],
  ])('isLoopbackHost(%s) = %s', (host, expected) => expect(isLoopbackHost(host)).toBe(expected));

  it.each([
    ['https://example.com/token', true],
    ['http://127.0.0.1:9/token', true],
    ['http://localhost:9/token', true],
    ['http://example.com/token', false],
    ['ftp://example.com/token', false],
    ['not a url', false],
  ])('%s accepted: %s', (url, ok) => {
    if (ok) expect(checkEndpointUrl(url, 'TOKENS_X_URL')).toBe(new URL(url).toString());
    else
      expect(() => checkEndpointUrl(url, 'TOKENS_X_URL')).toThrow(
        expect.objectContaining({ exitCode: 2, message: expect.stringContaining('TOKENS_X_URL') }),
      );
  });
});
