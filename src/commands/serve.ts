// `tokens serve`: the authenticating API server (src/serve/server.ts) on loopback or a unix socket,
// in the foreground until SIGINT/SIGTERM, printing its URLs as `export NAME='…'` lines when ready.
// `--background`, and `tokens exec --serve` (src/commands/exec-serve.ts), start it as a process of its
// own with a clean environment: the withheld values it needs (passphrase, Redis URL, serve key) come
// over fd 3, never argv or environ (src/serve/spawn.ts).
// node:fs's calls, not node:fs/promises': these few local calls do not need its ~3 ms of loading
// before the ready line.
import { chmodSync, closeSync, constants, fstatSync, lstatSync, openSync, readSync, unlinkSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DEFAULT_MIN_TTL_SECONDS, isFresh, loginStandsLocally, readCache } from '../files/cache.js';
import { readEnv, TOKENS_SERVE_KEY } from '../model/env.js';
import { UsageError } from '../base/errors.js';
import { shellQuote } from '../model/format.js';
import { startServer } from '../serve/listener.js';
import type { ServeConfig } from '../serve/server.js';
import type { Deps } from '../broker/deps.js';
import type { ProviderDescriptor } from '../model/model.js';
import type { Env, Paths } from '../model/paths.js';

export interface ServeOptions {
  /** Empty: every provider configured in the profile. */
  providers: ProviderDescriptor[];
  profile: string;
  /** --listen HOST:PORT as given (default 127.0.0.1:0). */
  listen?: string;
  socket?: string;
  background: boolean;
  maxWaitSeconds: number;
  verbose: boolean;
  /**
   * Hidden: started by another tokens with the withheld values on fd 3. 'exec': the server of
   * `exec --serve`, which also stops when its parent goes; 'background': the detached server.
   */
  role?: 'exec' | 'background';
}

/** Why a listen failed, for the one-line message. */
const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'the address is in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'no such address on this machine',
  ENOENT: 'no such directory',
  EINVAL: 'not a usable address (a socket path is at most about 100 bytes)',
};

/** Where the server listens without --listen or --socket: a free port on 127.0.0.1. */
export const DEFAULT_LISTEN = '127.0.0.1:0';

/** How often a server started by `exec --serve` looks whether its parent is still there. */
const PARENT_POLL_MS = 1000;

/** --listen: a loopback address and a port, or a usage error (exit 2). */
export function parseListen(value: string): { host: string; shown: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !(port >= 0 && port <= 65535))
    throw new UsageError(`--listen takes HOST:PORT (e.g. 127.0.0.1:8787), not "${value}"`);
  const host = (m[1] ?? m[2]!).toLowerCase();
  if (host === 'localhost') return { host: '127.0.0.1', shown: 'localhost', port };
  if (host === '::1') return { host: '::1', shown: '[::1]', port };
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) && host.split('.').every((n) => Number(n) <= 255))
    return { host, shown: host, port };
  throw new UsageError(
    `--listen ${value}: tokens serve listens on loopback only (127.0.0.0/8, [::1], localhost); anyone who reaches it calls the APIs as you`,
  );
}

export async function runServe(options: ServeOptions, deps: Deps): Promise<number> {
  if (options.listen !== undefined && options.socket !== undefined)
    throw new UsageError('--listen and --socket both say where to listen; use one');
  const where = options.socket !== undefined ? undefined : parseListen(options.listen ?? DEFAULT_LISTEN);
  if (options.background && options.role === undefined) {
    const { spawnServer } = await import('../serve/spawn.js');
    const started = await spawnServer(deps, options, 'background');
    if ('code' in started) return started.code;
    deps.io.stdout.write(started.lines.join(''));
    deps.io.stdout.write(`export TOKENS_SERVE_PID=${shellQuote(String(started.pid))}\n`);
    return 0;
  }
  if (options.role !== undefined) deps = await withHandedValues(deps);

  const providers =
    options.providers.length > 0
      ? options.providers
      : await (await import('./configured.js')).configuredProviders(deps, options.profile);
  await credentialsAtHand(deps, providers, options.profile);
  const socket = options.socket === undefined ? undefined : resolve(options.socket);
  if (socket) await prepareSocket(socket);
  const config: ServeConfig = {
    providers,
    profile: options.profile,
    maxWaitSeconds: options.maxWaitSeconds,
    key: socket ? undefined : (readEnv(deps.env, TOKENS_SERVE_KEY) ?? (await newKey())),
    verbose: options.verbose,
  };
  // What answers requests (the broker, the HTTP policy) is not needed for the ready line: it loads after it.
  const answering: Answering = async (listening) =>
    (await import('../serve/server.js')).serveHandler(deps, config, listening);
  const at: ListenAt = socket ? { socket } : { tcp: where! };
  return serveUntilStopped({ stdout: deps.io.stdout, at, providers, key: config.key, role: options.role, answering });
}

/** Where the server listens: a loopback address (parseListen) or a socket path made ready (prepareSocket). */
export type ListenAt = { tcp: ReturnType<typeof parseListen> } | { socket: string };

/** What serveUntilStopped is given. */
export interface Serving {
  /** Where the ready lines go. */
  stdout: NodeJS.WritableStream;
  at: ListenAt;
  /** The providers the ready lines name, each with its URL. */
  providers: readonly ProviderDescriptor[];
  /** The key in the URLs' paths (none on a socket, whose permissions are the guard). */
  key: string | undefined;
  /** Started by another tokens: `exec` (exec --serve's) or `background`; undefined in the foreground. */
  role?: ServeOptions['role'];
  /** Makes what answers requests, once the ready lines are out. */
  answering: Answering;
  /** Told once the ready lines are out. */
  onReady?: () => void;
}

/**
 * From the listen on, for runServe and the fast path's warm serve (src/warm/serve.ts): listens
 * (a failure is a UsageError, thrown before anything is printed), prints the ready lines, has
 * `answering` make what answers requests, serves until SIGTERM or SIGINT (for exec --serve's server:
 * until its parent is gone), then stops.
 */
export async function serveUntilStopped({
  stdout,
  at,
  providers,
  key,
  role,
  answering,
  onReady = () => undefined,
}: Serving): Promise<number> {
  const socket = 'socket' in at ? at.socket : undefined;
  const tcp = 'tcp' in at ? at.tcp : undefined;
  const started = await (socket
    ? listenOnSocket(socket, answering)
    : startServer({ host: tcp!.host, port: tcp!.port }, answering)
  ).catch((error: NodeJS.ErrnoException) => {
    const where = socket ?? `${tcp!.shown}:${tcp!.port}`;
    throw new UsageError(
      `cannot listen on ${where}: ${LISTEN_ERRORS[error.code ?? ''] ?? 'failed'} (${error.code ?? 'error'})`,
    );
  });

  const root =
    started.listening.kind === 'tcp' ? `http://${tcp!.shown}:${started.listening.port}/${key}` : 'http://localhost';
  const lines = [
    ...(socket ? [`export TOKENS_SERVE_SOCKET=${shellQuote(socket)}\n`] : []),
    ...providers.map((p) => `export ${p.envPrefix}_API_URL=${shellQuote(`${root}/${p.id}`)}\n`),
    // Last: the line a starter waits for (spawn.ts).
    `export TOKENS_SERVE_URL=${shellQuote(root)}\n`,
  ];

  const stopped = new Promise<void>((resolveStop) => {
    const stop = () => resolveStop();
    // `on`, not `once`: proper-lockfile's signal-exit (loaded by a refresh) re-sends a signal to the
    // process when it finds itself the only listener left, which a spent `once` would make it.
    process.on('SIGTERM', stop);
    // exec --serve's server shares the command's process group: a Ctrl-C is the command's to act on
    // (Jupyter asks whether to shut down), and the server ends when the command has (SIGTERM from tokens).
    if (role === 'exec') process.on('SIGINT', () => undefined);
    else process.on('SIGINT', stop);
    if (role === 'exec') {
      const parent = process.ppid;
      setInterval(() => process.ppid !== parent && stop(), PARENT_POLL_MS).unref();
    }
  });
  await writeReady(stdout, lines.join(''));
  onReady();
  keepYoungGenerationSmall();
  started.load();
  // A detached server's starter stops reading its stderr once it is ready: a later line must not end it.
  if (role === 'background') process.stderr.on('error', () => undefined);
  await stopped;
  await started.stop();
  if (socket) {
    try {
      unlinkSync(socket);
    } catch {
      // Already gone.
    }
  }
  return 0;
}

/**
 * A server runs for hours and streams bodies of any size, each chunk short-lived garbage. V8 grows
 * its young generation under such a load until it is 64–128 MiB on Node 24 and 26 (Node's 64 KiB
 * read buffers), most of a server's memory. Not letting it grow (a growth factor of 1, read by V8
 * each time it would grow, so it takes effect at run time, unlike --max-semi-space-size) has V8
 * collect small and often instead: 92–129 MiB at the peak of `npm run bench`'s load, up to 180
 * without. Set after the ready line, so a start pays nothing; the serve tests hold stderr empty, so a
 * Node whose V8 no longer knows the flag (it says so on stderr) fails them.
 */
function keepYoungGenerationSmall(): void {
  process.getBuiltinModule('node:v8').setFlagsFromString('--semi-space-growth-factor=1');
}

/**
 * Each provider's credential at hand before the ready line: one not logged in is exit 3 now, not a
 * 502 later. A token the cache holds fresh is what the broker would answer with (the same read and
 * test as its own, src/broker/broker.ts), so the broker is loaded only for the others (a refresh, a
 * login to confirm with the Redis store, legacy credentials, or an error to report).
 */
async function credentialsAtHand(deps: Deps, providers: readonly ProviderDescriptor[], profile: string) {
  const others: ProviderDescriptor[] = [];
  for (const provider of providers)
    if (!(await freshInCache(deps.paths, deps.env, profile, provider, deps.now()))) others.push(provider);
  if (others.length === 0) return;
  const broker = new (await import('../broker/broker.js')).TokenBroker(deps);
  await Promise.all(
    others.map((p) => broker.get(p, profile, { minTtlSeconds: DEFAULT_MIN_TTL_SECONDS, forceRefresh: false })),
  );
}

/**
 * A new serve key: 32 bytes from the kernel's random source, base64url. Read from /dev/urandom
 * (the source node:crypto's generator is seeded from) because the first randomBytes() of a process
 * sets up OpenSSL's generator, about 9 ms of a start that is measured against a warm `get`;
 * node:crypto where that device cannot be read.
 */
export async function newKey(): Promise<string> {
  const key = Buffer.alloc(32);
  let read = 0;
  try {
    const fd = openSync('/dev/urandom', constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      if (!fstatSync(fd).isCharacterDevice()) throw new Error('/dev/urandom is not the device');
      while (read < key.length) {
        const n = readSync(fd, key, read, key.length - read, null);
        if (n <= 0) break;
        read += n;
      }
    } finally {
      closeSync(fd);
    }
  } catch {
    read = 0;
  }
  if (read === key.length) return key.toString('base64url');
  return (await import('node:crypto')).randomBytes(32).toString('base64url');
}

/**
 * Whether the cache holds the provider's token fresh, as the broker would answer with it (the same
 * read and test as its own, src/broker/broker.ts): for runServe's check before the ready line, and
 * the fast path's warm serve, which answers only then.
 */
export async function freshInCache(
  paths: Paths,
  env: Env,
  profile: string,
  provider: ProviderDescriptor,
  now: number,
): Promise<boolean> {
  const read = await readCache(paths, profile, provider.id);
  return read.kind === 'hit' && isFresh(read.token, now, DEFAULT_MIN_TTL_SECONDS) && loginStandsLocally(read, env, now);
}

function writeReady(stdout: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolveWrite) => {
    if (stdout.write(text)) resolveWrite();
    else stdout.once('drain', () => resolveWrite());
  });
}

/** The values a starting tokens handed over on fd 3 (JSON), added to this process's view of its environment. */
async function withHandedValues(deps: Deps): Promise<Deps> {
  const { Socket } = await import('node:net');
  const text = await new Promise<string>((resolveRead, reject) => {
    const pipe = new Socket({ fd: 3, readable: true, writable: false });
    let data = '';
    pipe.setEncoding('utf8');
    pipe.on('data', (chunk: string) => (data += chunk));
    pipe.on('end', () => {
      pipe.destroy();
      resolveRead(data);
    });
    pipe.on('error', reject);
  });
  const handed = JSON.parse(text || '{}') as Record<string, string>;
  const env = { ...deps.env, ...handed };
  let store: ReturnType<Deps['openStore']> | undefined;
  return {
    ...deps,
    env,
    openStore: () =>
      (store ??= import('../store/open.js').then(({ openStore }) =>
        openStore(env, deps.paths, deps.childEnv, undefined, deps.io),
      )),
  };
}

/**
 * --socket PATH: its directory ours (made 0700 when missing; else a directory, not a link, ours,
 * writable by no one else), and no live server at the path (a stale socket of ours is removed).
 */
async function prepareSocket(path: string): Promise<void> {
  const { ensurePrivateDir, UnsafePathError, unusableDir } = await import('../files/private-files.js');
  const dir = dirname(path);
  const info = lstatIfThere(dir, (error) => {
    throw unusableDir(dir, error);
  });
  if (!info) await ensurePrivateDir(dir, dir);
  else {
    if (info.isSymbolicLink()) throw new UnsafePathError(dir, 'it is a symbolic link');
    if (!info.isDirectory()) throw new UnsafePathError(dir, 'it is not a directory');
    if (typeof process.getuid === 'function' && info.uid !== process.getuid())
      throw new UnsafePathError(dir, `it is owned by another user (uid ${info.uid})`);
    if ((info.mode & 0o022) !== 0) throw new UnsafePathError(dir, 'others may write to it (mode g+w or o+w)');
  }
  const existing = lstatIfThere(path, () => undefined);
  if (!existing) return;
  if (!existing.isSocket()) throw new UsageError(`--socket ${path}: something that is not a socket is there`);
  if (await answers(path)) throw new UsageError(`--socket ${path}: another server is listening there`);
  unlinkSync(path);
}

/** lstat of a path, undefined when nothing is there; another error is `otherwise`'s. */
function lstatIfThere(path: string, otherwise: (error: unknown) => undefined) {
  try {
    return lstatSync(path);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : otherwise(error);
  }
}

function answers(path: string): Promise<boolean> {
  return import('node:net').then(
    ({ connect }) =>
      new Promise((resolveTry) => {
        const socket = connect(path);
        socket.once('connect', () => {
          socket.destroy();
          resolveTry(true);
        });
        socket.once('error', () => resolveTry(false));
      }),
  );
}

export type Answering = Parameters<typeof startServer>[1];

/** Listens on the socket made under umask 077, then 0600 for certain: its mode is the only guard. */
async function listenOnSocket(socket: string, answering: Answering) {
  const previous = process.umask(0o177);
  try {
    const started = await startServer({ socket }, answering);
    chmodSync(socket, 0o600);
    return started;
  } finally {
    process.umask(previous);
  }
}
