// config.json: the settings that are not secret (client ids, team id, redirect URI, scope, mode),
// per profile and provider. Validated on every load: a file the hand check of config-file.ts
// accepts is used as it is, anything else goes to the zod schema (config-schema.ts, loaded then
// only), so a broken file names itself and the field.
import { UsageError } from '../base/errors.js';
import { lockPath, withLock, type LockDeps } from './lock.js';
import { ensurePrivateDir, readPrivateFile, writePrivateFile } from './private-files.js';
import {
  CONFIG_MAX_BYTES,
  configFile,
  EMPTY_CONFIG,
  isCertainlyValidConfig,
  settingsFor,
  type Config,
} from './config-file.js';
import type { ProviderDescriptor, ProviderName, ProviderSettings } from '../model/model.js';
import type { Paths } from '../model/paths.js';

export { configFile, settingsFor, type Config };

/** What reading the config needs: where it is, and which providers it may name. */
export interface ConfigDeps {
  paths: Paths;
  providers: readonly ProviderDescriptor[];
}

export async function loadConfig({ paths, providers }: ConfigDeps): Promise<Config> {
  const file = configFile(paths);
  // In a directory of ours (0700), not through a link, not a FIFO, ours and not writable by others
  // (exit 6 otherwise).
  await ensurePrivateDir(paths.configDir, paths.configDir, { create: false });
  const bytes = await readPrivateFile(file, CONFIG_MAX_BYTES);
  if (bytes === undefined) return EMPTY_CONFIG;
  const text = bytes.toString('utf8');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new UsageError(`invalid config ${file}: not valid JSON`, {
      hint: 'Fix or remove the file; `tokens login` writes it again.',
    });
  }
  // The common case, a file tokens wrote itself, without loading zod (see config-file.ts).
  if (isCertainlyValidConfig(data, providers)) return data;
  const { configSchema } = await import('./config-schema.js');
  const parsed = configSchema(providers).safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map(String).join('.') || '(top level)';
    throw new UsageError(`invalid config ${file}: field "${field}": ${issue.message}`, {
      hint: 'Fix or remove the file; `tokens login` writes it again.',
    });
  }
  return parsed.data as Config;
}

/** Read-modify-write under a lock, so two logins at once cannot drop each other's settings. */
export async function updateSettings(
  deps: ConfigDeps & LockDeps,
  profile: string,
  provider: ProviderName,
  settings: ProviderSettings | undefined,
): Promise<void> {
  const file = configFile(deps.paths);
  await withLock(
    deps,
    lockPath(deps.paths.stateDir, '.config', 'config'),
    'the config file',
    async () => {
      const config = await loadConfig(deps);
      const profileConfig = { ...config.profiles[profile] };
      const descriptor = deps.providers.find((p) => p.id === provider);
      const { settingsOf, Settings } = await import('./config-schema.js');
      if (settings)
        profileConfig[provider] = descriptor ? settingsOf(descriptor).parse(settings) : Settings.parse(settings);
      else delete profileConfig[provider];
      const profiles = { ...config.profiles, [profile]: profileConfig };
      if (Object.keys(profileConfig).length === 0) delete profiles[profile];
      await writePrivateFile(deps.paths.configDir, file, `${JSON.stringify({ version: 1, profiles }, null, 2)}\n`);
    },
    { root: deps.paths.stateDir },
  );
}
