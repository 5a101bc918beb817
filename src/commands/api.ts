// `tokens api PROVIDER PATH|URL`: one authenticated request (or one per page with --paginate) to the
// provider's API, the body streamed to stdout byte for byte. The credential comes from the broker
// (the cache and lock of `get`); a 401 gets one refresh, through the broker's replaceRefused, and
// one repeat. Everything about the wire (timeouts, retries, 429, redirects) is src/http/http.ts's.
import { loadHttp } from '../model/node-builtins.js';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { apiBase, isUnderBase, pathUnderBase, resolveNextPage, resolveTarget, type ApiBase } from '../api/api-url.js';
import { TokenBroker } from '../broker/broker.js';
import { DEFAULT_MIN_TTL_SECONDS } from '../files/cache.js';
import { ApiStatusError, CredentialsRejectedError, UnavailableError, UsageError } from '../base/errors.js';
import { credentialHeaders } from '../model/format.js';
import { loginCommand } from '../model/hints.js';
import { exchange, retryableRequest, type Answer } from '../http/http.js';
import { fileBody, jsonBody, multipartBody, stdinBody, type RequestBody } from '../http/request-body.js';
import {
  fieldSource,
  HTTP_METHODS,
  nestFields,
  queryValue,
  type FieldSpec,
  type FieldValue,
  type FormPart,
} from '../http/request-fields.js';
import { redactSecrets } from '../base/untrusted-text.js';
import type { Deps } from '../broker/deps.js';
import type { Pagination, ProviderDescriptor } from '../model/model.js';

export interface ApiOptions {
  provider: ProviderDescriptor;
  profile: string;
  /** PATH (/me) or a full URL under the API base, as given. */
  target: string;
  /** -X, upper-cased; undefined for the default (GET, or POST with a body). */
  method?: string;
  headers: Array<[string, string]>;
  /** -f and -F, in the order given. */
  fields: FieldSpec[];
  form: FormPart[];
  /** --input PATH, or "-" for stdin. */
  input?: string;
  paginate: boolean;
  /** --max-pages: with --paginate, the most pages read; a next link past them is exit 5. */
  maxPages: number;
  include: boolean;
  silent: boolean;
  maxWaitSeconds: number;
}

/** Methods whose -f/-F fields are query parameters; any other sends them as a JSON body. */
const QUERY_METHODS = new Set(['GET', 'HEAD', 'DELETE']);
/** A page is parsed whole to find its items and next link; no more than this of it. */
const PAGE_LIMIT = 64 * 1024 * 1024;

export interface ApiPlan {
  method: string;
  base: ApiBase;
  url: URL;
  /** Fields go to the query string (GET, HEAD, DELETE) or make the JSON body. */
  fieldsIn: 'query' | 'body';
}

/**
 * Everything about the flags that can be judged without I/O, judged: the usage errors (exit 2) of
 * the contract, raised before the cache, the store or the network is looked at.
 */
export function planApiRequest(options: ApiOptions, env: Deps['env']): ApiPlan {
  const { provider } = options;
  if (options.method !== undefined && !(HTTP_METHODS as readonly string[]).includes(options.method)) {
    throw new UsageError(`unknown method "${options.method}"; use one of: ${HTTP_METHODS.join(', ')}`);
  }
  if (options.input !== undefined && options.form.length > 0)
    throw new UsageError('--input and --form both give the request body; use one');
  const rawBody = options.input !== undefined || options.form.length > 0;
  const method = options.method ?? (rawBody ? 'POST' : 'GET');
  if (rawBody && (method === 'GET' || method === 'HEAD')) {
    throw new UsageError(
      `a ${method} request has no body (${options.input !== undefined ? '--input' : '--form'}); use -X POST, PUT or PATCH`,
    );
  }
  const fieldsIn = QUERY_METHODS.has(method) ? 'query' : 'body';
  if (rawBody && fieldsIn === 'body' && options.fields.length > 0) {
    throw new UsageError(
      `-f/-F make a JSON body, which ${options.input !== undefined ? '--input' : '--form'} already gives; put query parameters in the PATH`,
    );
  }
  const stdinUsers = options.fields.filter((f) => f.typed && f.value === '@-').length + (options.input === '-' ? 1 : 0);
  if (stdinUsers > 1) throw new UsageError('stdin can be read once: only one of -F key=@- and --input - may use it');
  if (options.paginate) {
    if (!provider.loadPagination)
      throw new UsageError(`${provider.id} has no next-page links: --paginate does not apply`);
    if (method !== 'GET')
      throw new UsageError(
        '--paginate follows next-page links with GET requests; it cannot be combined with another method or a body',
      );
    if (options.include) throw new UsageError('--paginate prints one JSON array; --include does not apply');
  }
  const base = apiBase(provider, env);
  const url = resolveTarget(base, options.target, provider.id);
  return { method, base, url, fieldsIn };
}

export async function runApi(options: ApiOptions, deps: Deps): Promise<number> {
  const plan = planApiRequest(options, deps.env);
  const { provider, profile } = options;
  const { method, base } = plan;
  const url = new URL(plan.url);

  // The request, whole, before any credential is fetched: unreadable files are usage errors too.
  const values = await fieldValues(options.fields, deps);
  let body: RequestBody | undefined;
  if (plan.fieldsIn === 'query') {
    for (const { spec, value } of values) url.searchParams.append(spec.key, queryValue(value));
  } else if (values.length > 0) {
    body = jsonBody(nestFields(values));
  }
  if (options.input !== undefined)
    body = options.input === '-' ? stdinBody(deps.io.stdin) : await fileBody(options.input);
  if (options.form.length > 0) body = await multipartBody(options.form, `tokens-${randomBytes(16).toString('hex')}`);
  const headers: Record<string, string> = {};
  for (const [name, value] of options.headers)
    headers[name.toLowerCase()] = headers[name.toLowerCase()] ? `${headers[name.toLowerCase()]}, ${value}` : value;
  if (body?.contentType && headers['content-type'] === undefined) headers['content-type'] = body.contentType;
  const pagination = options.paginate ? await provider.loadPagination!() : undefined;

  const broker = new TokenBroker(deps);
  let credential = await broker.get(provider, profile, { minTtlSeconds: DEFAULT_MIN_TTL_SECONDS, forceRefresh: false });
  const out = new Output(deps.io.stdout);
  // Debug lines never carry a credential: the HTTP layer masks secret-looking query values, and
  // the one redaction of provider text (untrusted-text.ts) removes the credential's actual values.
  const secretValues = () => credentialHeaders(provider, credential).flatMap(([, v]) => [v, v.replace(/^\S+ /, '')]);
  const debug = (line: string) => deps.debug(redactSecrets(line, secretValues()));
  const http: Deps = { ...deps, debug };

  /** One request, with one refresh and one repeat after a 401. */
  const send = async (target: URL): Promise<Answer> => {
    const attempt = () =>
      exchange(http, {
        method,
        url: target,
        headers,
        credentials: credentialHeaders(provider, credential),
        credentialsGoTo: (url) => isUnderBase(base, url),
        ...(body ? { body } : {}),
        retry: retryableRequest(method, body),
        redirects: method === 'GET' || method === 'HEAD' ? 'follow' : 'return',
        maxRateLimitWaitMs: options.maxWaitSeconds * 1000,
        what: `${provider.id} (${method} ${pathUnderBase(base, target)})`,
        label: provider.id,
        rateLimitNoun: 'requests',
        verboseUrls: true,
      });
    let answer = await attempt();
    if (answer.status !== 401 || !answer.credentialsSent) return answer;
    await answer.discard();
    const refused = credential;
    if (refused.kind === 'static') throw rejected(provider, profile, 'the legacy API key');
    if (body && !body.replayable) {
      await broker.replaceRefused(provider, profile, refused.token.access_token, {
        minTtlSeconds: DEFAULT_MIN_TTL_SECONDS,
      });
      throw new UnavailableError(
        `${provider.id} refused the access token (401) and the body read from stdin was sent once, so the request was not repeated`,
        {
          hint: 'A fresh token is cached now: run the command again.',
        },
      );
    }
    debug(`${provider.id}: 401 for the access token; refreshing it once and repeating the request`);
    credential = await broker.replaceRefused(provider, profile, refused.token.access_token, {
      minTtlSeconds: DEFAULT_MIN_TTL_SECONDS,
    });
    answer = await attempt();
    if (answer.status === 401 && answer.credentialsSent) {
      await answer.discard();
      throw rejected(provider, profile, 'a freshly refreshed access token');
    }
    return answer;
  };

  try {
    if (pagination) await paginate(options, plan, url, pagination, send, out, debug);
    else await single(options, plan, await send(url), out);
  } catch (error) {
    if (error instanceof OutputClosed) return 0;
    throw error;
  }
  return 0;
}

async function single(options: ApiOptions, plan: ApiPlan, answer: Answer, out: Output): Promise<void> {
  if (options.include) await out.write(headBlock(answer));
  if (options.silent || plan.method === 'HEAD') await answer.discard();
  else for await (const chunk of answer.chunks()) await out.write(chunk);
  if (answer.status >= 400) throw statusError(options, plan, answer);
}

async function paginate(
  options: ApiOptions,
  plan: ApiPlan,
  first: URL,
  pagination: Pagination,
  send: (url: URL) => Promise<Answer>,
  out: Output,
  debug: (line: string) => void,
): Promise<void> {
  const { provider, maxPages } = options;
  const emit = (text: string) => (options.silent ? Promise.resolve() : out.write(text));
  let url = pagination.firstPage(first);
  const seen = new Set<string>();
  let items = 0;
  let open = false;
  try {
    for (let page = 1; ; page++) {
      seen.add(url.href);
      const answer = await send(url);
      if (answer.status >= 400) {
        // The first page's error body goes out as is; after that, the array is closed instead.
        if (open || options.silent) await answer.discard();
        else for await (const chunk of answer.chunks()) await out.write(chunk);
        throw statusError(options, { ...plan, url }, answer);
      }
      const fail = (why: string) =>
        new UnavailableError(`${provider.id} page ${page} (${pathUnderBase(plan.base, url)}): ${why}`);
      const text = await answer.text(PAGE_LIMIT);
      if (text === undefined) throw fail(`larger than ${PAGE_LIMIT / 1024 / 1024} MB, too large to paginate`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw fail('not JSON');
      }
      const read = pagination.readPage(parsed);
      if ('problem' in read) throw fail(read.problem);
      if (!open) await emit('[');
      open = true;
      for (const item of read.items) await emit(`${items++ === 0 ? '\n' : ',\n'}${JSON.stringify(item)}`);
      if (read.next === undefined) break;
      // A page with no items ends the walk whatever its link says: a server handing out empty pages,
      // each with a new link, would otherwise be asked (with the token) without end.
      if (read.items.length === 0) {
        debug(`${provider.id}: page ${page} is empty; its next-page link is not followed`);
        break;
      }
      if (page >= maxPages) {
        throw new UnavailableError(
          `${provider.id}: stopped after ${maxPages} pages (--max-pages); page ${page} links to more`,
          { hint: 'Raise --max-pages to read further; stdout holds the items read so far.' },
        );
      }
      const next = resolveNextPage(plan.base, url, read.next);
      if ('outside' in next)
        throw fail(`the next-page link leads to ${next.outside}, outside the API base ${plan.base.href}; not followed`);
      if (seen.has(next.url.href)) throw fail('the next-page link points back to a page already read');
      url = next.url;
    }
  } finally {
    // Whatever stopped the walk, what is on stdout stays one valid JSON array.
    if (open) await emit(items > 0 ? '\n]\n' : ']\n').catch(() => undefined);
  }
}

/** -F values read from their files and stdin; an unreadable file is a usage error. */
async function fieldValues(
  fields: readonly FieldSpec[],
  deps: Deps,
): Promise<Array<{ spec: FieldSpec; value: FieldValue }>> {
  const out: Array<{ spec: FieldSpec; value: FieldValue }> = [];
  for (const spec of fields) {
    const source = fieldSource(spec);
    if ('value' in source) out.push({ spec, value: source.value });
    else if ('stdin' in source) out.push({ spec, value: await readAll(deps.io.stdin) });
    else {
      try {
        out.push({ spec, value: await readFile(source.file, 'utf8') });
      } catch (error) {
        throw new UsageError(
          `-F ${spec.key}: cannot read ${source.file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
        );
      }
    }
  }
  return out;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer | string>)
    parts.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(parts).toString('utf8');
}

function reason(answer: Answer): string {
  return loadHttp().STATUS_CODES[answer.status] ?? answer.statusText;
}

/** -i: the status line and the headers, then a blank line, as curl -i prints them. */
function headBlock(answer: Answer): string {
  const lines = [`HTTP/1.1 ${answer.status} ${reason(answer)}`.trimEnd()];
  for (const [name, value] of answer.headers) if (name !== 'set-cookie') lines.push(`${name}: ${value}`);
  for (const cookie of answer.headers.getSetCookie()) lines.push(`set-cookie: ${cookie}`);
  return `${lines.join('\n')}\n\n`;
}

/** `soundcloud answered 404 Not Found for GET /users/1`: the body is on stdout already. */
function statusError(options: ApiOptions, plan: ApiPlan, answer: Answer): ApiStatusError {
  const where =
    answer.url.origin === plan.base.origin
      ? pathUnderBase(plan.base, answer.url)
      : `${answer.url.origin}${answer.url.pathname}`;
  return new ApiStatusError(
    `${options.provider.id} answered ${`${answer.status} ${reason(answer)}`.trim()} for ${plan.method} ${where}`,
  );
}

function rejected(provider: ProviderDescriptor, profile: string, what: string): CredentialsRejectedError {
  return new CredentialsRejectedError(
    `${provider.id} refused ${what} (401)`,
    { status: 401 },
    { hint: `Run \`${loginCommand(provider.id, profile)}\`.` },
  );
}

/** stdout went away (a reader such as `head` stopped): not an error, the run just ends. */
class OutputClosed extends Error {}

/** stdout with backpressure: each write waits while the reader is behind, so memory stays flat. */
class Output {
  #failed: Error | undefined;
  constructor(readonly stream: NodeJS.WritableStream) {
    stream.on('error', (error: Error) => (this.#failed = error));
  }

  async write(chunk: Uint8Array | string): Promise<void> {
    if (this.#failed) throw this.#closedOr(this.#failed);
    if (this.stream.write(chunk)) return;
    await new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        this.stream.off('drain', onDrain);
        this.stream.off('error', onError);
        if (error) reject(this.#closedOr(error));
        else resolve();
      };
      const onDrain = () => done();
      const onError = (error: Error) => done(error);
      this.stream.on('drain', onDrain);
      this.stream.on('error', onError);
    });
  }

  #closedOr(error: Error): Error {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' || code === 'ECONNRESET' ? new OutputClosed() : error;
  }
}
