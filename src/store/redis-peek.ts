// One GET on the Redis server, without the Redis client: what a warm `get` on the fast path asks
// (src/fast.ts) to check that the login its cached token came from is still the shared one (the
// login generation, src/store/redis.ts). node:net or node:tls, RESP2, AUTH and SELECT as the URL
// says (as ioredis reads it), the whole exchange bounded by TOKENS_REDIS_TIMEOUT. Loaded only for
// the Redis store.
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** What the server said: the value (undefined for none), or that it could not be reached at all. */
export type Peeked = { kind: 'value'; value: string | undefined } | { kind: 'unreachable' } | { kind: 'error' };

/** The key of the login generation (src/store/redis.ts). */
export function loginKey(prefix: string, profile: string, provider: string): string {
  return `${prefix}${profile}:${provider}:login`;
}

function command(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/** The value of `key`, after AUTH and SELECT as `url` asks. Never throws. */
export function peekRedis(url: string, key: string, timeoutMs: number): Promise<Peeked> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return Promise.resolve({ kind: 'error' });
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const port = Number(parsed.port || '6379');
  const password = decodeURIComponent(parsed.password);
  const username = decodeURIComponent(parsed.username);
  const db = parsed.pathname.replace(/^\//, '');
  const requests: string[] = [];
  if (password !== '') requests.push(username !== '' ? command('AUTH', username, password) : command('AUTH', password));
  if (db !== '' && db !== '0') requests.push(command('SELECT', db));
  requests.push(command('GET', key));
  return new Promise((resolve) => {
    let connected = false;
    let settled = false;
    let buffer = Buffer.alloc(0);
    let replies = 0;
    const socket: Socket =
      parsed.protocol === 'rediss:'
        ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }) }, () => {
            connected = true;
          })
        : netConnect({ host, port }, () => {
            connected = true;
          });
    const done = (result: Peeked) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done(connected ? { kind: 'error' } : { kind: 'unreachable' }), timeoutMs);
    socket.on('error', () => done(connected ? { kind: 'error' } : { kind: 'unreachable' }));
    socket.on('close', () => done({ kind: 'error' }));
    socket.write(requests.join(''));
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      // Replies in order: +OK for AUTH and SELECT, then the bulk string of GET.
      for (;;) {
        const end = buffer.indexOf('\r\n');
        if (end < 0) return;
        const line = buffer.toString('latin1', 0, end);
        const last = replies === requests.length - 1;
        if (line.startsWith('-')) return done({ kind: 'error' });
        if (!last) {
          if (line !== '+OK') return done({ kind: 'error' });
          buffer = buffer.subarray(end + 2);
          replies++;
          continue;
        }
        if (line === '$-1') return done({ kind: 'value', value: undefined });
        const length = /^\$(\d{1,4})$/.exec(line);
        if (!length) return done({ kind: 'error' });
        const size = Number(length[1]);
        if (buffer.length < end + 2 + size + 2) return;
        return done({ kind: 'value', value: buffer.toString('utf8', end + 2, end + 2 + size) });
      }
    });
  });
}
