// config.json: the settings that are not secret (client ids, team id, redirect URI, scope, mode),
// per profile and provider. Validated with zod on every load; a broken file names itself and the field.
import { join } from 'node:path';
import { z } from 'zod';
import { UsageError } from './errors.js';
import { lockPath, withLock } from './lock.js';
import { ensurePrivateDir, readPrivateFile, writePrivateFile } from './private-files.js';
import type { Deps } from './deps.js';
import type { Paths } from './paths.js';
import { STORE_KINDS, type ProviderDescriptor, type ProviderName, type ProviderSettings } from './model.js';

const Id = z.string().min(1).max(500).regex(/^[^\s]+$/, 'must not contain spaces');

const Settings = z.strictObject({
  /** Any mode here; settingsOf allows only the provider's own. */
  mode: z.string().min(1),
  client_id: Id.optional(),
  team_id: z.string().min(1).max(500).optional(),
  app_id: Id.optional(),
  redirect_uri: z.string().url().optional(),
  scope: z.string().max(1000).optional(),
  store: z.enum(STORE_KINDS).optional(),
});

/** A provider's settings, with `mode` one of that provider's modes (ProviderDescriptor.modes). */
function settingsOf(provider: ProviderDescriptor) {
  return Settings.extend({ mode: z.enum(provider.modes as [string, ...string[]]) });
}

/** The file's schema: a profile holds settings for any provider of the registry, and nothing else. */
function configSchema(providers: readonly ProviderDescriptor[]) {
  const profile = z.strictObject(Object.fromEntries(providers.map((p) => [p.id, settingsOf(p).optional()])));
  return z.strictObject({ version: z.literal(1), profiles: z.record(z.string(), profile) });
}

export interface Config {
  version: 1;
  profiles: Record<string, Record<string, ProviderSettings | undefined>>;
}

/** What reading the config needs: where it is, and which providers it may name. */
export type ConfigDeps = Pick<Deps, 'paths' | 'providers'>;

export function configFile(paths: Paths): string {
  return join(paths.configDir, 'config.json');
}

export async function loadConfig({ paths, providers }: ConfigDeps): Promise<Config> {
  const file = configFile(paths);
  // In a directory of ours (0700), not through a link, not a FIFO, ours and not writable by others
  // (exit 6 otherwise).
  await ensurePrivateDir(paths.configDir, paths.configDir, { create: false });
  const bytes = await readPrivateFile(file, 1024 * 1024);
  if (bytes === undefined) return { version: 1, profiles: {} };
  const text = bytes.toString('utf8');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new UsageError(`invalid config ${file}: not valid JSON`, { hint: 'Fix or remove the file; `tokens login` writes it again.' });
  }
  const parsed = configSchema(providers).safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map(String).join('.') || '(top level)';
    throw new UsageError(`invalid config ${file}: field "${field}": ${issue.message}`, {
      hint: 'Fix or remove the file; `tokens login` writes it again.',
    });
  }
  return parsed.data;
}

/** Settings from elsewhere (a shared store), validated as config.json's are; undefined when invalid. */
export function parseSettings(data: unknown): ProviderSettings | undefined {
  const parsed = Settings.safeParse(data);
  return parsed.success ? parsed.data : undefined;
}

export function settingsFor(config: Config, profile: string, provider: ProviderName): ProviderSettings | undefined {
  return config.profiles[profile]?.[provider];
}

/** Read-modify-write under a lock, so two logins at once cannot drop each other's settings. */
export async function updateSettings(deps: Deps, profile: string, provider: ProviderName, settings: ProviderSettings | undefined): Promise<void> {
  const file = configFile(deps.paths);
  await withLock(deps, lockPath(deps.paths.stateDir, '.config', 'config'), 'the config file', async () => {
    const config = await loadConfig(deps);
    const profileConfig = { ...config.profiles[profile] };
    const descriptor = deps.providers.find((p) => p.id === provider);
    if (settings) profileConfig[provider] = descriptor ? settingsOf(descriptor).parse(settings) : Settings.parse(settings);
    else delete profileConfig[provider];
    const profiles = { ...config.profiles, [profile]: profileConfig };
    if (Object.keys(profileConfig).length === 0) delete profiles[profile];
    await writePrivateFile(deps.paths.configDir, file, `${JSON.stringify({ version: 1, profiles }, null, 2)}\n`);
  }, { root: deps.paths.stateDir });
}
