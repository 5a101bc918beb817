// `tokens status` without the store: answered only when config.json passes the hand check, every
// configured provider reported has a note of what is stored, and the table needs no colour. The
// entries and the output are status-report.ts's, as in runStatus.
import { existsSync } from 'node:fs';
import { isatty } from 'node:tty';
import { readCache } from '../files/cache.js';
import { readConfigQuickly, settingsFor } from '../files/config-file.js';
import { describeTokensError, isTokensError } from '../base/errors.js';
import { failurePath, lockPath } from '../files/lock-files.js';
import { notedRefreshToken } from '../files/secret-note.js';
import {
  statusEntry,
  statusOutput,
  statusTargets,
  wantsColour,
  type StatusOptions,
} from '../commands/status-report.js';
import { PROVIDERS } from '../providers/registry.js';
import { storeKindFromEnv } from '../model/store-locations.js';
import type { WarmAnswer, WarmContext } from './context.js';

export async function warmStatus(options: StatusOptions, context: WarmContext): Promise<WarmAnswer | undefined> {
  const { env, paths } = context;
  // The Redis store names itself by its server, and may hold settings this machine lacks: the full program's.
  const storeKind = storeKindFromEnv(env);
  if (storeKind !== 'keychain' && storeKind !== 'file') return undefined;
  const config = readConfigQuickly(paths, PROVIDERS);
  if (!config) return undefined;
  let targets;
  try {
    targets = statusTargets(options, PROVIDERS, (provider) => settingsFor(config, options.profile, provider.id));
  } catch (error) {
    // A named provider that is not configured: exit 3, the script test `status P || login P`.
    if (!isTokensError(error)) throw error;
    return { stderr: describeTokensError(error), code: error.exitCode };
  }
  if (!options.json && wantsColour(env, () => isatty(1))) return undefined;
  const entries = [];
  for (const target of targets) {
    const id = target.provider.id;
    let refreshToken: boolean | null = null;
    let cached;
    if (target.settings) {
      // A failure recorded for this login (a refusal, status's needs_login) is the full program's to read.
      if (existsSync(failurePath(lockPath(paths.stateDir, options.profile, id)))) return undefined;
      const noted = notedRefreshToken(paths, env, options.profile, id);
      if (noted === undefined) return undefined;
      refreshToken = noted;
      cached = await readCache(paths, options.profile, id);
    }
    // A local store's name is its kind, as runStatus names it.
    const store = target.settings ? (target.settings.store ?? storeKind) : '';
    entries.push(
      statusEntry(target, options.profile, {
        token: cached?.kind === 'hit' ? cached.token : undefined,
        refreshToken,
        store,
        needsLogin: false,
        now: Date.now(),
      }),
    );
  }
  return {
    stdout: statusOutput(entries, { json: options.json, profile: options.profile, where: storeKind, now: Date.now() }),
    code: 0,
  };
}
