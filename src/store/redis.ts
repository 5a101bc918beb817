// The `redis` store: one Redis server shared by many machines (cron hosts, CI runners, containers),
// so that one login serves them all and a refresh happens once per token lifetime for the fleet.
//
// Keys (P = TOKENS_REDIS_PREFIX, default "tokens:"; names carry only the prefix, profile and provider):
//   P kdf                              the scrypt header (salt, parameters) and a sealed check value
//   P PROFILE:PROVIDER:secrets         hash {v: random version, data: sealed secret bundle}
//   P PROFILE:PROVIDER:token           sealed access token, expiring with it (the shared cache)
//   P PROFILE:PROVIDER:settings        sealed non-secret settings (client id, mode, …)
//   P PROFILE:PROVIDER:failure         sealed failure left for the processes waiting on the lease
//   P PROFILE:PROVIDER:lease           the refresh lease: a random owner token, with an expiry
//   P PROFILE:PROVIDER:login           the login generation (32 hex digits, not sealed: no secret): new
//                                      at each login and refusal, gone at logout; every machine's
//                                      local cache entry records it and is used only while it is current
//   channel P PROFILE:PROVIDER:released  published on release, to wake waiters
// Every value is an AES-256-GCM box (src/store/crypto.ts, the file store's envelope and KDF) whose
// additional authenticated data names the key it was written under, so boxes cannot be swapped
// between keys. The key is derived once per process, on the first read that needs it.
//
// The lease is `SET lease OWNER NX PX LEASE_MS`, renewed by a compare-and-extend script while its
// holder works and released by compare-and-delete (which publishes the wake-up). The rotated bundle
// is written by compare-and-set on the version read under the lease: a holder that lost its lease
// (paused past it) and whose bundle has moved on never overwrites the newer chain.
//
// Every call is bounded by TOKENS_REDIS_TIMEOUT; nothing is retried and the client never reconnects.
import { randomBytes } from 'node:crypto';
import type { Redis as RedisClass, Redis as RedisClient, RedisOptions } from 'ioredis';
import { asAccessToken, LOGIN_GENERATION } from '../files/cache.js';
import { StoreError, TokensError, UnavailableError } from '../base/errors.js';
import {
  ENVELOPE_VERSION,
  hasExactKeys,
  isRecord,
  kdfHeader,
  KeyDeriver,
  newKdfParams,
  open,
  parseBox,
  parseKdfHeader,
  seal,
  type KdfParams,
} from './crypto.js';
import {
  ChainMovedError,
  SecretNotFoundError,
  asRecordedFailure,
  type CoordinationDeps,
  type PreparedWrite,
  type RefreshLock,
  type SecretStore,
  type SharedBackend,
  type SharedCoordination,
} from './store.js';
import type { RedisSettings } from './redis-env.js';
import { asPassphraseSource, type PassphraseOption, type PassphraseSource } from './passphrase.js';
import { sanitizeProviderText } from '../base/untrusted-text.js';
import type { ProviderSettings } from '../model/model.js';

/** How long a lease lasts unless renewed; renewed every third of it while the holder works. */
export const LEASE_MS = 10_000;
/** The fallback poll of a waiter that misses a wake-up (it subscribes before it tries, so rarely). */
const POLL_MS = 1_000;
/** A holder gives up within about 60 s (the HTTP budget); waiting longer than this means trouble. */
const DEFAULT_WAIT_MS = 90_000;
const CHECK_PLAINTEXT = 'tokens key check';

const EXTEND = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]); redis.call('PUBLISH', ARGV[2], '1'); return 1 else return 0 end`;
const COMPARE_AND_SET = `local v = redis.call('HGET', KEYS[1], 'v')
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'data', ARGV[3])
return 1`;

interface Scripts {
  tokensExtend(lease: string, owner: string, ms: number): Promise<number>;
  tokensRelease(lease: string, owner: string, channel: string): Promise<number>;
  tokensCompareAndSet(key: string, expected: string, version: string, data: string): Promise<number>;
}
type Client = RedisClient & Scripts;

export interface RedisStoreOptions extends RedisSettings {
  /** Asked when the key is first needed (src/store/passphrase.ts); a string is used as given. */
  passphrase: PassphraseOption;
  /** TOKENS_LOCK_TIMEOUT in ms, when set: how long a waiter waits for the lease. */
  waitMs?: number;
}

export class RedisStore implements SecretStore, SharedBackend {
  readonly kind = 'redis' as const;
  readonly where: string;
  readonly #options: RedisStoreOptions;
  readonly #passphrase: PassphraseSource;
  #client: Promise<Client> | undefined;
  #keys: KeyDeriver | undefined;
  #kdf: Promise<{ kdf: KdfParams; key: Buffer }> | undefined;

  constructor(options: RedisStoreOptions) {
    this.#options = options;
    this.#passphrase = asPassphraseSource(options.passphrase, 'redis');
    this.where = `redis (${options.address})`;
  }

  async check(): Promise<void> {
    await this.#key();
  }

  async get(key: string): Promise<string> {
    const name = this.#name(key, 'secrets');
    const data = await this.#call((c) => c.hget(name, 'data'));
    if (data === null) throw new SecretNotFoundError(key);
    return this.#open(name, data);
  }

  async set(key: string, value: string): Promise<void> {
    const name = this.#name(key, 'secrets');
    const data = await this.#seal(name, value);
    await this.#call((c) => c.hset(name, 'v', newVersion(), 'data', data));
  }

  async delete(key: string): Promise<boolean> {
    return (await this.#call((c) => c.del(this.#name(key, 'secrets')))) > 0;
  }

  async list(): Promise<string[]> {
    const found: string[] = [];
    const pattern = `${globEscape(this.#options.prefix)}*:*:secrets`;
    let cursor = '0';
    do {
      const [next, names] = await this.#call((c) => c.scan(cursor, 'MATCH', pattern, 'COUNT', 200));
      cursor = next;
      for (const n of names) {
        const [profile, provider] = n.slice(this.#options.prefix.length).split(':');
        if (profile && provider) found.push(`${profile}/${provider}`);
      }
    } while (cursor !== '0');
    return [...new Set(found)].sort();
  }

  /** The bundle and its version; the commit is a compare-and-set on that version. */
  async prepareWrite(key: string): Promise<PreparedWrite> {
    const name = this.#name(key, 'secrets');
    const [version, data] = await this.#call((c) => c.hmget(name, 'v', 'data'));
    if (version === null || version === undefined || data === null || data === undefined)
      throw new SecretNotFoundError(key);
    const value = await this.#open(name, data);
    return {
      value,
      commit: async (next) => {
        const sealed = await this.#seal(name, next);
        const written = await this.#call((c) => c.tokensCompareAndSet(name, version, newVersion(), sealed));
        if (written !== 1) throw new ChainMovedError(key);
      },
    };
  }

  /** The lease, shared token cache, settings, failure board and login generation of one profile and provider. */
  coordination(profile: string, provider: string, deps: CoordinationDeps): SharedCoordination {
    const key = `${profile}/${provider}`;
    const sealedValue = (role: string, ttlMs?: (text: string) => number | undefined) => {
      const name = this.#name(key, role);
      return {
        read: async (): Promise<string | undefined> => {
          const data = await this.#call((c) => c.get(name));
          return data === null ? undefined : this.#open(name, data);
        },
        write: async (text: string): Promise<void> => {
          const data = await this.#seal(name, text);
          const ms = ttlMs?.(text);
          if (ms !== undefined && ms <= 0) return;
          await this.#call((c) => (ms === undefined ? c.set(name, data) : c.set(name, data, 'PX', ms)));
        },
        delete: async (): Promise<void> => {
          await this.#call((c) => c.del(name));
        },
      };
    };
    // The login generation is not sealed: no secret, and the fast path reads it without the key.
    const loginName = loginKey(this.#options.prefix, profile, provider);
    const renew = async () => {
      const value = newGeneration();
      await this.#call((c) => c.set(loginName, value));
      return value;
    };
    const token = sealedValue('token', (text) => (JSON.parse(text) as { expires_at: number }).expires_at - deps.now());
    const settings = sealedValue('settings');
    const failure = sealedValue('failure');
    return {
      sharedCache: {
        read: async () => asAccessToken(parseJson(await token.read())),
        write: (t) => token.write(JSON.stringify(t)),
        delete: token.delete,
      },
      sharedSettings: {
        read: async () => {
          const text = await settings.read();
          if (text === undefined) return undefined;
          const { parseSettings } = await import('../files/config-schema.js');
          return parseSettings(parseJson(text));
        },
        write: (s: ProviderSettings) => settings.write(JSON.stringify(s)),
        delete: settings.delete,
      },
      failures: {
        read: async () => {
          const text = await failure.read();
          return text === undefined ? undefined : (asRecordedFailure(parseJson(text)) ?? 'damaged');
        },
        write: (record) => failure.write(JSON.stringify(record)),
        clear: failure.delete,
      },
      login: {
        read: async () => {
          const value = await this.#call((c) => c.get(loginName));
          return value !== null && LOGIN_GENERATION.test(value) ? value : undefined;
        },
        ensure: async () => {
          await this.#call((c) => c.set(loginName, newGeneration(), 'NX'));
          const value = await this.#call((c) => c.get(loginName));
          // Replaced by something that is not one of ours: a new one, so no cache entry matches it.
          return value !== null && LOGIN_GENERATION.test(value) ? value : renew();
        },
        renew,
        delete: async () => {
          await this.#call((c) => c.del(loginName));
        },
      },
      sharedLock: this.#lease(key, deps),
    };
  }

  /** Warnings for `status`: a server that would lose every login on a restart. */
  async warnings(): Promise<string[]> {
    const info = await this.#call((c) => c.info('persistence'));
    if (/^aof_enabled:1\s*$/m.test(info)) return [];
    const client = await this.#connection();
    let save: unknown;
    try {
      save = await client.config('GET', 'save');
    } catch (error) {
      // Managed servers often refuse CONFIG (an error reply): say what we cannot tell, and go on.
      if (!(error instanceof Error && error.name === 'ReplyError')) throw this.#failure(error, this.#lastError);
      return [
        `cannot tell whether Redis at ${this.#options.address} keeps its data across a restart (AOF is off, and it refused CONFIG GET save); make sure it has RDB save points or AOF`,
      ];
    }
    const points = Array.isArray(save) ? String(save[1] ?? '') : '';
    if (points.trim() !== '') return [];
    return [
      `Redis at ${this.#options.address} keeps no persistence (no AOF, no RDB save points): a restart of the server loses every login`,
    ];
  }

  // --- the lease -----------------------------------------------------------------------------------

  #lease(key: string, deps: CoordinationDeps): RefreshLock {
    const lease = this.#name(key, 'lease');
    const channel = this.#name(key, 'released');
    const address = this.#options.address;
    const waitMs = this.#options.waitMs ?? DEFAULT_WAIT_MS;
    return {
      run: async (what, fn) => {
        const owner = randomBytes(16).toString('hex');
        await this.#acquire(lease, channel, owner, what, waitMs, deps);
        let lost = false;
        let renewal: NodeJS.Timeout | undefined;
        const renew = () => {
          renewal = setTimeout(() => {
            this.#call((c) => c.tokensExtend(lease, owner, LEASE_MS)).then(
              (extended) => {
                if (extended !== 1) {
                  lost = true;
                  deps.debug(
                    `the refresh lease for ${what} was lost (it expired while this process was paused or cut off)`,
                  );
                } else if (!lost) renew();
              },
              () => {
                // Unreachable now: the check before sending and the compare-and-set decide.
                if (!lost) renew();
              },
            );
          }, LEASE_MS / 3);
        };
        renew();
        try {
          return await fn({
            stillHeld: async () => !lost && (await this.#call((c) => c.get(lease))) === owner,
          });
        } finally {
          clearTimeout(renewal);
          await this.#call((c) => c.tokensRelease(lease, owner, channel)).catch(() =>
            deps.debug(`could not release the refresh lease on ${address}; it expires within ${LEASE_MS / 1000} s`),
          );
        }
      },
    };
  }

  /** Takes the lease, waiting for its release (a message on `channel`) or, failing that, a short poll. */
  async #acquire(
    lease: string,
    channel: string,
    owner: string,
    what: string,
    waitMs: number,
    deps: CoordinationDeps,
  ): Promise<void> {
    const deadline = deps.now() + waitMs;
    let subscriber: RedisClient | undefined;
    let wake: (() => void) | undefined;
    try {
      for (;;) {
        if ((await this.#call((c) => c.set(lease, owner, 'PX', LEASE_MS, 'NX'))) === 'OK') return;
        if (!subscriber) {
          // Subscribe, then try again: a release between the two is not missed.
          deps.debug(`waiting for another tokens process (on any machine) to finish with ${what}`);
          subscriber = (await this.#connection()).duplicate();
          subscriber.on('error', () => undefined);
          subscriber.on('message', () => wake?.());
          await this.#call(() => subscriber!.subscribe(channel));
          continue;
        }
        if (deps.now() >= deadline) {
          throw new UnavailableError(
            `gave up after ${Math.round(waitMs / 1000)} s waiting for another tokens process to finish with ${what}`,
            {
              hint: `The lease in Redis at ${this.#options.address} expires by itself within ${LEASE_MS / 1000} s of its holder stopping.`,
            },
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, POLL_MS + Math.round(deps.random() * 200));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      subscriber?.disconnect();
    }
  }

  // --- sealing -------------------------------------------------------------------------------------

  async #seal(name: string, text: string): Promise<string> {
    const { kdf, key } = await this.#key();
    const plain = Buffer.from(text, 'utf8');
    try {
      return JSON.stringify({ v: ENVELOPE_VERSION, ...seal(key, plain, aad(kdf, name)) });
    } finally {
      plain.fill(0);
    }
  }

  async #open(name: string, data: string): Promise<string> {
    const { kdf, key } = await this.#key();
    const json = parseJson(data);
    const box =
      isRecord(json) && hasExactKeys(json, ['v', 'iv', 'tag', 'ct']) && json.v === ENVELOPE_VERSION
        ? parseBox(json)
        : undefined;
    const plain = box && open(key, box, aad(kdf, name));
    if (!plain) {
      throw new StoreError(
        `cannot decrypt ${name.slice(this.#options.prefix.length)} in Redis at ${this.#options.address}: wrong TOKENS_PASSPHRASE, or the value was changed`,
        {
          hint: 'Check TOKENS_PASSPHRASE: every machine sharing this Redis store needs the same one.',
        },
      );
    }
    try {
      return plain.toString('utf8');
    } finally {
      plain.fill(0);
    }
  }

  /** The KDF header from Redis (created by the first process ever), and the key, checked against it. */
  #key(): Promise<{ kdf: KdfParams; key: Buffer }> {
    this.#kdf ??= this.#loadKey();
    this.#kdf.catch(() => (this.#kdf = undefined));
    return this.#kdf;
  }

  async #loadKey(): Promise<{ kdf: KdfParams; key: Buffer }> {
    const passphrase = await this.#passphrase();
    this.#keys ??= new KeyDeriver(passphrase);
    const name = `${this.#options.prefix}kdf`;
    let stored = await this.#call((c) => c.get(name));
    if (stored === null) {
      const kdf = newKdfParams();
      const key = await this.#derive(kdf);
      const record = JSON.stringify({
        v: ENVELOPE_VERSION,
        kdf: kdfHeader(kdf),
        check: seal(key, Buffer.from(CHECK_PLAINTEXT), aad(kdf, name)),
      });
      // The first process ever to write wins; everyone else uses its salt.
      if ((await this.#call((c) => c.set(name, record, 'NX'))) === 'OK') return { kdf, key };
      stored = await this.#call((c) => c.get(name));
      if (stored === null) throw this.#damagedHeader(name);
    }
    const json = parseJson(stored);
    const kdf = isRecord(json) && json.v === ENVELOPE_VERSION ? parseKdfHeader(json.kdf) : undefined;
    const check = isRecord(json) && isRecord(json.check) ? parseBox(json.check) : undefined;
    if (!kdf || !check) throw this.#damagedHeader(name);
    const key = await this.#derive(kdf);
    if (open(key, check, aad(kdf, name))?.toString('utf8') !== CHECK_PLAINTEXT) {
      throw new StoreError(`cannot decrypt the Redis store at ${this.#options.address}: wrong TOKENS_PASSPHRASE`, {
        hint: 'Every machine sharing this Redis store (and prefix) needs the same TOKENS_PASSPHRASE.',
      });
    }
    return { kdf, key };
  }

  async #derive(kdf: KdfParams): Promise<Buffer> {
    try {
      return await this.#keys!.keyFor(kdf);
    } catch (error) {
      throw new StoreError(
        `cannot derive the key for the Redis store: ${error instanceof Error ? error.message : 'error'}`,
      );
    }
  }

  #damagedHeader(name: string): StoreError {
    return new StoreError(
      `the key header ${name.slice(this.#options.prefix.length)} in Redis at ${this.#options.address} is damaged`,
      {
        hint: `If every login in this store is lost anyway, delete ${name} and log in again.`,
      },
    );
  }

  // --- the connection ------------------------------------------------------------------------------

  #name(key: string, role: string): string {
    const [profile, provider] = key.split('/');
    return `${this.#options.prefix}${profile}:${provider}:${role}`;
  }

  /** One Redis call, bounded by TOKENS_REDIS_TIMEOUT; every failure is a StoreError naming HOST:PORT only. */
  async #call<T>(fn: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.#connection();
    try {
      return await fn(client);
    } catch (error) {
      throw this.#failure(error, this.#lastError);
    }
  }

  #lastError: unknown;

  #connection(): Promise<Client> {
    this.#client ??= (async () => {
      // A CommonJS package: bundled, its exports may arrive under `default`.
      const loaded = (await import('ioredis')) as unknown as {
        Redis?: typeof RedisClass;
        default?: { Redis?: typeof RedisClass };
      };
      const Redis = loaded.Redis ?? loaded.default?.Redis;
      if (!Redis) throw new StoreError('the Redis client (ioredis) failed to load; reinstall tokens');
      // Every option whose default shapes a failure is set here, so an ioredis release that changes
      // defaults (6.0 did: RESP3, 20 retries) cannot change how long a call may take.
      const options: RedisOptions = {
        // RESP2: what every Redis-compatible server and proxy speaks, with no HELLO to negotiate or fall back from.
        protocol: 2,
        // One connection attempt, made by the first command, which waits for it in the offline queue;
        // commandTimeout runs from the moment a command is queued, so that wait is bounded too.
        lazyConnect: true,
        enableOfflineQueue: true,
        connectTimeout: this.#options.timeoutMs,
        commandTimeout: this.#options.timeoutMs,
        // Never reconnect, never retry or replay a command: a failure is exit 6 now, not a wait.
        retryStrategy: () => null,
        reconnectOnError: () => false,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        autoResubscribe: false,
        // No INFO or CLIENT SETINFO round trips before the first command.
        enableReadyCheck: false,
        disableClientInfo: true,
        enableAutoPipelining: false,
        // Off: the subscriber connection waiting for a release is silent by design.
        socketTimeout: undefined,
      };
      const client = new Redis(this.#options.url, options) as Client;
      client.on('error', (error: unknown) => (this.#lastError = error));
      client.defineCommand('tokensExtend', { numberOfKeys: 1, lua: EXTEND });
      client.defineCommand('tokensRelease', { numberOfKeys: 1, lua: RELEASE });
      client.defineCommand('tokensCompareAndSet', { numberOfKeys: 1, lua: COMPARE_AND_SET });
      return client;
    })();
    return this.#client;
  }

  #failure(error: unknown, last: unknown): TokensError {
    if (error instanceof TokensError) return error;
    const at = `Redis at ${this.#options.address}`;
    const text = [error, last]
      .map((e) => (e instanceof Error ? `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}` : ''))
      .join(' ');
    const hint = 'Check TOKENS_REDIS_URL and that the server is up; a fresh cached token still answers meanwhile.';
    if (/WRONGPASS|NOAUTH|invalid password|invalid username-password/i.test(text)) {
      return new StoreError(`${at} refused the password in TOKENS_REDIS_URL`, {
        hint: 'Check the password in TOKENS_REDIS_URL.',
      });
    }
    if (/timed? ?out|ETIMEDOUT/i.test(text))
      return new StoreError(`${at} did not answer within ${this.#options.timeoutMs / 1000} s`, { hint });
    const code = /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|EHOSTUNREACH|ENETUNREACH|EPIPE)\b/.exec(text)?.[1];
    if (code || /Connection is closed|connection/i.test(text))
      return new StoreError(`cannot reach ${at}${code ? ` (${code})` : ''}`, { hint });
    // The server's words are untrusted text (escape sequences, an echoed password): cleaned for the terminal.
    const password = new URL(this.#options.url).password;
    const secrets = [password, decodedOr(password), this.#passphrase.known() ?? ''];
    const reply = sanitizeProviderText(
      /^(ERR|[A-Z]+)\b[^\n]*/.exec(error instanceof Error ? error.message : '')?.[0] ?? '',
      120,
      secrets,
    );
    return new StoreError(`${at} answered with an error${reply ? ` (${reply})` : ''}`, { hint });
  }
}

/** The additional authenticated data of the box under `name`: the envelope version, KDF header and key name. */
function aad(kdf: KdfParams, name: string): Buffer {
  return Buffer.from(JSON.stringify({ v: ENVELOPE_VERSION, kdf: kdfHeader(kdf), key: name }), 'utf8');
}

function newVersion(): string {
  return randomBytes(12).toString('base64url');
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Percent-decoded, or as it is when it does not decode. */
function decodedOr(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** The key of a login generation. */
function loginKey(prefix: string, profile: string, provider: string): string {
  return `${prefix}${profile}:${provider}:login`;
}

/** A new login generation: 128 random bits. */
function newGeneration(): string {
  return randomBytes(16).toString('hex');
}
