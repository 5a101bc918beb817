// The listening half of `tokens serve`: the node:http server, where it listens, and how it stops.
// Kept apart from what answers a request (src/serve/server.ts: the broker, the HTTP policy, the
// rules), which the ready line does not need: that half loads once the ready line is out (load()),
// or on the first request if one comes sooner, which then waits for it.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { loadHttp } from '../model/node-builtins.js';
import type { Listening } from './rules.js';

/** How long requests in flight may finish after a stop was asked. */
export const DRAIN_MS = 10_000;

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface StartedServer {
  server: Server;
  listening: Listening;
  /** Loads what answers requests now, rather than on the first request. */
  load(): void;
  /** Stops accepting, lets requests in flight finish for up to DRAIN_MS, then cuts the rest. */
  stop(): Promise<void>;
}

/**
 * Listens on `where` (TCP on a loopback host, or a unix socket path); each request goes to the
 * handler `makeHandler` makes, which is asked for once.
 */
export async function startServer(
  where: { host: string; port: number } | { socket: string },
  makeHandler: (listening: () => Listening) => Promise<Handler>,
): Promise<StartedServer> {
  const state: { listening: Listening; stopping: boolean; handler?: Promise<Handler> } = {
    listening: { kind: 'socket' },
    stopping: false,
  };
  const handler = () => (state.handler ??= makeHandler(() => state.listening));
  const server = loadHttp().createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    // Once stopping, a connection is closed as soon as its request is answered, not kept alive.
    res.on('finish', () => state.stopping && setImmediate(() => server.closeIdleConnections()));
    if (state.stopping) res.setHeader('connection', 'close');
    handler().then(
      (handle) => handle(req, res),
      () => res.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if ('socket' in where) server.listen(where.socket, done);
    else server.listen(where.port, where.host, done);
  });
  const address = server.address();
  if (address !== null && typeof address === 'object')
    state.listening = { kind: 'tcp', host: address.address, port: address.port };
  return {
    server,
    listening: state.listening,
    load: () => void handler().catch(() => undefined),
    stop: () =>
      new Promise<void>((resolve) => {
        state.stopping = true;
        const timer = setTimeout(() => server.closeAllConnections(), DRAIN_MS);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
