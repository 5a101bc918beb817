// The access-token cache: one small JSON file per provider and profile, shared by every process.
// This module is on the warm path (dist/fast.cjs bundles it): no zod, no crypto, no store, and not
// node:fs/promises either. Nothing read here is trusted without a shape check; a damaged file is
// treated as absent and later overwritten.
import { readFileSync, rm } from 'node:fs';
import { join } from 'node:path';
import type { Paths } from './paths.js';
import type { AccessToken, ProviderName } from './model.js';

export function cacheFile(paths: Paths, profile: string, provider: ProviderName): string {
  return join(paths.cacheDir, profile, `${provider}.json`);
}

export type CacheRead =
  | { kind: 'hit'; token: AccessToken }
  | { kind: 'absent' }
  | { kind: 'damaged'; reason: string };

/**
 * Reads the cached token. The read is synchronous on purpose: the file is a few hundred bytes, and
 * an asynchronous read would start libuv's thread pool (and load node:fs/promises): about 3 ms of
 * a ~35 ms warm `get`, as much as the rest of the fast path together.
 */
export async function readCache(paths: Paths, profile: string, provider: ProviderName): Promise<CacheRead> {
  let text: string;
  try {
    text = readFileSync(cacheFile(paths, profile, provider), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    return { kind: 'damaged', reason: `unreadable (${(error as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { kind: 'damaged', reason: 'not JSON (truncated?)' };
  }
  const token = asAccessToken(data);
  return token ? { kind: 'hit', token } : { kind: 'damaged', reason: 'unexpected shape' };
}

function asAccessToken(data: unknown): AccessToken | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { access_token, token_type, expires_at, scope } = data as Record<string, unknown>;
  if (typeof access_token !== 'string' || access_token.length === 0) return undefined;
  if (typeof token_type !== 'string') return undefined;
  if (typeof expires_at !== 'number' || !Number.isFinite(expires_at)) return undefined;
  if (scope !== undefined && typeof scope !== 'string') return undefined;
  return { access_token, token_type, expires_at, ...(scope === undefined ? {} : { scope }) };
}

/** True when the token has at least minTtlSeconds left. */
export function isFresh(token: AccessToken, nowMs: number, minTtlSeconds: number): boolean {
  return token.expires_at - nowMs >= minTtlSeconds * 1000;
}

export async function writeCache(paths: Paths, profile: string, provider: ProviderName, token: AccessToken): Promise<void> {
  const { writePrivateFile } = await import('./private-files.js');
  await writePrivateFile(cacheFile(paths, profile, provider), `${JSON.stringify(token)}\n`);
}

export async function deleteCache(paths: Paths, profile: string, provider: ProviderName): Promise<void> {
  const file = cacheFile(paths, profile, provider);
  await new Promise<void>((resolve, reject) => rm(file, { force: true }, (error) => (error ? reject(error) : resolve())));
}
