import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/base/errors.js';
import { DEFAULT_REDIRECT_URI, parseRedirectUri } from '../../src/providers/soundcloud/redirect-uri.js';

describe('parseRedirectUri', () => {
  it.each([
    ['http://127.0.0.1:8976/callback', '127.0.0.1', '127.0.0.1', 8976, '/callback'],
    ['http://localhost:8976/callback', 'localhost', '127.0.0.1', 8976, '/callback'],
    ['http://[::1]:8976/callback', '::1', '::1', 8976, '/callback'],
    ['http://127.0.0.1:1/', '127.0.0.1', '127.0.0.1', 1, '/'],
    ['http://127.0.0.1:65535/a/b/c', '127.0.0.1', '127.0.0.1', 65535, '/a/b/c'],
    ['http://127.0.0.1:8976', '127.0.0.1', '127.0.0.1', 8976, '/'],
    ['HTTP://LocalHost:8976/Callback', 'localhost', '127.0.0.1', 8976, '/Callback'],
    ['http://127.0.0.1:80/cb', '127.0.0.1', '127.0.0.1', 80, '/cb'],
    ['http://127.0.0.1:8976/a%20b', '127.0.0.1', '127.0.0.1', 8976, '/a%20b'],
  ] as const)('accepts %s', (uri, hostname, bindAddress, port, path) => {
    expect(parseRedirectUri(uri)).toEqual({ hostname, bindAddress, port, path, uri });
  });

  it('accepts the default', () => {
    expect(parseRedirectUri(DEFAULT_REDIRECT_URI)).toMatchObject({
      bindAddress: '127.0.0.1',
      port: 8976,
      path: '/callback',
    });
  });

  it.each([
    ['', /empty/],
    ['127.0.0.1:8976/callback', /absolute http/],
    ['https://127.0.0.1:8976/callback', /https/],
    ['ftp://127.0.0.1:8976/callback', /scheme must be http/],
    ['http://127.0.0.1/callback', /explicit port/],
    ['http://127.0.0.1:/callback', /explicit port/],
    ['http://localhost/callback', /explicit port/],
    ['http://127.0.0.1:0/callback', /between 1 and 65535/],
    ['http://127.0.0.1:65536/callback', /between 1 and 65535/],
    ['http://127.0.0.1:99999999999/callback', /between 1 and 65535/],
    ['http://127.0.0.1:08976/callback', /leading zeros/],
    ['http://127.0.0.1:abc/callback', /must be a number/],
    ['http://127.0.0.1:-1/callback', /must be a number/],
    ['http://0.0.0.0:8976/callback', /host must be/],
    ['http://127.0.0.2:8976/callback', /host must be/],
    ['http://192.168.1.10:8976/callback', /host must be/],
    ['http://example.com:8976/callback', /host must be/],
    ['http://localhost.example.com:8976/callback', /host must be/],
    ['http://[::]:8976/callback', /host must be/],
    ['http://[::ffff:127.0.0.1]:8976/callback', /host must be/],
    ['http://2130706433:8976/callback', /host must be/],
    ['http://user:pw@127.0.0.1:8976/callback', /user name/],
    ['http://127.0.0.1:8976/callback?x=1', /query/],
    ['http://127.0.0.1:8976/callback#frag', /fragment/],
    ['http://127.0.0.1:8976/call back', /whitespace/],
    [' http://127.0.0.1:8976/callback', /whitespace/],
    ['http://127.0.0.1:8976/cb\u001b[31m', /control/],
    ['my-app://soundcloud/callback', /scheme must be http/],
  ])('rejects %j', (uri, reason) => {
    let err: unknown;
    try {
      parseRedirectUri(uri);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    const message = (err as UsageError).message;
    expect(message).toMatch(reason);
    expect(message).not.toContain('\n');
    expect(message).not.toMatch(/[\u0000-\u001f]/);
    expect(message).toContain('http://127.0.0.1:PORT/PATH');
  });
});
