// Coordination made in one place. A store that lives on this machine (the keychain, the encrypted
// file, the memory store of the unit tests) has this machine's pieces only: a file lock per profile
// and provider in the state dir, and a failure file beside it; no shared cache (the local cache file
// is all there is, and the broker reads it anyway). A store shared among machines (Redis) adds its
// own pieces, and its failure board replaces the file.
import { rm } from 'node:fs/promises';
import { lockPath, withLock } from '../files/lock.js';
import { failurePath as failureFile } from '../files/lock-files.js';
import { readPrivateFile, replaceFile } from '../files/private-files.js';
import {
  asRecordedFailure,
  type Coordination,
  type CoordinationDeps,
  type FailureBoard,
  type RefreshLock,
  type SecretStore,
  type SharedBackend,
  type Store,
} from './store.js';

/** The store a user of the secrets and their coordination is handed: `shared` when machines share it. */
export function storeOf(secrets: SecretStore, shared?: SharedBackend): Store {
  return {
    secrets,
    shared: shared !== undefined,
    coordination(profile, provider, deps): Coordination {
      const lock = localLock(profile, provider, deps);
      return shared
        ? { ...shared.coordination(profile, provider, deps), lock }
        : { lock, failures: localFailures(profile, provider, deps) };
    },
    warnings: async () => (shared ? shared.warnings() : []),
  };
}

/** This machine's lock of one profile and provider: a lock file in the state dir. */
function localLock(profile: string, provider: string, deps: CoordinationDeps): RefreshLock {
  const path = lockPath(deps.paths.stateDir, profile, provider);
  return {
    run: (what, fn) =>
      withLock(deps, path, what, (held) => fn({ stillHeld: async () => !held.compromised }), {
        root: deps.paths.stateDir,
      }),
  };
}

/** The failure board of a store on this machine: a file beside the lock. */
function localFailures(profile: string, provider: string, deps: CoordinationDeps): FailureBoard {
  const failurePath = failureFile(lockPath(deps.paths.stateDir, profile, provider));
  return {
    // Never through a link or a FIFO, only a regular file of ours; anything else is 'damaged'.
    async read() {
      try {
        const bytes = await readPrivateFile(failurePath, 64 * 1024);
        if (bytes === undefined) return undefined;
        return asRecordedFailure(JSON.parse(bytes.toString('utf8'))) ?? 'damaged';
      } catch {
        return 'damaged';
      }
    },
    async write(record) {
      // The lock's directory was made private when the lock was taken.
      await replaceFile(failurePath, `${JSON.stringify(record)}\n`);
    },
    async clear() {
      await rm(failurePath, { force: true });
    },
  };
}
