// The heart of `tokens get` and `exec`: a valid access token from the cache when it will do, else
// one refresh per provider and profile however many callers ask: single flight inside the process,
// a file lock across processes, and the cache and store re-read once the lock is held.
import { readCache, isFresh, lifetimeMs, writeCache, type CacheRead } from './cache.js';
import { lockPath, withLock, type FailureSharing } from './lock.js';
import { ExitCode, NotConfiguredError, StoreError, UsageError, type TokensError } from './errors.js';
import { loginCommand } from './hints.js';
import type { Deps } from './deps.js';
import type { AccessToken, MintResult, ProviderDescriptor, Secrets, StaticHeaders } from './model.js';
import type { SecretStore } from '../store/store.js';

export interface GetOptions {
  minTtlSeconds: number;
  /**
   * True when the caller asked for minTtlSeconds (--min-ttl): a token that cannot meet it is an
   * error. Otherwise it is the default margin, which shrinks for short-lived tokens (isFresh).
   */
  minTtlGiven?: boolean;
  forceRefresh: boolean;
}

export type Credential = { kind: 'token'; token: AccessToken } | { kind: 'static'; credentials: StaticHeaders };

export function secretKey(profile: string, provider: string): string {
  return `${profile}/${provider}`;
}

export class TokenBroker {
  readonly #deps: Deps;
  readonly #inflight = new Map<string, Promise<Credential>>();

  constructor(deps: Deps) {
    this.#deps = deps;
  }

  async get(provider: ProviderDescriptor, profile: string, options: GetOptions): Promise<Credential> {
    const seen = await readCache(this.#deps.paths, profile, provider.id);
    this.#reportDamage(seen, provider);
    if (!options.forceRefresh && seen.kind === 'hit' && isFresh(seen.token, this.#deps.now(), options.minTtlSeconds, options.minTtlGiven)) {
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

  async #refresh(provider: ProviderDescriptor, profile: string, options: GetOptions, seen: CacheRead): Promise<Credential> {
    const deps = this.#deps;
    const { loadProviderContext } = await import('./context.js');
    const ctx = await loadProviderContext(deps, provider, profile);
    const adapter = await provider.loadAdapter();
    const store = await deps.openStore();
    const key = secretKey(profile, provider.id);
    if (adapter.staticCredentials?.(ctx.settings, {})) {
      const secrets = await readSecrets(store, key, provider, profile);
      return { kind: 'static', credentials: adapter.staticCredentials(ctx.settings, secrets)! };
    }

    const what = `${provider.id} (profile ${profile})`;
    return withLock(deps, lockPath(deps.paths.stateDir, profile, provider.id), what, async (held) => {
      // Another process may have refreshed while we waited for the lock: use its token.
      const now = await readCache(deps.paths, profile, provider.id);
      if (now.kind === 'hit' && isFresh(now.token, deps.now(), options.minTtlSeconds, options.minTtlGiven)) {
        const changed = seen.kind !== 'hit' || seen.token.access_token !== now.token.access_token;
        if (!options.forceRefresh || changed) return { kind: 'token', token: now.token };
      }
      // Or tried while we waited, and failed: the same request now would fail the same way (or,
      // after a lost rotation, send a spent refresh token). Give up with its answer.
      if (held.recentFailure) throw held.recentFailure;
      let secrets = await readSecrets(store, key, provider, profile);
      await prepareForRotation(store, key, secrets);
      const persist = (rotated: Secrets | undefined, before: Secrets) =>
        rotated && !sameSecrets(rotated, before) ? persistRotated(store, key, rotated, provider, profile, ctx.settings) : Promise.resolve();
      let result;
      try {
        result = await mintKeepingRotation(() => adapter.mint(ctx, secrets), (rotated) => persist(rotated, secrets));
      } catch (error) {
        // A rejected refresh token that changed in the store meanwhile means we lost a race with a
        // process outside our lock (an older tokens, a login): try once more with the new one.
        const { isInvalidGrant } = await import('./oauth.js');
        if (!isInvalidGrant(error)) throw error;
        const latest = await readSecrets(store, key, provider, profile);
        if (latest.refresh_token === secrets.refresh_token) throw error;
        deps.debug(`${provider.id}: refresh token changed meanwhile; retrying with the new one`);
        secrets = latest;
        result = await mintKeepingRotation(() => adapter.mint(ctx, secrets), (rotated) => persist(rotated, secrets));
      }
      // Persistence order: a rotated secret reaches the store before the token is cached or printed.
      await persist(result.secrets, secrets);
      await writeCache(deps.paths, profile, provider.id, result.token).catch((error: unknown) =>
        deps.debug(`could not write the token cache (${error instanceof Error ? error.message : 'error'}); continuing without it`),
      );
      refuseUnreachableMinTtl(result.token, provider, options);
      return { kind: 'token', token: result.token };
    }, { shareFailure, root: deps.paths.stateDir });
  }

  #reportDamage(read: CacheRead, provider: ProviderDescriptor): void {
    if (read.kind === 'damaged') this.#deps.debug(`ignoring damaged ${provider.id} token cache: ${read.reason}; it will be rebuilt`);
  }
}

/**
 * Before a refresh token is sent: everything the write of its successor needs is taken or checked
 * now (SecretStore.prepareWrite), so an unwritable store fails before the token is spent, not after.
 */
async function prepareForRotation(store: SecretStore, key: string, secrets: Secrets): Promise<void> {
  if (secrets.refresh_token !== undefined) await store.prepareWrite(key);
}

/**
 * Runs a mint; when the answer rotated the refresh token but its access token was refused
 * (UnusableTokenError), the new refresh token is stored first, then the error goes on.
 */
async function mintKeepingRotation(mint: () => Promise<MintResult>, persist: (rotated: Secrets) => Promise<void>): Promise<MintResult> {
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
function refuseUnreachableMinTtl(token: AccessToken, provider: ProviderDescriptor, options: GetOptions): void {
  const lifetime = lifetimeMs(token);
  if (!options.minTtlGiven || lifetime === undefined || lifetime <= 0 || options.minTtlSeconds * 1000 <= lifetime) return;
  throw new UsageError(`--min-ttl ${options.minTtlSeconds} is longer than the lifetime of ${provider.title} tokens (${Math.floor(lifetime / 1000)} s)`, {
    hint: `Ask for at most --min-ttl ${Math.floor(lifetime / 1000)}.`,
  });
}

export async function readSecrets(store: { get(key: string): Promise<string> }, key: string, provider: ProviderDescriptor, profile: string): Promise<Secrets> {
  const { isNotFound } = await import('../store/store.js');
  let text: string;
  try {
    text = await store.get(key);
  } catch (error) {
    if (isNotFound(error)) throw notLoggedIn(provider, profile);
    throw error;
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && Object.values(value).every((v) => typeof v === 'string')) return value as Secrets;
  } catch {
    // fall through
  }
  throw new StoreError(`the stored ${provider.title} credentials for profile ${profile} are damaged`, { hint: `Run \`${loginCommand(provider.id, profile)}\` again.` });
}

async function persistRotated(
  store: { set(key: string, value: string): Promise<void> },
  key: string,
  secrets: Secrets,
  provider: ProviderDescriptor,
  profile: string,
  settings: { mode: string },
) {
  try {
    await store.set(key, JSON.stringify(secrets));
  } catch (error) {
    const why = error instanceof Error ? error.message : 'unknown error';
    const issued = `${provider.title} issued a new refresh token, but it could not be saved (${why})`;
    // App-only credentials still hold the client secret, which mints afresh when the spent refresh
    // token is refused; for anything else the spent refresh token was the whole login.
    if (settings.mode === 'client_credentials') {
      throw new RotationNotSavedError(`${issued}; the stored client credentials still work, so the next get mints a new token with them`, {
        hint: 'Fix the secret store.',
      });
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

/**
 * Which failures other processes share rather than repeat. The provider's answer (rejected: 4,
 * unavailable or rate limited: 5) goes to the processes that were waiting for it, and so does a
 * rotation that could not be saved. When that rotation was the whole login, it goes to every later
 * process too, until a login: the store still holds the refresh token that exchange spent, and
 * sending a spent single-use token again is what a provider following RFC 9700 takes for theft.
 * A store that cannot be read is not shared: that depends on each process's own TOKENS_PASSPHRASE,
 * and costs no request.
 */
function shareFailure(error: TokensError): FailureSharing {
  if (error instanceof RotationNotSavedError) return error.loginLost ? 'sticky' : 'waiting';
  return error.exitCode === ExitCode.rejected || error.exitCode === ExitCode.unavailable ? 'waiting' : 'none';
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

