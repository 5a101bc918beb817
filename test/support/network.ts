// Loopback stand-ins for what sits between tokens and a provider: a certificate authority made at
// test time, an https front for a fake provider server, a forward proxy (CONNECT and absolute-form)
// that alone knows where a made-up host lives, and a token endpoint that trickles its answer.
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A made-up host that only the test proxy resolves (.invalid never resolves, RFC 6761). */
export const REMOTE_HOST = 'api.test.invalid';

export interface Certificates {
  /** The CA's certificate, for NODE_EXTRA_CA_CERTS. */
  caFile: string;
  key: Buffer;
  cert: Buffer;
  dispose(): Promise<void>;
}

/** A CA and a server certificate it signed, for REMOTE_HOST, localhost and 127.0.0.1. */
export async function makeCertificates(): Promise<Certificates> {
  const dir = await mkdtemp(join(tmpdir(), 'tokens-certs-'));
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem'].concat([
      '-days',
      '2',
      '-subj',
      '/CN=tokens test CA',
    ]),
  );
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=server']);
  await writeFile(join(dir, 'san.ext'), `subjectAltName=DNS:${REMOTE_HOST},DNS:localhost,IP:127.0.0.1\n`);
  run(
    ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
      '-out',
      'server.pem',
      '-days',
      '2',
      '-extfile',
      'san.ext',
    ]),
  );
  return {
    caFile: join(dir, 'ca.pem'),
    key: await readFile(join(dir, 'server.key')),
    cert: await readFile(join(dir, 'server.pem')),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface Listening {
  port: number;
  close(): Promise<void>;
}

/** `tunnels`: sockets the server no longer tracks (CONNECT), destroyed on close. */
async function listen(server: http.Server, tunnels: Set<Socket> = new Set()): Promise<Listening> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => {
      server.closeAllConnections();
      for (const socket of tunnels) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An https server on 127.0.0.1 that hands every request on to the http server at `origin`. */
export function startTlsFront(origin: string, certs: Pick<Certificates, 'key' | 'cert'>): Promise<Listening> {
  const server = https.createServer({ key: certs.key, cert: certs.cert }, (req, res) => {
    const onward = http.request(new URL(req.url!, origin), { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    onward.on('error', () => res.destroy());
    req.pipe(onward);
  });
  return listen(server);
}

export interface ForwardProxy extends Listening {
  /** Request lines seen: "CONNECT host:port" or "GET http://…". */
  requests: string[];
  /** The Proxy-Authorization headers seen. */
  authorizations: string[];
  /** Every byte that went through a tunnel either way, as the proxy saw it. */
  tunnelled(): Buffer;
}

/** A forward proxy; `routes` maps "host:port" as asked for to "127.0.0.1:port" where it really is. */
export async function startProxy(routes: Record<string, string>): Promise<ForwardProxy> {
  const requests: string[] = [];
  const authorizations: string[] = [];
  const seen: Buffer[] = [];
  const tunnels = new Set<Socket>();
  const where = (authority: string) => (routes[authority] ?? authority).split(':') as [string, string];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.headers['proxy-authorization']) authorizations.push(req.headers['proxy-authorization']);
    const target = new URL(req.url!);
    const [host, port] = where(target.host);
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    const onward = http.request({ host, port, path: target.pathname + target.search, method: req.method, headers });
    onward.on('response', (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    onward.on('error', () => res.destroy());
    req.pipe(onward);
  });
  server.on('connect', (req: http.IncomingMessage, client: Socket, head: Buffer) => {
    requests.push(`CONNECT ${req.url}`);
    if (req.headers['proxy-authorization']) authorizations.push(req.headers['proxy-authorization']);
    const [host, port] = where(req.url!);
    tunnels.add(client);
    const upstream = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      client.on('data', (d: Buffer) => seen.push(d));
      upstream.on('data', (d: Buffer) => seen.push(d));
      client.pipe(upstream).pipe(client);
    });
    tunnels.add(upstream);
    const end = () => (client.destroy(), upstream.destroy());
    upstream.on('error', end);
    client.on('error', end);
  });
  return { ...(await listen(server, tunnels)), requests, authorizations, tunnelled: () => Buffer.concat(seen) };
}

/** A token endpoint that answers 200 at once, then one byte of its body every `everyMs`, never ending. */
export function startTrickler(everyMs: number): Promise<Listening & { requests(): number }> {
  let count = 0;
  const server = http.createServer((req, res) => {
    count++;
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{');
    const timer = setInterval(() => res.write(' '), everyMs);
    res.on('close', () => clearInterval(timer));
  });
  return listen(server).then((l) => ({ ...l, requests: () => count }));
}
