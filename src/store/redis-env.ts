// The Redis store's settings from the environment (the variables are declared in src/core/env.ts):
// TOKENS_REDIS_URL (a secret: never printed, only its HOST:PORT), TOKENS_REDIS_PREFIX, TOKENS_REDIS_TIMEOUT.
import { StoreError } from '../core/errors.js';
import { readEnv, redisAddress, TOKENS_REDIS_PREFIX, TOKENS_REDIS_TIMEOUT, TOKENS_REDIS_URL } from '../core/env.js';
import type { Env } from '../core/paths.js';

export interface RedisSettings {
  /** The whole URL, password included: for the client only. */
  url: string;
  /** HOST:PORT, for people. */
  address: string;
  prefix: string;
  timeoutMs: number;
}

/** The Redis settings; StoreError (6) when the URL is missing, UsageError (2) when a variable is malformed. */
export function redisSettings(env: Env): RedisSettings {
  const url = readEnv(env, TOKENS_REDIS_URL);
  if (url === undefined) {
    throw new StoreError('TOKENS_STORE=redis needs the server, and TOKENS_REDIS_URL is not set', {
      hint: 'Set TOKENS_REDIS_URL to redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] (or rediss:// for TLS).',
    });
  }
  return { url, address: redisAddress(url)!, prefix: readEnv(env, TOKENS_REDIS_PREFIX), timeoutMs: readEnv(env, TOKENS_REDIS_TIMEOUT) };
}
