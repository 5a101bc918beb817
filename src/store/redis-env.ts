// The Redis store's environment variables, read in one place: TOKENS_REDIS_URL (a secret: never
// printed, only its HOST:PORT), TOKENS_REDIS_PREFIX and TOKENS_REDIS_TIMEOUT.
import { StoreError, UsageError } from '../core/errors.js';
import type { Env } from '../core/paths.js';

export const REDIS_URL_ENV = 'TOKENS_REDIS_URL';
export const DEFAULT_PREFIX = 'tokens:';
export const DEFAULT_TIMEOUT_SECONDS = 5;

export interface RedisSettings {
  /** The whole URL, password included: for the client only. */
  url: string;
  /** HOST:PORT, for people. */
  address: string;
  prefix: string;
  timeoutMs: number;
}

/** The Redis settings; StoreError (6) when the URL is missing, UsageError (2) when anything is malformed. */
export function redisSettings(env: Env): RedisSettings {
  const url = env.TOKENS_REDIS_URL ?? '';
  if (url === '') {
    throw new StoreError('TOKENS_STORE=redis needs the server, and TOKENS_REDIS_URL is not set', {
      hint: 'Set TOKENS_REDIS_URL to redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] (or rediss:// for TLS).',
    });
  }
  return { url, address: redisAddress(url), prefix: env.TOKENS_REDIS_PREFIX || DEFAULT_PREFIX, timeoutMs: redisTimeoutMs(env) };
}

/** HOST:PORT of the URL; a malformed URL is a usage error that never repeats the value (it may hold a password). */
export function redisAddress(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw malformed();
  }
  if ((parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') || parsed.hostname === '') throw malformed();
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,5}$/.test(db)) throw malformed();
  return `${parsed.hostname}:${parsed.port || '6379'}`;
}

function malformed(): UsageError {
  return new UsageError('TOKENS_REDIS_URL is not a Redis URL', { hint: 'Use redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or rediss://… for TLS.' });
}

function redisTimeoutMs(env: Env): number {
  const value = env.TOKENS_REDIS_TIMEOUT;
  if (value === undefined || value === '') return DEFAULT_TIMEOUT_SECONDS * 1000;
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !(seconds > 0) || seconds > 60) {
    throw new UsageError(`TOKENS_REDIS_TIMEOUT must be a number of seconds greater than 0 and at most 60, not ${JSON.stringify(value)}`);
  }
  return Math.round(seconds * 1000);
}
