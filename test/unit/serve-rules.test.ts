// The pure rules of `tokens serve` (src/serve/rules.ts), in tables.
import { describe, expect, it } from 'vitest';
import type { ApiBase } from '../../src/api/api-url.js';
import { parseListen } from '../../src/commands/serve.js';
import {
  forwardedHeaders,
  hostAllowed,
  keyMatches,
  rewriteLink,
  rewritePage,
  routeOf,
  upstreamUrl,
  type Listening,
} from '../../src/serve/rules.js';

const KEY = 'k'.repeat(43);
const PROVIDERS = ['soundcloud', 'chartmetric', 'soundcharts'];

describe('keyMatches', () => {
  it.each([
    [KEY, true],
    [`${KEY}x`, false],
    [KEY.slice(1), false],
    ['', false],
    [`${'k'.repeat(42)}K`, false],
  ])('%s → %s', (given, expected) => expect(keyMatches(given, KEY)).toBe(expected));
});

describe('hostAllowed', () => {
  const tcp: Listening = { kind: 'tcp', host: '127.0.0.2', port: 8787 };
  it.each<[string | undefined, Listening, boolean]>([
    ['127.0.0.2:8787', tcp, true],
    ['localhost:8787', tcp, true],
    ['LOCALHOST:8787', tcp, true],
    ['127.0.0.1:8787', tcp, true],
    ['[::1]:8787', tcp, true],
    ['localhost', tcp, false],
    ['localhost:8788', tcp, false],
    ['evil.example:8787', tcp, false],
    ['127.0.0.2.nip.io:8787', tcp, false],
    [undefined, tcp, false],
    ['localhost', { kind: 'socket' }, true],
    ['localhost:80', { kind: 'socket' }, true],
    ['evil.example', { kind: 'socket' }, false],
    ['[::1]:9000', { kind: 'tcp', host: '::1', port: 9000 }, true],
  ])('%s on %j → %s', (host, listening, expected) => expect(hostAllowed(host, listening)).toBe(expected));
});

describe('routeOf', () => {
  it.each([
    [
      `/${KEY}/chartmetric/api/artist/1?x=y`,
      { kind: 'api', provider: 'chartmetric', path: '/api/artist/1', search: '?x=y' },
    ],
    [`/${KEY}/soundcloud`, { kind: 'api', provider: 'soundcloud', path: '', search: '' }],
    [`/${KEY}/token/soundcloud?min_ttl=5`, { kind: 'token', provider: 'soundcloud', search: '?min_ttl=5' }],
    [`/${KEY}/health`, { kind: 'health' }],
    [`/${KEY}`, { kind: 'none' }],
    ['/chartmetric/api/artist/1', { kind: 'none' }],
    [`/${KEY}x/chartmetric/x`, { kind: 'none' }],
    [`/${KEY}/spotify/x`, { kind: 'none' }],
    [`/${KEY}/token/spotify`, { kind: 'none' }],
    [`http://127.0.0.1/${KEY}/chartmetric/x`, { kind: 'none' }],
    [`/${KEY}/chartmetric/../soundcloud/me`, { kind: 'outside' }],
    [`/${KEY}/chartmetric/api/./x`, { kind: 'outside' }],
    [`/${KEY}/chartmetric/api/%2e%2e/x`, { kind: 'outside' }],
    [`/${KEY}/chartmetric/api/%2E./x`, { kind: 'outside' }],
    [`/${KEY}/chartmetric/api/..%2fx`, { kind: 'outside' }],
    [`/${KEY}/chartmetric/api/..%5cx`, { kind: 'outside' }],
    [`/${KEY}/chartmetric/api/%252e%252e/x`, { kind: 'outside' }],
    [`/${KEY}/chartmetric/api\\..\\x`, { kind: 'outside' }],
  ])('%s', (target, expected) => expect(routeOf(target, KEY, PROVIDERS)).toEqual(expected));

  it('needs no key on a unix socket', () => {
    expect(routeOf('/chartmetric/api/artist/1', undefined, PROVIDERS)).toMatchObject({
      kind: 'api',
      provider: 'chartmetric',
    });
    expect(routeOf('/health', undefined, PROVIDERS)).toEqual({ kind: 'health' });
  });
});

const BASE: ApiBase = { origin: 'https://api.example', path: '/v1', href: 'https://api.example/v1' };
const SERVER = 'http://127.0.0.1:8787/KEY/soundcloud';

describe('upstreamUrl', () => {
  it('appends the path and query to the base', () => {
    expect(upstreamUrl(BASE, '/me', '?a=1')?.href).toBe('https://api.example/v1/me?a=1');
    expect(upstreamUrl(BASE, '', '')?.href).toBe('https://api.example/v1/');
  });
});

describe('rewriteLink', () => {
  const current = new URL('https://api.example/v1/tracks?page=1');
  it.each<[string, boolean, string | undefined]>([
    ['https://api.example/v1/tracks?cursor=2', false, `${SERVER}/tracks?cursor=2`],
    ['/v1/me', false, `${SERVER}/me`],
    ['https://cdn.example/media/1.mp3?sig=x', false, undefined],
    ['https://api.example/v2/other', false, undefined],
    ['https://api.example/v1/../v2/x', false, undefined],
    ['https://user:pw@api.example/v1/me', false, undefined],
    ['/tracks?cursor=3', true, `${SERVER}/tracks?cursor=3`],
    ['/tracks?cursor=3', false, undefined],
    ['//evil.example/v1/x', true, undefined],
  ])('%s (as a page: %s) → %s', (link, asPage, expected) =>
    expect(rewriteLink(BASE, current, link, SERVER, { asPage })).toBe(expected),
  );
});

describe('rewritePage', () => {
  const rewrite = (link: string) =>
    rewriteLink(BASE, new URL('https://api.example/v1/x'), link, SERVER, { asPage: true });
  it('rewrites SoundCloud next_href in place, the other bytes as they came', () => {
    const text = '{"collection": [1,2],  "next_href":"https://api.example/v1/tracks?cursor=9"}';
    expect(rewritePage(text, rewrite)).toBe(`{"collection": [1,2],  "next_href":"${SERVER}/tracks?cursor=9"}`);
  });
  it('rewrites Soundcharts page.next, written with escaped slashes', () => {
    const text = '{"items":[],"page":{"next":"\\/v1\\/songs?offset=2","previous":null}}';
    expect(JSON.parse(rewritePage(text, rewrite)!)).toEqual({
      items: [],
      page: { next: `${SERVER}/songs?offset=2`, previous: null },
    });
  });
  it.each([
    '{"next_href":"https://cdn.example/x"}',
    '{"collection":[]}',
    '[1,2]',
    'not json',
    '{"page":{"next":null}}',
  ])('leaves %s alone', (text) => expect(rewritePage(text, rewrite)).toBeUndefined());
});

describe('forwardedHeaders', () => {
  it("drops the caller's credentials and the hop-by-hop headers", () => {
    expect(
      forwardedHeaders({
        authorization: 'Bearer mine',
        'x-app-id': 'a',
        'x-api-key': 'b',
        host: 'localhost:1',
        connection: 'keep-alive, x-private',
        'x-private': 'p',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        te: 'trailers',
        upgrade: 'h2c',
        'proxy-authorization': 'Basic x',
        'content-length': '3',
        accept: 'application/json',
        'x-custom': ['1', '2'],
      }),
    ).toEqual({ accept: 'application/json', 'x-custom': '1, 2' });
  });
});

describe('parseListen', () => {
  it.each([
    ['127.0.0.1:0', { host: '127.0.0.1', shown: '127.0.0.1', port: 0 }],
    ['127.1.2.3:8787', { host: '127.1.2.3', shown: '127.1.2.3', port: 8787 }],
    ['localhost:80', { host: '127.0.0.1', shown: 'localhost', port: 80 }],
    ['[::1]:9000', { host: '::1', shown: '[::1]', port: 9000 }],
  ])('%s', (value, expected) => expect(parseListen(value)).toEqual(expected));
  it.each(['0.0.0.0:80', '[::]:80', '10.0.0.1:80', 'example.com:80', '127.0.0.1', '127.0.0.1:70000', '127.0.0.300:1'])(
    '%s is a usage error',
    (value) => expect(() => parseListen(value)).toThrow(/listen/),
  );
});
