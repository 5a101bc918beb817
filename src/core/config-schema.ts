// The schema of config.json (zod): the authority on what a valid config is, and the source of the
// error that names a bad field. Loaded only when the hand check in config-file.ts has not already
// accepted the file (or to check settings before they are written).
import { z } from 'zod';

const Id = z.string().min(1).max(500).regex(/^[^\s]+$/, 'must not contain spaces');

export const Settings = z.strictObject({
  mode: z.string().min(1),
  client_id: Id.optional(),
  team_id: z.string().min(1).max(500).optional(),
  app_id: Id.optional(),
  redirect_uri: z.string().url().optional(),
  scope: z.string().max(1000).optional(),
  store: z.enum(['keychain', 'file']).optional(),
});

const ProfileConfig = z.strictObject({
  soundcloud: Settings.optional(),
  chartmetric: Settings.optional(),
  soundcharts: Settings.optional(),
});

export const ConfigFile = z.strictObject({
  version: z.literal(1),
  profiles: z.record(z.string(), ProfileConfig),
});
