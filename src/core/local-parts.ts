// The broker's pieces for a store that lives on one machine (the keychain, the encrypted file, the
// memory store of the unit tests): the local file lock per profile and provider, and a failure file
// beside it. No shared cache: the local cache file is all there is, and the broker reads it anyway.
import { rm } from 'node:fs/promises';
import { lockPath, withLock } from './lock.js';
import { failurePath as failureFile } from './lock-files.js';
import { readPrivateFile } from './private-files.js';
import { asRecordedFailure, type BrokerParts, type PartsDeps } from '../store/store.js';

export function localParts(profile: string, provider: string, deps: PartsDeps): BrokerParts {
  const path = lockPath(deps.paths.stateDir, profile, provider);
  const failurePath = failureFile(path);
  return {
    lock: {
      run: (what, fn) =>
        withLock(deps, path, what, (held) => fn({ stillHeld: async () => !held.compromised }), {
          root: deps.paths.stateDir,
        }),
    },
    failures: {
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
        const { replaceFile } = await import('./private-files.js');
        // The lock's directory was made private when the lock was taken.
        await replaceFile(failurePath, `${JSON.stringify(record)}\n`);
      },
      async clear() {
        await rm(failurePath, { force: true });
      },
    },
  };
}
