// The schema of config.json (zod): the authority on what a valid config is, and the source of the
// error that names a bad field. Loaded only when the hand check in config-file.ts has not already
// accepted the file (or to check settings before they are written).
import * as z from './zod.js';

const Id = z.string().check(z.minLength(1), z.maxLength(500), z.regex(/^[^\s]+$/, 'must not contain spaces'));

export const Settings = z.strictObject({
  mode: z.string().check(z.minLength(1)),
  client_id: z.optional(Id),
  team_id: z.optional(z.string().check(z.minLength(1), z.maxLength(500))),
  app_id: z.optional(Id),
  redirect_uri: z.optional(z.url()),
  scope: z.optional(z.string().check(z.maxLength(1000))),
  store: z.optional(z.enum(['keychain', 'file'])),
});

const ProfileConfig = z.strictObject({
  soundcloud: z.optional(Settings),
  chartmetric: z.optional(Settings),
  soundcharts: z.optional(Settings),
});

export const ConfigFile = z.strictObject({
  version: z.literal(1),
  profiles: z.record(z.string(), ProfileConfig),
});
