// The schema of config.json (zod): the authority on what a valid config is, and the source of the
// error that names a bad field. A profile holds settings for any provider of the registry (passed
// in), each with one of that provider's modes. Loaded only when the hand check in config-file.ts
// has not already accepted the file, or to check settings before they are written.
import * as z from '../base/zod.js';
import { STORE_KINDS, type ProviderDescriptor, type ProviderSettings } from '../model/model.js';

const Id = z.string().check(z.minLength(1), z.maxLength(500), z.regex(/^[^\s]+$/, 'must not contain spaces'));

export const Settings = z.strictObject({
  /** Any mode here; settingsOf allows only the provider's own. */
  mode: z.string().check(z.minLength(1)),
  client_id: z.optional(Id),
  team_id: z.optional(z.string().check(z.minLength(1), z.maxLength(500))),
  app_id: z.optional(Id),
  redirect_uri: z.optional(z.url()),
  scope: z.optional(z.string().check(z.maxLength(1000))),
  store: z.optional(z.enum(STORE_KINDS)),
});

/** A provider's settings, with `mode` one of that provider's modes (ProviderDescriptor.modes). */
export function settingsOf(provider: ProviderDescriptor) {
  return z.extend(Settings, { mode: z.enum(provider.modes as [string, ...string[]]) });
}

/** The file's schema: a profile holds settings for any provider of the registry, and nothing else. */
export function configSchema(providers: readonly ProviderDescriptor[]) {
  const profile = z.strictObject(Object.fromEntries(providers.map((p) => [p.id, z.optional(settingsOf(p))])));
  return z.strictObject({ version: z.literal(1), profiles: z.record(z.string(), profile) });
}

/** Settings from elsewhere (a shared store), validated as config.json's are; undefined when invalid. */
export function parseSettings(data: unknown): ProviderSettings | undefined {
  const parsed = Settings.safeParse(data);
  return parsed.success ? parsed.data : undefined;
}
