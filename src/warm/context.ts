// What a warm answer (a command's answer from files alone, before the full program loads) is given
// and gives back. The fast path (src/fast.ts) is the driver that calls them.
import type { Env, Paths } from '../model/paths.js';
import type { RefreshClaim } from '../files/refresh-claims.js';
import type { Handler } from '../serve/listener.js';
import type { Listening } from '../serve/rules.js';
import type { ServeConfig } from '../serve/server.js';

/** What a run hands to the full program when its warm answer declines. */
export interface WarmLeftovers {
  /** Refreshes this process claimed (src/files/refresh-claims.ts): released once the full program is done. */
  claims: RefreshClaim[];
  /** When this process began waiting for another process's refresh, if it did. */
  askedAt?: number;
}

export interface WarmContext {
  readonly env: Env;
  readonly paths: Paths;
  /** Where a command run here writes its own lines (exec's warnings). */
  readonly stderr: { write(text: string): void };
  readonly leftovers: WarmLeftovers;
  /** Keeps SIGUSR1 from opening Node's inspector from now on (see src/fast.ts). */
  refuseInspector(): void;
  /**
   * What answers a served request (src/serve/server.ts: the broker, the HTTP policy), from the
   * program beyond the fast path (dist/direct.js), for a server the fast path started (src/warm/serve.ts).
   * The configuration crosses as data: providers by id.
   */
  answerRequests(config: ServedConfig, listening: () => Listening): Promise<Handler>;
}

/** ServeConfig as plain data, for the hand-over between the fast path's bundle and the full program's. */
export type ServedConfig = Omit<ServeConfig, 'providers'> & { providerIds: string[] };

/** A call answered: what to print, and the exit code. */
export interface WarmAnswer {
  stdout?: string;
  stderr?: string;
  code: number;
  /** A command ran as this process's child: exit only once the process is idle (exec-child.ts). */
  ranChild?: true;
}
