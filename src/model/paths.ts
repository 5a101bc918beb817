import { homedir } from 'node:os';
import { join } from 'node:path';

export type Env = Readonly<Record<string, string | undefined>>;

/** Where tokens keeps its files, per the XDG base directory spec. */
export interface Paths {
  /** Non-secret settings: config.json. */
  configDir: string;
  /** Cached access tokens. */
  cacheDir: string;
  /** Lock files. */
  stateDir: string;
  /** The encrypted secrets file of the `file` store. */
  dataDir: string;
}

export function resolvePaths(env: Env): Paths {
  const home = env.HOME || homedir();
  const base = (name: string, fallback: string) => {
    const value = env[name];
    // The spec says relative values are invalid and must be ignored.
    return value?.startsWith('/') ? value : join(home, fallback);
  };
  return {
    configDir: join(base('XDG_CONFIG_HOME', '.config'), 'tokens'),
    cacheDir: join(base('XDG_CACHE_HOME', '.cache'), 'tokens'),
    stateDir: join(base('XDG_STATE_HOME', '.local/state'), 'tokens'),
    dataDir: join(base('XDG_DATA_HOME', '.local/share'), 'tokens'),
  };
}
