// The transport under src/core/http.ts in the real program: the fetch interface, carried by
// node:http and node:https. Node's built-in fetch (undici) compiles its WASM HTTP parser in every
// process that calls it: about 0.3 s of CPU and 40 MB of memory per `tokens` run (measured: a
// loopback GET costs 0.42 s CPU and 84 MB with fetch, 0.15 s and 44 MB with node:http), which a
// command called in loops cannot afford. Only what http.ts asks of fetch is here: no redirects
// (it follows them itself), no cookies, no caching; the request body is a string, bytes or an
// async iterable, sent with backpressure; the response body is pulled chunk by chunk, so a large
// download never sits in memory; `signal` aborts the request or the body being read.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

type FetchInput = Parameters<typeof globalThis.fetch>[0];
type FetchInit = NonNullable<Parameters<typeof globalThis.fetch>[1]>;

/** Statuses whose Response may not carry a body. */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

export async function nodeFetch(input: FetchInput, init: FetchInit = {}): Promise<Response> {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TypeError(`unsupported protocol ${url.protocol}`);
  const signal = init.signal ?? undefined;
  signal?.throwIfAborted();
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries((init.headers ?? {}) as Record<string, string>))
    headers[name.toLowerCase()] = value;
  const body = init.body as string | Uint8Array | AsyncIterable<Uint8Array> | null | undefined;
  if (typeof body === 'string' || body instanceof Uint8Array)
    headers['content-length'] ??= String(Buffer.byteLength(body));

  return new Promise<Response>((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method: init.method ?? 'GET', headers });
    let answered: IncomingMessage | undefined;
    const onAbort = () => {
      const reason = signal!.reason instanceof Error ? signal!.reason : new DOMException('aborted', 'AbortError');
      answered?.destroy(reason);
      req.destroy(reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => signal?.removeEventListener('abort', onAbort);
    req.on('error', (error) => {
      if (!answered) {
        done();
        reject(error);
      }
    });
    req.on('response', (res) => {
      answered = res;
      resolve(toResponse(res, done));
    });
    writeBody(req, body).catch((error: Error) => req.destroy(error));
  });
}

async function writeBody(
  req: import('node:http').ClientRequest,
  body: string | Uint8Array | AsyncIterable<Uint8Array> | null | undefined,
): Promise<void> {
  if (body === undefined || body === null) return void req.end();
  if (typeof body === 'string' || body instanceof Uint8Array) return void req.end(body);
  for await (const chunk of body) {
    if (req.destroyed) return;
    if (!req.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const cleanup = () => {
          req.off('drain', onDrain);
          req.off('close', onClose);
        };
        const onDrain = () => (cleanup(), resolve());
        const onClose = () => (cleanup(), reject(new Error('the connection closed during the upload')));
        req.on('drain', onDrain);
        req.on('close', onClose);
      });
    }
  }
  req.end();
}

function toResponse(res: IncomingMessage, done: () => void): Response {
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
    try {
      headers.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
    } catch {
      // A header value fetch would refuse: left out, as fetch would fail on it.
    }
  }
  const status = res.statusCode ?? 502;
  const init = { status, statusText: res.statusMessage ?? '', headers };
  if (NULL_BODY_STATUS.has(status)) {
    res.resume();
    res.on('end', done);
    return new Response(null, init);
  }
  const chunks = res[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  // Pull-based with no queue of its own (highWaterMark 0): a chunk is read from the socket only when
  // the consumer asks for one, so backpressure reaches the connection.
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await chunks.next();
          if (next.done) {
            done();
            controller.close();
          } else controller.enqueue(new Uint8Array(next.value.buffer, next.value.byteOffset, next.value.byteLength));
        } catch (error) {
          done();
          controller.error(error);
        }
      },
      cancel() {
        done();
        res.destroy();
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(stream, init);
}
