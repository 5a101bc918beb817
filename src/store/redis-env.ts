// The Redis store's settings from the environment (the variables are declared in src/model/env.ts):
// TOKENS_REDIS_URL (a secret: never printed, only its HOST:PORT), TOKENS_REDIS_PREFIX, TOKENS_REDIS_TIMEOUT.
import { StoreError, UsageError } from '../base/errors.js';
import { readEnv, TOKENS_REDIS_PREFIX, TOKENS_REDIS_TIMEOUT, TOKENS_REDIS_URL } from '../model/env.js';
import type { Env } from '../model/paths.js';

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
  const address = redisAddress(url);
  if (address === undefined) {
    throw new UsageError('TOKENS_REDIS_URL is not a Redis URL', {
      hint: 'Use redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or rediss://… for TLS.',
    });
  }
  return { url, address, prefix: readEnv(env, TOKENS_REDIS_PREFIX), timeoutMs: readEnv(env, TOKENS_REDIS_TIMEOUT) };
}

/** HOST:PORT of a Redis URL (never more of it: the rest may hold a password); undefined when it is not one. */
export function redisAddress(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if ((parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') || parsed.hostname === '') return undefined;
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,5}$/.test(db)) return undefined;
  return `${parsed.hostname}:${parsed.port || '6379'}`;
}
