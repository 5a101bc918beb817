// config.json without zod: where it lives, its shape as the program uses it, and a hand check that
// answers only "certainly valid". Light on purpose (no zod, no locks, no writes): the fast path
// (dist/fast.cjs) reads the config through this module, and loadConfig (config.ts) takes its answer
// before it ever loads the zod schema (config-schema.ts), which stays the authority: anything this
// check does not accept goes to zod, which accepts it after all or names the field that is wrong.
//
// The check accepts a subset of what the schema accepts, and returns the value unchanged
// (test/unit/config-file.test.ts holds the two side by side). The rules here and there must change
// together.
import { closeSync, constants, fstatSync, lstatSync, openSync } from 'node:fs';
import { NOFOLLOW_NONBLOCK, readOpenFile } from './cache.js';
import { join } from 'node:path';
import { judgeEntry } from './file-judge.js';
import type { Paths } from '../model/paths.js';
import { STORE_KINDS, type ProviderDescriptor, type ProviderName, type ProviderSettings } from '../model/model.js';

export interface Config {
  version: 1;
  profiles: Record<string, Record<string, ProviderSettings | undefined>>;
}

export const EMPTY_CONFIG: Config = Object.freeze({ version: 1, profiles: Object.freeze({}) }) as Config;

/** The largest config.json read. */
export const CONFIG_MAX_BYTES = 1024 * 1024;

export function configFile(paths: Paths): string {
  return join(paths.configDir, 'config.json');
}

export function settingsFor(config: Config, profile: string, provider: ProviderName): ProviderSettings | undefined {
  return Object.hasOwn(config.profiles, profile) ? config.profiles[profile]?.[provider] : undefined;
}

const ID = /^[^\s]+$/;
const isString = (v: unknown): v is string => typeof v === 'string';
const idLike = (v: unknown) => isString(v) && v.length >= 1 && v.length <= 500 && ID.test(v);
/** What each field of a provider's settings must be (config-schema.ts's Settings, field by field; mode: see isSettings). */
const SETTINGS_FIELDS: Record<Exclude<keyof ProviderSettings, 'mode'>, (v: unknown) => boolean> = {
  client_id: idLike,
  team_id: (v) => isString(v) && v.length >= 1 && v.length <= 500,
  app_id: idLike,
  // zod trims a URL and drops tabs and newlines from it; one without any whitespace is returned as is.
  redirect_uri: (v) => isString(v) && /^\S+$/.test(v) && URL.canParse(v),
  scope: (v) => isString(v) && v.length <= 1000,
  store: (v) => (STORE_KINDS as readonly unknown[]).includes(v),
};

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function isSettings(v: unknown, provider: ProviderDescriptor): boolean {
  if (!isPlainObject(v) || !(provider.modes as readonly unknown[]).includes(v.mode)) return false;
  return Object.keys(v).every(
    (k) =>
      k === 'mode' || (Object.hasOwn(SETTINGS_FIELDS, k) && SETTINGS_FIELDS[k as keyof typeof SETTINGS_FIELDS](v[k])),
  );
}

/** True only for a parsed config.json that the schema for these providers certainly accepts as it is. */
export function isCertainlyValidConfig(data: unknown, providers: readonly ProviderDescriptor[]): data is Config {
  if (!isPlainObject(data) || Object.keys(data).length !== 2 || data.version !== 1 || !isPlainObject(data.profiles))
    return false;
  const profiles = data.profiles;
  return Object.keys(profiles).every((name) => {
    const profile = profiles[name];
    if (name === '__proto__' || !isPlainObject(profile)) return false;
    return Object.keys(profile).every((id) => {
      const provider = providers.find((p) => p.id === id);
      return provider !== undefined && isSettings(profile[id], provider);
    });
  });
}

/** A directory that loadConfig's ensurePrivateDir would leave as it is. */
function isTrustedDir(dir: string): boolean {
  try {
    return judgeEntry(lstatSync(dir), 'directory').kind === 'trusted';
  } catch {
    return false;
  }
}

/**
 * config.json read synchronously and checked by hand (the fast path's reader): the config, the
 * empty config when there is neither file nor directory, or undefined when anything is in doubt,
 * which the full program then reports or judges: unreadable, a link, not a regular file, not ours,
 * writable (or readable) by others, in a directory that is not private, too large, not JSON, not
 * certainly valid.
 */
export function readConfigQuickly(paths: Paths, providers: readonly ProviderDescriptor[]): Config | undefined {
  try {
    lstatSync(paths.configDir);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? EMPTY_CONFIG : undefined;
  }
  if (!isTrustedDir(paths.configDir)) return undefined;
  let fd: number;
  try {
    fd = openSync(configFile(paths), constants.O_RDONLY | NOFOLLOW_NONBLOCK);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? EMPTY_CONFIG : undefined;
  }
  let text: string;
  try {
    const info = fstatSync(fd);
    if (judgeEntry(info, 'file').kind !== 'trusted' || info.size > CONFIG_MAX_BYTES) return undefined;
    text = readOpenFile(fd, info.size);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
  try {
    const data: unknown = JSON.parse(text);
    return isCertainlyValidConfig(data, providers) ? data : undefined;
  } catch {
    return undefined;
  }
}
