// The coordination a store is handed (src/store/coordination.ts): a store on this machine gets this
// machine's lock and failure file and nothing shared; a shared backend adds its pieces, its failure
// board in place of the file, and its warnings, under the same local lock.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { failurePath, lockPath } from '../../src/files/lock-files.js';
import { storeOf } from '../../src/store/coordination.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { RecordedFailure, SharedBackend, SharedCoordination } from '../../src/store/store.js';
import { testDeps } from '../support/deps.js';

const failure: RecordedFailure = { at: 1, sharing: 'sticky', exitCode: 4, message: 'refused' };

/** A shared backend whose every piece records its calls in `board` (the failure) and `calls`. */
function fakeShared() {
  const calls: string[] = [];
  let board: RecordedFailure | undefined;
  const coordination: SharedCoordination = {
    failures: {
      read: async () => board,
      write: async (record) => {
        board = record;
      },
      clear: async () => {
        board = undefined;
      },
    },
    sharedCache: { read: async () => undefined, write: async () => undefined, delete: async () => undefined },
    sharedSettings: { read: async () => undefined, write: async () => undefined, delete: async () => undefined },
    sharedLock: {
      run: async (what, fn) => {
        calls.push(`lease ${what}`);
        return fn({ stillHeld: async () => true });
      },
    },
    login: {
      read: async () => undefined,
      ensure: async () => 'g',
      renew: async () => 'g',
      delete: async () => undefined,
    },
  };
  const backend: SharedBackend = {
    coordination: (profile, provider) => {
      calls.push(`${profile}/${provider}`);
      return coordination;
    },
    warnings: async () => ['keeps nothing'],
  };
  return { backend, calls, coordination, board: () => board };
}

describe('storeOf', () => {
  it('a store on this machine: its lock and failure file in the state dir, nothing shared, no warnings', async () => {
    const deps = testDeps();
    const store = storeOf(new MemoryStore());
    const coordination = store.coordination('work', 'chartmetric', deps);
    expect(store.shared).toBe(false);
    expect(await store.warnings()).toEqual([]);
    expect(Object.keys(coordination).sort()).toEqual(['failures', 'lock']);
    const file = failurePath(lockPath(deps.paths.stateDir, 'work', 'chartmetric'));
    await coordination.lock.run('chartmetric', async (held) => {
      expect(await held.stillHeld()).toBe(true);
      expect(existsSync(lockPath(deps.paths.stateDir, 'work', 'chartmetric'))).toBe(true);
      await coordination.failures.write(failure);
    });
    expect(existsSync(file)).toBe(true);
    expect(await coordination.failures.read()).toEqual(failure);
    await coordination.failures.clear();
    expect(existsSync(file)).toBe(false);
  });

  it("a shared backend: its pieces and failure board beside this machine's lock, and its warnings", async () => {
    const deps = testDeps();
    const shared = fakeShared();
    const store = storeOf(new MemoryStore('redis'), shared.backend);
    const coordination = store.coordination('work', 'chartmetric', deps);
    expect(store.shared).toBe(true);
    expect(await store.warnings()).toEqual(['keeps nothing']);
    expect(shared.calls).toEqual(['work/chartmetric']);
    expect(coordination).toMatchObject({
      sharedCache: shared.coordination.sharedCache,
      sharedSettings: shared.coordination.sharedSettings,
      sharedLock: shared.coordination.sharedLock,
      login: shared.coordination.login,
      failures: shared.coordination.failures,
    });
    const lock = lockPath(deps.paths.stateDir, 'work', 'chartmetric');
    // This machine's lock is the file lock all the same, and it is not the backend's lease.
    await coordination.lock.run('chartmetric', async () => {
      expect(existsSync(lock)).toBe(true);
      await coordination.failures.write(failure);
    });
    expect(existsSync(lock)).toBe(false);
    expect(shared.calls).toEqual(['work/chartmetric']);
    // The board is the backend's: nothing is left in this machine's state dir.
    expect(shared.board()).toEqual(failure);
    expect(existsSync(failurePath(lock))).toBe(false);
  });
});
