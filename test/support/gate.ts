// A loopback HTTP gate in front of a fake provider: each request is held until the test opens the
// gate, then forwarded and answered. A test uses it to decide exactly when a request a tokens process
// has already sent reaches the provider (say, only after another machine has refreshed).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export class Gate {
  readonly #held: Array<() => Promise<void>> = [];
  #open = false;
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  /** A gate forwarding to `target` (an origin); closed at first. */
  static async start(target: string): Promise<Gate> {
    let gate: Gate | undefined;
    const server = createServer((req, res) => gate!.#hold(target, req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    gate = new Gate(server, `http://127.0.0.1:${port}`);
    return gate;
  }

  /** Requests waiting at the gate. */
  get waiting(): number {
    return this.#held.length;
  }

  /** Lets every waiting request through, and every later one. */
  async open(): Promise<void> {
    this.#open = true;
    await Promise.all(this.#held.splice(0).map((forward) => forward()));
  }

  #hold(target: string, req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const forward = async () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers))
          if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
        const answer = await fetch(new URL(req.url ?? '/', target), {
          method: req.method ?? 'GET',
          headers,
          ...(chunks.length ? { body: Buffer.concat(chunks) } : {}),
          redirect: 'manual',
        });
        const body = Buffer.from(await answer.arrayBuffer());
        res.writeHead(
          answer.status,
          Object.fromEntries(
            [...answer.headers].filter(
              ([k]) => k !== 'content-encoding' && k !== 'transfer-encoding' && k !== 'content-length',
            ),
          ),
        );
        res.end(body);
      };
      if (this.#open) void forward();
      else this.#held.push(forward);
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
