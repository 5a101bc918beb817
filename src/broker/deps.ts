// Everything a run function touches outside itself: the process (runtime.ts), the provider
// registry and the store, injected so tests can replace any part.
import type { Runtime } from '../model/runtime.js';
import type { Store } from '../store/store.js';
import type { ProviderDescriptor } from '../model/model.js';

export type { IO } from '../model/runtime.js';

export interface Deps extends Runtime {
  /** Every provider (the registry), for what lists them: the config schema, `status`, `exec`. */
  providers: readonly ProviderDescriptor[];
  /**
   * Opens the store named by TOKENS_STORE (its secrets and their coordination); loaded lazily so the
   * warm path never touches it.
   */
  openStore: () => Promise<Store>;
}
