// What answers the requests of `tokens serve` and `tokens exec --serve` (src/serve/listener.ts
// listens, on loopback or a unix socket): a local program calls a provider's API through it
// without holding its token. Loaded once the ready line is out. Each request is checked (Host,
// key, path: src/serve/rules.ts), sent on by the one HTTP policy of tokens (src/http/http.ts:
// retries, 429 waits) with the credentials of the broker `get` uses
// (cache, locks, the Redis store's one refresh per lifetime), and answered byte for byte, streamed
// both ways. A 401 replaces the token once, through the broker's replaceRefused, so N callers
// refused with one token cause one refresh, and is repeated once when the body can be replayed.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { apiBase, isUnderBase, type ApiBase } from '../api/api-url.js';
import { TokenBroker } from '../broker/broker.js';
import type { Credential, ProviderDescriptor } from '../model/model.js';
import { isFresh, readCache, DEFAULT_MIN_TTL_SECONDS } from '../files/cache.js';
import { isTokensError, UsageError } from '../base/errors.js';
import { credentialHeaders } from '../model/format.js';
import { exchange, retryableRequest, type Answer } from '../http/http.js';
import { sanitizeProviderText } from '../base/untrusted-text.js';
import {
  answerHeaderKept,
  forwardedHeaders,
  hostAllowed,
  rewriteLink,
  rewritePage,
  routeOf,
  upstreamUrl,
  type Listening,
} from './rules.js';
import type { RequestBody } from '../http/request-body.js';
import type { Deps } from '../broker/deps.js';

/** The most of a request body held so that it can be sent again after a 401 (or a 5xx). */
export const REPLAY_LIMIT = 1024 * 1024;
/** The most of a JSON page read whole to rewrite its next-page link; a larger one streams untouched. */
const PAGE_LIMIT = 16 * 1024 * 1024;
const NULL_BODY_STATUS = new Set([204, 304]);

export interface ServeConfig {
  providers: readonly ProviderDescriptor[];
  profile: string;
  maxWaitSeconds: number;
  /** The key every path starts with; undefined on a unix socket (its permissions are the guard). */
  key: string | undefined;
  verbose: boolean;
}

/** The credentials in use, per provider: kept while fresh (no file read per request), else asked of the broker. */
class Credentials {
  readonly #current = new Map<string, Credential>();
  constructor(
    readonly broker: TokenBroker,
    readonly profile: string,
    readonly now: () => number,
  ) {}

  held(provider: ProviderDescriptor): Credential | undefined {
    return this.#current.get(provider.id);
  }

  /** The credential to send; `renewed` when it replaced one this server held (a refresh, here or elsewhere). */
  async get(provider: ProviderDescriptor): Promise<{ credential: Credential; renewed: boolean }> {
    const held = this.#current.get(provider.id);
    if (held && (held.kind === 'static' || isFresh(held.token, this.now(), DEFAULT_MIN_TTL_SECONDS)))
      return { credential: held, renewed: false };
    const fresh = await this.broker.get(provider, this.profile, {
      minTtlSeconds: DEFAULT_MIN_TTL_SECONDS,
      forceRefresh: false,
    });
    this.#current.set(provider.id, fresh);
    const renewed =
      held?.kind === 'token' && fresh.kind === 'token' && held.token.access_token !== fresh.token.access_token;
    return { credential: fresh, renewed };
  }

  async replace(provider: ProviderDescriptor, refused: string): Promise<Credential> {
    const fresh = await this.broker.replaceRefused(provider, this.profile, refused, {
      minTtlSeconds: DEFAULT_MIN_TTL_SECONDS,
    });
    this.#current.set(provider.id, fresh);
    return fresh;
  }
}

export function serveHandler(
  deps: Deps,
  config: ServeConfig,
  listening: () => Listening,
): (req: IncomingMessage, res: ServerResponse) => void {
  // The HTTP layer's and the broker's own debug lines name hosts and attempts: --verbose here is one
  // line per request, written below, never a query string.
  const quiet: Deps = { ...deps, debug: () => undefined };
  const credentials = new Credentials(new TokenBroker(quiet), config.profile, deps.now);
  const byId = new Map(config.providers.map((p) => [p.id as string, p]));
  const bases = new Map<string, ApiBase>(config.providers.map((p) => [p.id, apiBase(p, deps.env)]));
  const ids = [...byId.keys()];
  const log = (line: string) => {
    if (config.verbose) deps.io.stderr.write(`tokens: serve: ${line}\n`);
  };

  return (req, res) => {
    const started = performance.now();
    const method = req.method ?? 'GET';
    const note: { provider?: string; path?: string; refreshed?: boolean } = {};
    res.on('finish', () => {
      const where = note.provider ? `${note.provider} ${sanitizeProviderText(note.path ?? '/', 200)}` : '(refused)';
      log(
        `${method} ${where} ${res.statusCode} ${Math.round(performance.now() - started)} ms${note.refreshed ? ' (refreshed the token)' : ''}`,
      );
    });
    if (!hostAllowed(req.headers.host, listening())) return void empty(res, 403);
    const route = routeOf(req.url ?? '', config.key, ids);
    switch (route.kind) {
      case 'none':
        return void empty(res, 404);
      case 'outside':
        return void json(res, 400, { error: 'the path leaves the provider API base' });
      case 'health':
        return void health(res);
      case 'token':
        note.provider = route.provider;
        note.path = '/token';
        return void tokenEndpoint(byId.get(route.provider)!, route.search, res);
      case 'api':
        note.provider = route.provider;
        note.path = route.path || '/';
        return void forward(byId.get(route.provider)!, route.path, route.search, req, res, note).catch(() =>
          res.destroy(),
        );
    }
  };

  async function forward(
    provider: ProviderDescriptor,
    path: string,
    search: string,
    req: IncomingMessage,
    res: ServerResponse,
    note: { refreshed?: boolean },
  ): Promise<void> {
    const base = bases.get(provider.id)!;
    const url = upstreamUrl(base, path, search);
    if (!url) return json(res, 400, { error: 'the path leaves the provider API base' });
    const method = (req.method ?? 'GET').toUpperCase();
    const serverBase = `http://${req.headers.host}${config.key === undefined ? '' : `/${config.key}`}/${provider.id}`;
    let answer: Answer;
    try {
      const headers = forwardedHeaders(req.headers);
      const body = await requestBody(req);
      const current = await credentials.get(provider);
      let credential = current.credential;
      if (current.renewed) note.refreshed = true;
      const attempt = () =>
        exchange(quiet, {
          method,
          url,
          headers,
          credentials: credentialHeaders(provider, credential),
          credentialsGoTo: (target) => isUnderBase(base, target),
          ...(body ? { body } : {}),
          retry: retryableRequest(method, body),
          redirects: 'return',
          maxRateLimitWaitMs: config.maxWaitSeconds * 1000,
          what: provider.id,
          label: provider.id,
          rateLimitNoun: 'requests',
          verboseUrls: false,
          passBack: true,
        });
      answer = await attempt();
      if (answer.status === 401 && answer.credentialsSent && credential.kind === 'token') {
        const refused = credential.token.access_token;
        if (body && !body.replayable) {
          // Passed back as it came; the next request finds a fresh token.
          void credentials.replace(provider, refused).catch(() => undefined);
        } else {
          await answer.discard();
          credential = await credentials.replace(provider, refused);
          note.refreshed = true;
          answer = await attempt();
        }
      }
    } catch (error) {
      return json(res, 502, { error: `${provider.id}: ${problem(error)}`, provider: provider.id });
    }
    await answerBack(provider, base, answer, method, serverBase, res);
  }

  async function answerBack(
    provider: ProviderDescriptor,
    base: ApiBase,
    answer: Answer,
    method: string,
    serverBase: string,
    res: ServerResponse,
  ): Promise<void> {
    const connectionNames = new Set(
      (answer.headers.get('connection') ?? '')
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    );
    const headers = new Map<string, string | string[]>();
    for (const [name, value] of answer.headers) {
      if (!answerHeaderKept(name, connectionNames)) continue;
      if (name === 'set-cookie') headers.set(name, [...((headers.get(name) as string[] | undefined) ?? []), value]);
      else if (name === 'location') headers.set(name, rewriteLink(base, answer.url, value, serverBase) ?? value);
      else headers.set(name, value);
    }
    // A 429 passed back was read to learn its wait: its body is what was held.
    if (answer.status === 429) headers.delete('content-length');
    res.statusCode = answer.status;
    if (answer.statusText) res.statusMessage = answer.statusText;
    for (const [name, value] of headers) res.setHeader(name, value);

    if (method === 'HEAD' || NULL_BODY_STATUS.has(answer.status)) {
      await answer.discard();
      return void res.end();
    }
    const chunks = answer.chunks()[Symbol.asyncIterator]();
    let held: Buffer[] = [];
    const type = answer.headers.get('content-type') ?? '';
    const declared = Number(answer.headers.get('content-length') ?? Number.NaN);
    if (
      provider.loadPagination &&
      answer.status === 200 &&
      /json/i.test(type) &&
      !answer.headers.get('content-encoding') &&
      !(declared > PAGE_LIMIT)
    ) {
      let size = 0;
      let ended = false;
      try {
        while (size <= PAGE_LIMIT) {
          const next = await chunks.next();
          if (next.done) {
            ended = true;
            break;
          }
          held.push(Buffer.from(next.value));
          size += next.value.length;
        }
      } catch (error) {
        return json(res, 502, { error: `${provider.id}: ${problem(error)}`, provider: provider.id });
      }
      if (ended) {
        const text = Buffer.concat(held).toString('utf8');
        const rewritten = rewritePage(text, (link) =>
          rewriteLink(base, answer.url, link, serverBase, { asPage: true }),
        );
        const bytes = rewritten === undefined ? Buffer.concat(held) : Buffer.from(rewritten);
        if (rewritten !== undefined) res.setHeader('content-length', String(bytes.length));
        return void res.end(bytes);
      }
    }
    // Streamed: each chunk written before the next is read, so memory stays flat whatever the size.
    let gone = false;
    res.on('close', () => (gone = !res.writableFinished));
    try {
      for (const chunk of held) if (!res.write(chunk)) await drained(res);
      held = [];
      for (;;) {
        if (gone) {
          await chunks.return?.();
          return;
        }
        const next = await chunks.next();
        if (next.done) break;
        if (!res.write(next.value)) await drained(res);
      }
      res.end();
    } catch {
      // The provider's answer broke off: the caller sees a cut connection, as from the provider.
      res.destroy();
    }
  }

  async function tokenEndpoint(provider: ProviderDescriptor, search: string, res: ServerResponse): Promise<void> {
    const raw = new URLSearchParams(search).get('min_ttl');
    if (raw !== null && !/^\d{1,7}$/.test(raw))
      return json(res, 400, { error: 'min_ttl must be a whole number of seconds' });
    try {
      const credential = await credentials.broker.get(provider, config.profile, {
        minTtlSeconds: raw === null ? DEFAULT_MIN_TTL_SECONDS : Number(raw),
        minTtlGiven: raw !== null,
        forceRefresh: false,
      });
      const body =
        credential.kind === 'static'
          ? { provider: provider.id, ...credential.credentials.json }
          : {
              provider: provider.id,
              access_token: credential.token.access_token,
              token_type: provider.authScheme,
              expires_at: new Date(credential.token.expires_at).toISOString(),
            };
      json(res, 200, body);
    } catch (error) {
      json(res, error instanceof UsageError ? 400 : 502, { error: problem(error), provider: provider.id });
    }
  }

  async function health(res: ServerResponse): Promise<void> {
    const out: Record<string, unknown> = {};
    for (const provider of config.providers) {
      const held = credentials.held(provider);
      if (held?.kind === 'static') {
        out[provider.id] = { token: true, mode: 'legacy' };
        continue;
      }
      let expiresAt = held?.token.expires_at;
      if (expiresAt === undefined) {
        const read = await readCache(deps.paths, config.profile, provider.id).catch(() => undefined);
        if (read?.kind === 'hit') expiresAt = read.token.expires_at;
      }
      const fresh = expiresAt !== undefined && expiresAt > deps.now();
      out[provider.id] = fresh ? { token: true, expires_at: new Date(expiresAt!).toISOString() } : { token: false };
    }
    json(res, 200, { ok: true, providers: out });
  }
}

/** A request's body: none, the whole of it when it is at most REPLAY_LIMIT (replayable), else a stream sent once. */
async function requestBody(req: IncomingMessage): Promise<RequestBody | undefined> {
  const declared = req.headers['content-length'];
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if (declared === undefined && !chunked) return undefined;
  const length = chunked ? undefined : Number(declared);
  const iterator = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const held: Buffer[] = [];
  let size = 0;
  if (length === undefined || length <= REPLAY_LIMIT) {
    for (;;) {
      const next = await iterator.next();
      if (next.done) {
        const bytes = Buffer.concat(held);
        return { open: () => bytes, length: bytes.length, replayable: true };
      }
      held.push(next.value);
      size += next.value.length;
      if (size > REPLAY_LIMIT) break;
    }
  }
  let opened = false;
  return {
    open: () => {
      if (opened) throw new Error('internal error: a streamed request body opened twice');
      opened = true;
      return (async function* () {
        yield* held.splice(0);
        for (;;) {
          const next = await iterator.next();
          if (next.done) return;
          yield next.value;
        }
      })();
    },
    ...(length === undefined ? {} : { length }),
    replayable: false,
  };
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function empty(res: ServerResponse, status: number): void {
  res.statusCode = status;
  res.setHeader('content-length', '0');
  res.end();
}

function json(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.destroy();
  const text = `${JSON.stringify(body)}\n`;
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('cache-control', 'no-store');
  res.setHeader('content-length', String(Buffer.byteLength(text)));
  res.end(text);
}

/** One line saying what went wrong: a TokensError's own message (written for stderr: no secret), else a generic one. */
function problem(error: unknown): string {
  if (isTokensError(error)) return error.message;
  return 'no answer (internal error)';
}
