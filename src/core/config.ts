// config.json: the settings that are not secret (client ids, team id, redirect URI, scope, mode),
// per profile and provider. Validated on every load: a file the hand check of config-file.ts
// accepts is used as it is, anything else goes to the zod schema (config-schema.ts), so a broken
// file names itself and the field.
import { readFile } from 'node:fs/promises';
import { UsageError } from './errors.js';
import { lockPath, withLock } from './lock.js';
import { writePrivateFile } from './private-files.js';
import { configFile, EMPTY_CONFIG, isCertainlyValidConfig, settingsFor, type ConfigData } from './config-file.js';
import type { Deps } from './deps.js';
import type { Paths } from './paths.js';
import type { ProviderId, ProviderSettings } from '../providers/types.js';

export { configFile, settingsFor };
export type Config = ConfigData;

export async function loadConfig(paths: Paths): Promise<Config> {
  const file = configFile(paths);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_CONFIG;
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new UsageError(`invalid config ${file}: not valid JSON`, { hint: 'Fix or remove the file; `tokens login` writes it again.' });
  }
  // The common case, a file tokens wrote itself, without loading zod (see config-file.ts).
  if (isCertainlyValidConfig(data)) return data;
  const { ConfigFile } = await import('./config-schema.js');
  const parsed = ConfigFile.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map(String).join('.') || '(top level)';
    throw new UsageError(`invalid config ${file}: field "${field}": ${issue.message}`, {
      hint: 'Fix or remove the file; `tokens login` writes it again.',
    });
  }
  return parsed.data;
}

/** Read-modify-write under a lock, so two logins at once cannot drop each other's settings. */
export async function updateSettings(deps: Deps, profile: string, provider: ProviderId, settings: ProviderSettings | undefined): Promise<void> {
  const file = configFile(deps.paths);
  await withLock(deps, lockPath(deps.paths.stateDir, '.config', 'config'), 'the config file', async () => {
    const config = await loadConfig(deps.paths);
    const { Settings } = await import('./config-schema.js');
    const profileConfig = { ...config.profiles[profile] };
    if (settings) profileConfig[provider] = Settings.parse(settings);
    else delete profileConfig[provider];
    const profiles = { ...config.profiles, [profile]: profileConfig };
    if (Object.keys(profileConfig).length === 0) delete profiles[profile];
    await writePrivateFile(file, `${JSON.stringify({ version: 1, profiles }, null, 2)}\n`);
  });
}
