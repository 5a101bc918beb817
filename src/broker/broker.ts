// The heart of `tokens get` and `exec`: a valid access token from a cache when it will do, else one
// refresh per provider and profile however many callers ask, on however many machines share a store.
// The order is written here once, over the store's secrets and its coordination (src/store/store.ts):
//   local cache → local lock → local cache again → shared cache → shared lock → re-read the caches
//   → mint → persist the rotated bundle (compare-and-set on what was read) → shared cache → local cache.
// Single flight inside the process; across processes the local lock, so that of the processes on one
// machine only one goes on to the shared store (the others find its token in the local cache, with no
// key derived and no call to the store); across machines the store's shared lock, when it has one.
import { readCache, isFresh, lifetimeMs, loginStandsLocally, writeCache, type CacheRead } from '../files/cache.js';
import {
  CredentialsRejectedError,
  ExitCode,
  NotConfiguredError,
  StoreError,
  TokensError,
  UnavailableError,
  UsageError,
} from '../base/errors.js';
import { storeKindFromEnv } from '../model/store-locations.js';
import { sanitizeProviderText } from '../base/untrusted-text.js';
import { loginCommand } from '../model/hints.js';
import type { Deps } from './deps.js';
import type {
  AccessToken,
  Credential,
  MintResult,
  ProviderAdapter,
  ProviderContext,
  ProviderDescriptor,
  Secrets,
} from '../model/model.js';
import type {
  Coordination,
  FailureBoard,
  HeldLock,
  LoginGeneration,
  PreparedWrite,
  RecordedFailure,
  RefreshLock,
  SecretStore,
} from '../store/store.js';

/** What a caller needs of a token. */
export interface TokenNeeds {
  minTtlSeconds: number;
  /**
   * True when the caller asked for minTtlSeconds (--min-ttl): a token that cannot meet it is an
   * error. Otherwise it is the default margin, which shrinks for short-lived tokens (isFresh).
   */
  minTtlGiven?: boolean;
  forceRefresh: boolean;
}

/** One refresh under way: what it is for, and the store it works with once the local lock is held. */
interface Refresh {
  readonly provider: ProviderDescriptor;
  readonly profile: string;
  readonly options: TokenNeeds;
  /** When this process began asking: a failure recorded since then is its answer too. */
  readonly asked: number;
  /** What the caches held when the call began: with --force-refresh, the token not to hand out again. */
  readonly replacing: CacheRead;
  readonly secrets: SecretStore;
  readonly coordination: Coordination;
  readonly ctx: ProviderContext;
  readonly adapter: ProviderAdapter;
  /** The shared login's generation when the refresh began (a shared store), recorded with the token cached. */
  readonly login: string | undefined;
}

export function secretKey(profile: string, provider: string): string {
  return `${profile}/${provider}`;
}

export class TokenBroker {
  readonly #deps: Deps;
  readonly #inflight = new Map<string, Promise<Credential>>();

  constructor(deps: Deps) {
    this.#deps = deps;
  }

  async get(provider: ProviderDescriptor, profile: string, options: TokenNeeds): Promise<Credential> {
    const seen = await this.#readLocal(profile, provider);
    if (
      !options.forceRefresh &&
      seen.kind === 'hit' &&
      isFresh(seen.token, this.#deps.now(), options.minTtlSeconds, options.minTtlGiven)
    ) {
      return { kind: 'token', token: seen.token };
    }
    // A fresh token would not meet --min-ttl either: say so rather than mint (and rotate) in vain.
    if (seen.kind === 'hit') refuseUnreachableMinTtl(seen.token, provider, options);
    const key = secretKey(profile, provider.id);
    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = this.#refresh(provider, profile, options, seen).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  /**
   * A credential to repeat a request with, after the API refused the access token `refused` (401).
   * "Refresh only if the cache still holds the refused token": when the cache (read again under the
   * lock, as for get) already holds another token, some other caller has refreshed, and that token
   * is used; otherwise this caller refreshes. So N callers refused with the same token cause one
   * refresh, not N.
   */
  async replaceRefused(
    provider: ProviderDescriptor,
    profile: string,
    refused: string,
    options: Omit<TokenNeeds, 'forceRefresh'>,
  ): Promise<Credential> {
    const seen = await this.#readLocal(profile, provider);
    if (
      seen.kind === 'hit' &&
      seen.token.access_token !== refused &&
      isFresh(seen.token, this.#deps.now(), options.minTtlSeconds)
    ) {
      return { kind: 'token', token: seen.token };
    }
    const key = `${secretKey(profile, provider.id)} refused ${refused}`;
    let pending = this.#inflight.get(key);
    if (!pending) {
      // What #refresh compares the cache with under the lock: the refused token, as if just read.
      const refusedSeen: CacheRead = {
        kind: 'hit',
        token: { access_token: refused, token_type: provider.authScheme, expires_at: 0 },
      };
      pending = this.#refresh(provider, profile, { ...options, forceRefresh: true }, refusedSeen).finally(() =>
        this.#inflight.delete(key),
      );
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  async #refresh(
    provider: ProviderDescriptor,
    profile: string,
    options: TokenNeeds,
    seen: CacheRead,
  ): Promise<Credential> {
    const deps = this.#deps;
    const store = await deps.openStore();
    const { secrets } = store;
    const coordination = store.coordination(profile, provider.id, deps);
    const what = `${provider.id} (profile ${profile})`;
    // A process that began waiting for another's refresh on the fast path (Deps.askedAt) shares a
    // failure recorded since then, as one that waited here would.
    const asked = Math.min(deps.askedAt ?? Infinity, deps.now());
    // Code first, outside the lock: its holder should hold it no longer than the work takes.
    const [{ loadProviderContext }, adapter] = await Promise.all([import('./context.js'), provider.loadAdapter()]);
    // A lock lost before anything was sent (this process was too slow to renew it, and another took
    // it over) costs nothing: wait for the lock again, and most likely find the other's token.
    for (let attempt = 1; ; attempt++) {
      try {
        return await coordination.lock.run(what, async (local) => {
          // Another process on this machine may have refreshed while we waited: no store, no request.
          const mine = await this.#readLocal(profile, provider, coordination);
          if (mine.kind === 'hit' && this.#willDo(mine.token, options, seen))
            return { kind: 'token', token: mine.token };
          const ctx = await loadProviderContext(deps, provider, profile, coordination.sharedSettings);
          if (adapter.staticCredentials?.(ctx.settings, {})) {
            const stored = await readSecrets(secrets, secretKey(profile, provider.id), provider, profile);
            return { kind: 'static', credentials: adapter.staticCredentials(ctx.settings, stored)! };
          }
          // The shared login's generation, read before its token: an entry cached with it is
          // never newer than the login (login.ts replaces the token before the generation).
          const login = await coordination.login?.ensure();
          // Or another machine: its token, no lease, no request.
          const shared = await coordination.sharedCache?.read();
          // With --force-refresh and nothing cached here, the shared token is the one to replace.
          const replacing: CacheRead =
            options.forceRefresh && seen.kind !== 'hit' && shared ? { kind: 'hit', token: shared } : seen;
          if (shared && this.#willDo(shared, options, replacing)) {
            await this.#cacheLocally(profile, provider, shared, login);
            return { kind: 'token', token: shared };
          }
          const job: Refresh = {
            provider,
            profile,
            options,
            asked,
            replacing,
            secrets,
            coordination,
            ctx,
            adapter,
            login,
          };
          return (coordination.sharedLock ?? ONE_MACHINE).run(what, (remote) =>
            this.#underLock(job, bothHeld(local, remote)),
          );
        });
      } catch (error) {
        if (!(error instanceof LostBeforeSending) || attempt >= MAX_LOCK_ATTEMPTS)
          throw error instanceof LostBeforeSending ? error.reported : error;
        deps.debug(`lost the lock for ${what} before sending anything; waiting for it again`);
      }
    }
  }

  /** A token found in a cache will do: fresh enough, and with --force-refresh not the one to replace. */
  #willDo(token: AccessToken, options: TokenNeeds, seen: CacheRead): boolean {
    if (!isFresh(token, this.#deps.now(), options.minTtlSeconds, options.minTtlGiven)) return false;
    const changed = seen.kind !== 'hit' || seen.token.access_token !== token.access_token;
    return !options.forceRefresh || changed;
  }

  async #underLock(job: Refresh, held: HeldLock): Promise<Credential> {
    const { coordination, asked, options } = job;
    // Another process may have refreshed while we waited for the lock: use its token.
    const fresh = await this.#freshAfterWait(job);
    if (fresh) return { kind: 'token', token: fresh };
    // Or tried while we waited, and failed: the same request now would fail the same way (or,
    // after a lost rotation, send a spent refresh token). Give up with its answer.
    const recorded = await coordination.failures.read().catch(() => undefined);
    const recentFailure =
      recorded && recorded !== 'damaged' ? sharedWith(recorded, asked, this.#deps.now()) : undefined;
    if (recentFailure) throw recentFailure;
    try {
      const token = await this.#mintAndPersist(job, held);
      if (recorded !== undefined && (recorded === 'damaged' || recorded.sharing !== 'sticky'))
        await coordination.failures.clear().catch(() => undefined);
      refuseUnreachableMinTtl(token, job.provider, options);
      return { kind: 'token', token };
    } catch (error) {
      // The provider said "log in again": no cached token of this login is handed out any more,
      // here or on another machine sharing the store (the record keeps every later get from asking).
      if (error instanceof CredentialsRejectedError) await this.#forgetTokens(job);
      await recordFailure(coordination.failures, error, this.#deps);
      throw error;
    }
  }

  async #forgetTokens({ coordination, profile, provider }: Refresh): Promise<void> {
    const { deleteCache } = await import('../files/cache.js');
    const why = (error: unknown) => (error instanceof Error ? error.message : 'error');
    await coordination.sharedCache
      ?.delete()
      .catch((error: unknown) => this.#deps.debug(`could not delete the shared token cache (${why(error)})`));
    // A new generation: every machine's cached token of this login is used no more.
    await coordination.login
      ?.renew()
      .catch((error: unknown) => this.#deps.debug(`could not renew the shared login generation (${why(error)})`));
    await deleteCache(this.#deps.paths, profile, provider.id).catch((error: unknown) =>
      this.#deps.debug(`could not delete the token cache (${why(error)})`),
    );
  }

  /** The token in the local or shared cache once the lock is held, when it will do. */
  async #freshAfterWait({
    profile,
    provider,
    options,
    replacing,
    coordination,
    login,
  }: Refresh): Promise<AccessToken | undefined> {
    const local = await this.#readLocal(profile, provider, coordination);
    const shared = await coordination.sharedCache?.read();
    if (local.kind === 'hit' && this.#willDo(local.token, options, replacing)) return local.token;
    if (shared && this.#willDo(shared, options, replacing)) {
      await this.#cacheLocally(profile, provider, shared, login);
      return shared;
    }
    return undefined;
  }

  async #mintAndPersist(job: Refresh, held: HeldLock): Promise<AccessToken> {
    const { secrets: store, coordination, ctx, adapter, provider, profile, login } = job;
    const deps = this.#deps;
    const key = secretKey(profile, provider.id);
    let write = await prepareWrite(store, key, provider, profile);
    let secrets = parseSecrets(write.value, provider, profile);
    // Nothing is spent before this check: a holder that lost its lock (paused, cut off) sends nothing.
    const stillMine = async () => {
      if (!(await held.stillHeld())) throw new LostBeforeSending(lostBeforeSending(provider, profile));
    };
    await stillMine();
    // Nor again: every repeat inside http.ts (a 429 waited out, a 503, a connection never made) is
    // checked the same way, so a holder paused past its lease never sends what another now owns.
    const guarded: ProviderContext = { ...ctx, deps: { ...ctx.deps, beforeResend: stillMine } };
    const persist = (rotated: Secrets | undefined, before: Secrets) =>
      rotated && !sameSecrets(rotated, before)
        ? persistRotated(write, rotated, provider, profile, ctx.settings)
        : Promise.resolve();
    let result;
    try {
      result = await mintKeepingRotation(
        () => adapter.mint(guarded, secrets),
        (rotated) => persist(rotated, secrets),
      );
    } catch (error) {
      // A rejected refresh token that changed in the store meanwhile means we lost a race with a
      // process outside our lock (an older tokens, a login): try once more with the new one. Unless
      // the lock is no longer ours: then the change is the newer chain of the process that took it.
      const { isInvalidGrant } = await import('../oauth/oauth.js');
      if (!isInvalidGrant(error)) throw error;
      if (!(await held.stillHeld())) throw lostLeaseRefused(provider, profile);
      const latest = await prepareWrite(store, key, provider, profile);
      const latestSecrets = parseSecrets(latest.value, provider, profile);
      if (latestSecrets.refresh_token === secrets.refresh_token) throw error;
      deps.debug(`${provider.id}: refresh token changed meanwhile; retrying with the new one`);
      write = latest;
      secrets = latestSecrets;
      result = await mintKeepingRotation(
        () => adapter.mint(guarded, secrets),
        (rotated) => persist(rotated, secrets),
      );
    }
    // Persistence order: a rotated secret reaches the store before the token is cached or printed.
    await persist(result.secrets, secrets);
    await coordination.sharedCache
      ?.write(result.token)
      .catch((error: unknown) =>
        deps.debug(
          `could not write the shared token cache (${error instanceof Error ? error.message : 'error'}); continuing without it`,
        ),
      );
    await this.#cacheLocally(profile, provider, result.token, login);
    return result.token;
  }

  /**
   * The local cache. With a shared store, an entry from a login that has ended since (a logout,
   * another login, a refusal, on any machine) counts as absent: it is used only while the login
   * generation it recorded is the store's. A store that cannot be reached cannot have ended one.
   */
  async #readLocal(profile: string, provider: ProviderDescriptor, coordination?: Coordination): Promise<CacheRead> {
    const read = await readCache(this.#deps.paths, profile, provider.id);
    this.#reportDamage(read, provider);
    if (read.kind !== 'hit') return read;
    if (!coordination && loginStandsLocally(read, this.#deps.env, this.#deps.now())) return read;
    const generation = coordination ? coordination.login : await this.#sharedLogin(profile, provider);
    if (!generation) return read;
    let current: string | undefined;
    try {
      current = await generation.read();
    } catch (error) {
      this.#deps.debug(
        `could not read the shared login generation (${error instanceof Error ? error.message : 'error'}); using the cached token`,
      );
      return read;
    }
    if (current !== undefined && current === read.login) {
      // Confirmed: the next gets within LOGIN_CHECK_MS answer from the file alone.
      await this.#cacheLocally(profile, provider, read.token, current);
      return read;
    }
    this.#deps.debug(`the cached ${provider.id} token is from a shared login that has ended; not using it`);
    return { kind: 'absent' };
  }

  /** The login generation of a shared store (Redis); undefined for a store on this machine. */
  async #sharedLogin(profile: string, provider: ProviderDescriptor): Promise<LoginGeneration | undefined> {
    if (storeKindFromEnv(this.#deps.env) !== 'redis') return undefined;
    return (await this.#deps.openStore()).coordination(profile, provider.id, this.#deps).login;
  }

  async #cacheLocally(
    profile: string,
    provider: ProviderDescriptor,
    token: AccessToken,
    login: string | undefined,
  ): Promise<void> {
    const shared = login === undefined ? undefined : { login, checkedAt: this.#deps.now() };
    await writeCache(this.#deps.paths, profile, provider.id, token, shared).catch((error: unknown) =>
      this.#deps.debug(
        `could not write the token cache (${error instanceof Error ? error.message : 'error'}); continuing without it`,
      ),
    );
  }

  #reportDamage(read: CacheRead, provider: ProviderDescriptor): void {
    if (read.kind === 'damaged')
      this.#deps.debug(`ignoring damaged ${provider.id} token cache: ${read.reason}; it will be rebuilt`);
  }
}

async function prepareWrite(
  store: SecretStore,
  key: string,
  provider: ProviderDescriptor,
  profile: string,
): Promise<PreparedWrite> {
  const { isNotFound } = await import('../store/store.js');
  try {
    return await store.prepareWrite(key);
  } catch (error) {
    if (isNotFound(error)) throw notLoggedIn(provider, profile);
    throw error;
  }
}

/** The shared lock of a store that lives on one machine: the local lock is all there is. */
const ONE_MACHINE: RefreshLock = { run: (_what, fn) => fn({ stillHeld: async () => true }) };

function bothHeld(local: HeldLock, remote: HeldLock): HeldLock {
  return { stillHeld: async () => (await local.stillHeld()) && (await remote.stillHeld()) };
}

/**
 * Runs a mint; when the answer rotated the refresh token but its access token was refused
 * (UnusableTokenError), the new refresh token is stored first, then the error goes on.
 */
async function mintKeepingRotation(
  mint: () => Promise<MintResult>,
  persist: (rotated: Secrets) => Promise<void>,
): Promise<MintResult> {
  try {
    return await mint();
  } catch (error) {
    const { UnusableTokenError } = await import('../providers/common.js');
    if (error instanceof UnusableTokenError && error.rotated) await persist(error.rotated);
    throw error;
  }
}

/**
 * --min-ttl longer than the provider's token lifetime can never be met: exit 2 naming both, so a
 * loop of gets does not mint (and spend a rotation, or SoundCloud's 50-per-12-h quota) each time.
 */
function refuseUnreachableMinTtl(token: AccessToken, provider: ProviderDescriptor, options: TokenNeeds): void {
  const lifetime = lifetimeMs(token);
  if (!options.minTtlGiven || lifetime === undefined || lifetime <= 0 || options.minTtlSeconds * 1000 <= lifetime)
    return;
  throw new UsageError(
    `--min-ttl ${options.minTtlSeconds} is longer than the lifetime of ${provider.title} tokens (${Math.floor(lifetime / 1000)} s)`,
    {
      hint: `Ask for at most --min-ttl ${Math.floor(lifetime / 1000)}.`,
    },
  );
}

/** How often a process waits for the lock again after losing it before it sent anything. */
const MAX_LOCK_ATTEMPTS = 3;

/** The lock was lost before anything was sent: try again (see #refresh), else report `reported`. */
class LostBeforeSending extends Error {
  constructor(readonly reported: StoreError) {
    super(reported.message);
  }
}

function lostBeforeSending(provider: ProviderDescriptor, profile: string): StoreError {
  return new StoreError(
    `this process kept losing the refresh lock for ${provider.id} (profile ${profile}) before it could send a refresh (it was paused or too slow to renew it); nothing was sent or written`,
    { hint: 'Another tokens process holds it now. Try again.' },
  );
}

/** Exit 6: the lock was lost while the refresh was on its way, and the provider refused the token sent. */
function lostLeaseRefused(provider: ProviderDescriptor, profile: string): StoreError {
  return new StoreError(
    `this process lost the refresh lock for ${provider.id} (profile ${profile}) while its refresh was on the way, and ${provider.title} refused the refresh token it sent, which another process had already used; nothing was written`,
    {
      hint: `${provider.title} may have revoked the login for that reuse: if the next get is refused, run \`${loginCommand(provider.id, profile)}\`.`,
    },
  );
}

export async function readSecrets(
  store: { get(key: string): Promise<string> },
  key: string,
  provider: ProviderDescriptor,
  profile: string,
): Promise<Secrets> {
  const { isNotFound } = await import('../store/store.js');
  let text: string;
  try {
    text = await store.get(key);
  } catch (error) {
    if (isNotFound(error)) throw notLoggedIn(provider, profile);
    throw error;
  }
  return parseSecrets(text, provider, profile);
}

function parseSecrets(text: string, provider: ProviderDescriptor, profile: string): Secrets {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && Object.values(value).every((v) => typeof v === 'string'))
      return value as Secrets;
  } catch {
    // fall through
  }
  throw new StoreError(`the stored ${provider.title} credentials for profile ${profile} are damaged`, {
    hint: `Run \`${loginCommand(provider.id, profile)}\` again.`,
  });
}

async function persistRotated(
  write: PreparedWrite,
  secrets: Secrets,
  provider: ProviderDescriptor,
  profile: string,
  settings: { mode: string },
) {
  const { ChainMovedError } = await import('../store/store.js');
  try {
    await write.commit(JSON.stringify(secrets));
  } catch (error) {
    // The bundle is no longer the one this exchange spent: another process, holding the lock this
    // one lost, rotated meanwhile. Its newer chain stays; this exchange's tokens are dropped.
    if (error instanceof ChainMovedError) {
      throw new StoreError(
        `${provider.title} answered this process's refresh after it had lost the refresh lock (it was paused or cut off for longer than the lock lasts), and another process has rotated the credentials since; the newer ones were kept and this answer was dropped`,
        { hint: 'Nothing to fix: the next get uses the newer credentials.' },
      );
    }
    const why = error instanceof Error ? error.message : 'unknown error';
    const issued = `${provider.title} issued a new refresh token, but it could not be saved (${why})`;
    // App-only credentials still hold the client secret, which mints afresh when the spent refresh
    // token is refused; for anything else the spent refresh token was the whole login.
    if (settings.mode === 'client_credentials') {
      throw new RotationNotSavedError(
        `${issued}; the stored client credentials still work, so the next get mints a new token with them`,
        {
          hint: 'Fix the secret store.',
        },
      );
    }
    throw new RotationNotSavedError(
      `${issued}; the old one is spent, so this login is lost`,
      { hint: `Fix the secret store, then run \`${loginCommand(provider.id, profile)}\`.` },
      true,
    );
  }
}

/** Exit 6 after a successful exchange: the provider spent the old refresh token, the new one is gone. */
class RotationNotSavedError extends StoreError {
  constructor(
    message: string,
    options: { hint: string },
    /** The store holds nothing that can mint any more: only a login helps. */
    readonly loginLost = false,
  ) {
    super(message, options);
  }
}

// --- shared failures --------------------------------------------------------------------------------
// When the holder gives up (the provider is down, rate limiting, rejected the credentials), the
// processes that were already waiting would each repeat the same doomed request one after the other,
// N times the time and N times the load. So the failure is left on the store's failure board, and
// those waiters get it instead; a process that asks later tries again.

/**
 * Which failures other processes share rather than repeat. The provider's answer "unavailable or
 * rate limited" (5) goes to the processes that were waiting for it ('waiting'), and so does a
 * rotation that could not be saved. A refusal (4), and a rotation lost when it was the whole login,
 * go to every later process too ('sticky'), until a login or logout clears the board: the store still holds the
 * refresh token that exchange spent, and sending a spent single-use token again is what a provider
 * following RFC 9700 takes for theft. A store that cannot be read is not shared: that depends on each
 * process's own TOKENS_PASSPHRASE, and costs no request.
 */
function shareFailure(error: TokensError): 'none' | 'waiting' | 'sticky' {
  if (error instanceof RotationNotSavedError) return error.loginLost ? 'sticky' : 'waiting';
  // The provider refused the stored login (exit 4: log in again): asking again would be refused
  // again (and may count as reuse), so every later process is told, and `status` shows it.
  if (error.exitCode === ExitCode.rejected) return 'sticky';
  return error.exitCode === ExitCode.unavailable ? 'waiting' : 'none';
}

/** A recorded failure that only a login (or logout) ends: the provider refused, or the login was lost. */
export function needsLogin(record: RecordedFailure | 'damaged' | undefined): boolean {
  return record !== undefined && record !== 'damaged' && record.sharing === 'sticky';
}

async function recordFailure(board: FailureBoard, error: unknown, deps: Deps): Promise<void> {
  if (!(error instanceof TokensError)) return;
  const sharing = shareFailure(error);
  if (sharing === 'none') return;
  const record: RecordedFailure = {
    at: deps.now(),
    sharing,
    exitCode: error.exitCode,
    message: error.message,
    ...(error.hint ? { hint: error.hint } : {}),
  };
  await board
    .write(record)
    .catch((e: unknown) =>
      deps.debug(
        `could not record the failure for other tokens processes (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      ),
    );
}

/**
 * A 'waiting' failure is shared only when recorded between the moment this process asked for the
 * lock and now (plus this much): a record "from the future" was written under a clock that ran
 * ahead (another machine's, too), and must not block every later process until the real clock passes it.
 */
const RECORD_CLOCK_TOLERANCE_MS = 5_000;

/**
 * The recorded failure as an error to throw, when it is shared with a process that asked at `asked`
 * and looks `now`: a 'waiting' one only when recorded in [asked, now + tolerance]. Its texts are
 * untrusted (anyone who could write the board chose them): sanitized like any provider text.
 */
function sharedWith(record: RecordedFailure, asked: number, now: number): TokensError | undefined {
  if (record.sharing === 'waiting' && (record.at < asked || record.at > now + RECORD_CLOCK_TOLERANCE_MS))
    return undefined;
  const when = new Date(record.at).toISOString().replace(/\.\d+Z$/, 'Z');
  const text = `${sanitizeProviderText(record.message, 500).replace(/[.\s…]+$/, '')} (as another tokens process found at ${when})`;
  const options = record.hint === undefined ? {} : { hint: sanitizeProviderText(record.hint, 500) };
  switch (record.exitCode) {
    case ExitCode.rejected:
      return new CredentialsRejectedError(text, {}, options);
    case ExitCode.unavailable:
      return new UnavailableError(text, options);
    case ExitCode.store:
      return new StoreError(text, options);
    default:
      return undefined;
  }
}

/** Same keys, same values: a bundle that drops a key (a refresh token no longer issued) is a change. */
function sameSecrets(a: Secrets, b: Secrets): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => b[k] === a[k]);
}

export function notLoggedIn(provider: ProviderDescriptor, profile: string): NotConfiguredError {
  return new NotConfiguredError(`${provider.id} is not logged in for profile "${profile}"`, {
    hint: `Run \`${loginCommand(provider.id, profile)}\`.`,
  });
}
