// The store contract, in two parts. Secrets: the one small interface every backend implements
// (after 99designs/keyring): read, write, delete, list, and a write prepared before a refresh token
// is spent. Coordination: what the broker, login and logout hold and share beside the secrets for
// one profile and provider (a refresh lock, a failure board; among machines also a lease, a token
// cache, settings and the login generation). This machine's pieces (files and locks in the state
// dir) are made in one place (coordination.ts); a store shared among machines (Redis) lends its own
// (SharedBackend), and open.ts hands the broker both (Store).
// Keys are opaque strings chosen by the broker (`<profile>/<provider>`); values are opaque strings.
import type { Paths } from '../model/paths.js';
import type { LockDeps } from '../files/lock.js';
import type { AccessToken, ProviderSettings } from '../model/model.js';

import type { UserStoreKind } from '../model/model.js';

export type { UserStoreKind } from '../model/model.js';
/** `memory` is for unit tests only. */
export type StoreKind = UserStoreKind | 'memory';

/** The secrets of a backend: keychain.ts, file.ts, redis.ts, memory.ts (tests). */
export interface SecretStore {
  readonly kind: StoreKind;
  /** For people (status, messages): 'keychain', 'file', 'redis (HOST:PORT)'. Never a secret. */
  readonly where: string;
  /** Throws when the backend cannot be used at all (no keychain, wrong passphrase). Cheap to call twice. */
  check(): Promise<void>;
  /** Throws SecretNotFoundError when the key is absent. */
  get(key: string): Promise<string>;
  set(key: string, value: string): Promise<void>;
  /** Returns false when there was nothing to delete. */
  delete(key: string): Promise<boolean>;
  list(): Promise<string[]>;
  /**
   * Called under the refresh lock before a refresh that may rotate is sent: reads the value as it is
   * now, takes or checks whatever the write of its successor will need (and throws a StoreError,
   * exit 6, when that write is already known to fail, so it fails before the token is spent), and
   * returns the one write allowed to replace it. Throws SecretNotFoundError when absent.
   * File: the lock can be taken, the directory is writable, the file system has room (statfs).
   * Keychain: reachable and unlocked (check()). Redis: the value's version, for compare-and-set.
   */
  prepareWrite(key: string): Promise<PreparedWrite>;
}

/** The value as read under the lock, and the write that may replace it. */
export interface PreparedWrite {
  readonly value: string;
  /**
   * Writes `value` only while the stored one is still the one read (compare-and-set); throws
   * ChainMovedError when it is not, leaving the stored value as it is.
   */
  commit(value: string): Promise<void>;
}

/** What an opened store gives its users (src/store/open.ts): the secrets, and the coordination beside them. */
export interface Store {
  readonly secrets: SecretStore;
  /** True when other machines use the same store: a login or logout here is one for all of them. */
  readonly shared: boolean;
  /** The coordination of one profile and provider. */
  coordination(profile: string, provider: string, deps: CoordinationDeps): Coordination;
  /** What `status` should warn about (a server that keeps nothing across a restart); none for a local store. */
  warnings(): Promise<string[]>;
}

/** What coordination uses of the process: its paths, clock, sleep, jitter and debug lines. */
export type CoordinationDeps = LockDeps & { paths: Paths };

/** What the broker, login and logout hold and share beside the secrets, for one profile and provider. */
export interface Coordination {
  /** Mutual exclusion for refresh, login and logout of this profile and provider on this machine. */
  readonly lock: RefreshLock;
  /** Where a failure is left for the other processes waiting on the same lock (see broker.ts). */
  readonly failures: FailureBoard;
  /** The access-token cache every machine shares; absent for a store that lives on one machine. */
  readonly sharedCache?: TokenCache;
  /** Settings every machine shares (one login serves all); absent when config.json is the only source. */
  readonly sharedSettings?: SettingsShare;
  /** The same as `lock` among machines, taken inside it; absent for a store that lives on one machine. */
  readonly sharedLock?: RefreshLock;
  /**
   * The generation of the shared login, which every machine's local cache entry records and is used
   * only while it is current; absent for a store that lives on one machine.
   */
  readonly login?: LoginGeneration;
}

/** What a store shared among machines lends for one profile and provider: all but this machine's lock. */
export type SharedCoordination = Required<Omit<Coordination, 'lock'>>;

/** A backend that machines share (Redis): its coordination, in place of this machine's board, and its warnings. */
export interface SharedBackend {
  coordination(profile: string, provider: string, deps: CoordinationDeps): SharedCoordination;
  warnings(): Promise<string[]>;
}

export interface LoginGeneration {
  /** The current generation; undefined when logged out (or logged in by an older tokens). */
  read(): Promise<string | undefined>;
  /** The current generation, created when there is none. */
  ensure(): Promise<string>;
  /** A new generation (login, a refusal): the old one's cached tokens are used nowhere any more. */
  renew(): Promise<string>;
  /** Logged out: no cached token is used anywhere. */
  delete(): Promise<void>;
}

export interface TokenCache {
  read(): Promise<AccessToken | undefined>;
  write(token: AccessToken): Promise<void>;
  delete(): Promise<void>;
}

export interface SettingsShare {
  read(): Promise<ProviderSettings | undefined>;
  write(settings: ProviderSettings): Promise<void>;
  delete(): Promise<void>;
}

export interface RefreshLock {
  /**
   * Runs `fn` holding the lock. Gives up (UnavailableError or StoreError) when it cannot be had in
   * time; `what` names it in messages.
   */
  run<T>(what: string, fn: (held: HeldLock) => Promise<T>): Promise<T>;
}

export interface HeldLock {
  /** True while the lock is still this process's (asked of the lock's owner where there is one). */
  stillHeld(): Promise<boolean>;
}

/** A failure as left on the board: data only; what it means and who shares it is the broker's. */
export interface RecordedFailure {
  at: number;
  sharing: 'waiting' | 'sticky';
  exitCode: number;
  message: string;
  hint?: string;
}

export interface FailureBoard {
  /** The failure left there; 'damaged' for one that is there but unusable (never trusted, cleared later). */
  read(): Promise<RecordedFailure | 'damaged' | undefined>;
  write(record: RecordedFailure): Promise<void>;
  clear(): Promise<void>;
}

export class SecretNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`no secret stored under ${key}`);
    this.name = 'SecretNotFoundError';
  }
}

export function isNotFound(e: unknown): e is SecretNotFoundError {
  return e instanceof SecretNotFoundError;
}

/** A prepared write for a store without versions: read now, written by set (the lock orders writers). */
export async function plainPreparedWrite(store: Pick<SecretStore, 'get' | 'set'>, key: string): Promise<PreparedWrite> {
  const value = await store.get(key);
  return { value, commit: (next) => store.set(key, next) };
}

/** Validates a recorded failure read back from storage; undefined when it is not one we wrote. */
export function asRecordedFailure(record: unknown): RecordedFailure | undefined {
  if (typeof record !== 'object' || record === null) return undefined;
  const { at, sharing, exitCode, message, hint } = record as Partial<RecordedFailure>;
  if (
    typeof at !== 'number' ||
    !Number.isFinite(at) ||
    Math.abs(at) > 8.64e15 ||
    typeof message !== 'string' ||
    typeof exitCode !== 'number'
  )
    return undefined;
  if (sharing !== 'waiting' && sharing !== 'sticky') return undefined;
  return { at, sharing, exitCode, message, ...(typeof hint === 'string' ? { hint } : {}) };
}

/** A compare-and-set that found the stored value changed since it was read: nothing was written. */
export class ChainMovedError extends Error {
  constructor(readonly key: string) {
    super(`the value under ${key} changed since it was read`);
    this.name = 'ChainMovedError';
  }
}

/** Runs `fn` holding this machine's lock and, inside it, the shared one (login, logout). */
export function runLocked<T>(coordination: Coordination, what: string, fn: () => Promise<T>): Promise<T> {
  return coordination.lock.run(what, () => (coordination.sharedLock ? coordination.sharedLock.run(what, fn) : fn()));
}
