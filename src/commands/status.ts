// `tokens status [PROVIDER] [--json]`: what is configured, where, in which mode, and when the
// cached token expires. Never a secret. Whether a refresh token is stored comes from the note that
// login and rotation leave (src/core/secret-note.ts); only for a provider without a usable note is
// the store asked, and then only whether the refresh token exists. What is reported and how it is
// printed is status-report.ts, shared with the fast path.
import { secretKey } from '../core/broker.js';
import { readCache } from '../core/cache.js';
import { loadConfig } from '../core/config.js';
import { isTokensError } from '../core/errors.js';
import { notedRefreshToken } from '../core/secret-note.js';
import { storeKindFromEnv as storeKind } from '../store/open.js';
import { statusEntry, statusOutput, statusTargets, wantsColour, type StatusOptions } from './status-report.js';
import type { Deps } from '../core/deps.js';
import type { SecretStore } from '../store/store.js';

export type { StatusEntry, StatusOptions } from './status-report.js';

export async function runStatus(options: StatusOptions, deps: Deps): Promise<number> {
  const config = await loadConfig(deps.paths);
  const targets = statusTargets(config, options);
  const noted = new Map(targets.filter((t) => t.settings).map((t) => [t.provider.id, notedRefreshToken(deps.paths, deps.env, options.profile, t.provider.id)]));
  const store = [...noted.values()].some((v) => v === undefined) ? await openQuietly(deps) : undefined;
  const entries = [];
  for (const target of targets) {
    const id = target.provider.id;
    const cached = target.settings ? await readCache(deps.paths, options.profile, id) : undefined;
    const known = noted.get(id);
    entries.push(
      statusEntry(target, options.profile, {
        token: cached?.kind === 'hit' ? cached.token : undefined,
        refreshToken: known ?? (store ? await hasRefreshToken(store, secretKey(options.profile, id)) : null),
        storeKind: target.settings ? storeKind(deps.env) : '',
        now: deps.now(),
      }),
    );
  }
  const colour = !options.json && wantsColour(deps.env, () => deps.io.stdoutIsTTY);
  const { colourPainter } = await import('./status-table.js');
  deps.io.stdout.write(
    statusOutput(entries, {
      json: options.json,
      profile: options.profile,
      storeKind: options.json ? storeKind(deps.env) : '',
      now: deps.now(),
      ...(colour ? { paint: await colourPainter() } : {}),
    }),
  );
  return 0;
}

async function openQuietly(deps: Deps): Promise<SecretStore | undefined> {
  try {
    const store = await deps.openStore();
    await store.check();
    return store;
  } catch (error) {
    deps.io.stderr.write(`note: the secret store could not be read (${isTokensError(error) ? error.message : 'error'}); refresh-token presence unknown\n`);
    return undefined;
  }
}

async function hasRefreshToken(store: SecretStore, key: string): Promise<boolean | null> {
  try {
    const secrets = JSON.parse(await store.get(key)) as Record<string, unknown>;
    return typeof secrets.refresh_token === 'string';
  } catch {
    return false;
  }
}
