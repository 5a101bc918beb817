// A real redis-server (Debian's package) for the tests: on a free loopback port, with a password
// (in a 0600 config file, never on its command line), an append-only file so a restart keeps the
// data, started and stopped by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, random } from './worlds.js';

export interface RedisServerOptions {
  /** appendonly yes (default) or no. */
  aof?: boolean;
  /** RDB save points ('' for none, the default). */
  save?: string;
  /** Extra config lines (e.g. rename-command CONFIG ""). */
  extra?: string[];
}

export class RedisServer {
  #child: ChildProcess | undefined;
  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly password: string,
  ) {}

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const dir = await mkdtemp(join(tmpdir(), 'tokens-redis-'));
    const server = new RedisServer(dir, await freePort(), random('redis_pw_'));
    const lines = [
      `port ${server.port}`,
      'bind 127.0.0.1',
      'protected-mode yes',
      `requirepass ${server.password}`,
      `dir ${dir}`,
      `appendonly ${options.aof === false ? 'no' : 'yes'}`,
      'appendfsync always',
      `save "${options.save ?? ''}"`,
      'daemonize no',
      'logfile ""',
      ...(options.extra ?? []),
    ];
    await writeFile(join(dir, 'redis.conf'), `${lines.join('\n')}\n`, { mode: 0o600 });
    await server.#launch();
    return server;
  }

  /** redis://:PASSWORD@127.0.0.1:PORT, the value of TOKENS_REDIS_URL. */
  get url(): string {
    return `redis://:${this.password}@127.0.0.1:${this.port}`;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async #launch(): Promise<void> {
    const child = spawn('redis-server', [join(this.dir, 'redis.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        log += d.toString();
        if (/Ready to accept connections/.test(log)) resolve();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`redis-server exited (${code}): ${log}`)));
    });
  }

  /** Stops the server by its PID (SIGTERM: it flushes the AOF) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      process.kill(child.pid!, 'SIGTERM');
    });
  }

  /** Starts it again on the same port and directory: the data comes back from the AOF. */
  async restart(): Promise<void> {
    await this.stop();
    await this.#launch();
  }

  /** A client of our own (the tests' view of the server). */
  client(): Redis {
    return new Redis({
      host: '127.0.0.1',
      port: this.port,
      password: this.password,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
    });
  }

  /** Every key, with its type and value, as one text (a dump an attacker could take). */
  async dump(): Promise<string> {
    const c = this.client();
    try {
      const keys = await c.keys('*');
      const out: string[] = [];
      for (const key of keys.sort()) {
        const type = await c.type(key);
        const value =
          type === 'hash' ? JSON.stringify(await c.hgetall(key)) : type === 'string' ? await c.get(key) : `(${type})`;
        out.push(`${key} ${type} ${value}`);
      }
      return out.join('\n');
    } finally {
      c.disconnect();
    }
  }

  async dispose(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * A hostile "Redis" on loopback: it answers every command with the error reply `-${error}` (RESP),
 * whatever the command, so tests can see what of a server's error text reaches the terminal.
 */
export async function startErrorRedis(
  error: string,
): Promise<{ url: string; address: string; commands: () => number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let commands = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      // One error reply per command (each starts with a RESP array header, *N).
      const count = chunk.toString('latin1').match(/(?:^|\r\n)\*\d+\r\n/g)?.length ?? 0;
      commands += count;
      for (let i = 0; i < count; i++) socket.write(`-${error}\r\n`, 'latin1');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    address: `127.0.0.1:${port}`,
    commands: () => commands,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
