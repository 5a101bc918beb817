// config.json without zod: where it lives, its shape as the program uses it, and a hand check that
// answers only "certainly valid". Light on purpose (no zod, no locks, no writes): the fast path
// (dist/fast.cjs) reads the config through this module, and loadConfig (config.ts) takes its answer
// before it ever loads the zod schema, which stays the authority: anything this check does not
// accept goes to zod, which accepts it after all or names the field that is wrong.
//
// The check accepts a subset of what the schema in config.ts accepts, and returns the value
// unchanged (test/unit/config-file.test.ts holds the two side by side). The rules here and there
// must change together.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROVIDER_IDS } from '../providers/registry.js';
import type { Paths } from './paths.js';
import type { ProviderId, ProviderSettings } from '../providers/types.js';

export interface ConfigData {
  version: 1;
  profiles: Record<string, Partial<Record<ProviderId, ProviderSettings>>>;
}

export const EMPTY_CONFIG: ConfigData = { version: 1, profiles: {} };

export function configFile(paths: Paths): string {
  return join(paths.configDir, 'config.json');
}

export function settingsFor(config: ConfigData, profile: string, provider: ProviderId): ProviderSettings | undefined {
  return Object.hasOwn(config.profiles, profile) ? config.profiles[profile]?.[provider] : undefined;
}

const ID = /^[^\s]+$/;
const isString = (v: unknown): v is string => typeof v === 'string';
const idLike = (v: unknown) => isString(v) && v.length >= 1 && v.length <= 500 && ID.test(v);
/** What each field of a provider's settings must be (config.ts's Settings schema, field by field). */
const SETTINGS_FIELDS: Record<keyof ProviderSettings, (v: unknown) => boolean> = {
  mode: (v) => isString(v) && v.length >= 1,
  client_id: idLike,
  team_id: (v) => isString(v) && v.length >= 1 && v.length <= 500,
  app_id: idLike,
  // zod trims a URL and drops tabs and newlines from it; one without any whitespace is returned as is.
  redirect_uri: (v) => isString(v) && /^\S+$/.test(v) && URL.canParse(v),
  scope: (v) => isString(v) && v.length <= 1000,
  store: (v) => v === 'keychain' || v === 'file',
};

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Own keys only, none that an object literal would treat specially. */
const keysOf = (o: Record<string, unknown>) => Object.keys(o);

function isSettings(v: unknown): boolean {
  if (!isPlainObject(v) || !Object.hasOwn(v, 'mode')) return false;
  return keysOf(v).every((k) => Object.hasOwn(SETTINGS_FIELDS, k) && SETTINGS_FIELDS[k as keyof ProviderSettings](v[k]));
}

/** True only for a parsed config.json that config.ts's schema certainly accepts as it is. */
export function isCertainlyValidConfig(data: unknown): data is ConfigData {
  if (!isPlainObject(data) || keysOf(data).length !== 2 || data.version !== 1 || !isPlainObject(data.profiles)) return false;
  return keysOf(data.profiles).every((name) => {
    const profile = (data.profiles as Record<string, unknown>)[name];
    if (name === '__proto__' || !isPlainObject(profile)) return false;
    return keysOf(profile).every((k) => (PROVIDER_IDS as readonly string[]).includes(k) && isSettings(profile[k]));
  });
}

/**
 * config.json read synchronously and checked by hand (the fast path's reader): the config, the
 * empty config when there is no file, or undefined when anything is in doubt (unreadable, not
 * JSON, not certainly valid), which the full program then reports.
 */
export function readConfigQuickly(paths: Paths): ConfigData | undefined {
  let text: string;
  try {
    text = readFileSync(configFile(paths), 'utf8');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? EMPTY_CONFIG : undefined;
  }
  try {
    const data: unknown = JSON.parse(text);
    return isCertainlyValidConfig(data) ? data : undefined;
  } catch {
    return undefined;
  }
}
