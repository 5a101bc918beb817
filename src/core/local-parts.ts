// The broker's pieces for a store that lives on one machine (the keychain, the encrypted file, the
// memory store of the unit tests): the local file lock per profile and provider, and a failure file
// beside it. No shared cache: the local cache file is all there is, and the broker reads it anyway.
import { readFile, rm } from 'node:fs/promises';
import { lockPath, withLock } from './lock.js';
import { asRecordedFailure, type BrokerParts, type PartsDeps } from '../store/store.js';

export function localParts(profile: string, provider: string, deps: PartsDeps): BrokerParts {
  const path = lockPath(deps.paths.stateDir, profile, provider);
  const failurePath = `${path}.failure.json`;
  return {
    lock: {
      run: (what, fn) => withLock(deps, path, what, (held) => fn({ stillHeld: async () => !held.compromised })),
    },
    failures: {
      async read() {
        try {
          return asRecordedFailure(JSON.parse(await readFile(failurePath, 'utf8')));
        } catch {
          return undefined;
        }
      },
      async write(record) {
        const { writePrivateFile } = await import('./private-files.js');
        await writePrivateFile(failurePath, `${JSON.stringify(record)}\n`);
      },
      async clear() {
        await rm(failurePath, { force: true });
      },
    },
  };
}
