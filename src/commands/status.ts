// `tokens status [PROVIDER] [--json]`: what is configured, where, in which mode, and when the
// cached token expires. Never a secret. Whether a refresh token is stored comes from the note that
// login and rotation leave (src/files/secret-note.ts); only without a usable note (and always for the
// Redis store) is the store asked, and then only whether the refresh token exists. What is reported
// and how it is printed is status-report.ts, shared with the fast path (src/fast.ts).
import { needsLogin, secretKey } from '../broker/broker.js';
import { readCache } from '../files/cache.js';
import { findSettings } from '../broker/context.js';
import { ExitCode, isTokensError } from '../base/errors.js';
import { notedRefreshToken } from '../files/secret-note.js';
import { storeKindFromEnv as storeKind } from '../model/store-locations.js';
import { statusEntry, statusOutput, statusTargets, wantsColour, type StatusOptions } from './status-report.js';
import type { StatusEntry } from './status-table.js';
import type { Deps } from '../broker/deps.js';
import type { ProviderDescriptor, ProviderSettings } from '../model/model.js';
import type { SecretStore, Store } from '../store/store.js';

export type { StatusOptions } from './status-report.js';

export async function runStatus(options: StatusOptions, deps: Deps): Promise<number> {
  const providers = options.provider ? [options.provider] : deps.providers;
  const opened = await deps.openStore();
  const found = new Map<ProviderDescriptor, ProviderSettings>();
  /** Why the store's shared settings could not be read, when they could not. */
  let unreadable: string | undefined;
  for (const provider of providers) {
    const shared = opened.coordination(options.profile, provider.id, deps).sharedSettings;
    let settings: ProviderSettings | undefined;
    try {
      settings = await findSettings(deps, provider, options.profile, shared);
    } catch (error) {
      // A shared store that cannot be read: say so, and show what this machine knows.
      if (!isTokensError(error) || error.exitCode !== ExitCode.store) throw error;
      if (unreadable === undefined)
        deps.io.stderr.write(
          `note: the secret store could not be read (${error.message}); showing this machine's settings only\n`,
        );
      unreadable = error.message;
      settings = await findSettings(deps, provider, options.profile);
    }
    if (settings) found.set(provider, settings);
  }
  const targets = statusTargets(options, deps.providers, (provider) => found.get(provider));
  const noted = new Map(
    [...found.keys()].map((p) => [p.id, notedRefreshToken(deps.paths, deps.env, options.profile, p.id)]),
  );
  const needsStore = [...noted.values()].some((v) => v === undefined);
  const store =
    found.size > 0 && unreadable === undefined && needsStore ? await openQuietly(opened.secrets, deps) : undefined;
  for (const warning of store ? await opened.warnings() : []) deps.io.stderr.write(`warning: ${warning}\n`);
  const entries: StatusEntry[] = [];
  for (const target of targets) {
    const id = target.provider.id;
    const cached = target.settings ? await readCache(deps.paths, options.profile, id) : undefined;
    const known = noted.get(id);
    // The board the broker records a refusal on (the store's, shared by every machine using it).
    const refused =
      target.settings && unreadable === undefined
        ? await opened
            .coordination(options.profile, id, deps)
            .failures.read()
            .then(needsLogin, () => false)
        : false;
    entries.push(
      statusEntry(target, options.profile, {
        token: cached?.kind === 'hit' ? cached.token : undefined,
        refreshToken: known ?? (store ? await hasRefreshToken(store, secretKey(options.profile, id)) : null),
        store: target.settings ? describeStore(target.settings.store ?? storeKind(deps.env), opened) : '',
        needsLogin: refused,
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
      where: opened.secrets.where,
      now: deps.now(),
      ...(colour ? { paint: await colourPainter() } : {}),
      ...(unreadable === undefined ? {} : { unreadable }),
    }),
  );
  // `status PROVIDER || tokens login PROVIDER`: a refused login is 4, as `get` would exit.
  return options.provider && entries[0]?.needs_login ? ExitCode.rejected : 0;
}

/** The store a login used, as people know it: 'redis (HOST:PORT)' when it is the open one. */
function describeStore(kind: string, opened: Store): string {
  return kind === opened.secrets.kind ? opened.secrets.where : kind;
}

async function openQuietly(store: SecretStore, deps: Deps): Promise<SecretStore | undefined> {
  try {
    await store.check();
    return store;
  } catch (error) {
    deps.io.stderr.write(
      `note: the secret store could not be read (${isTokensError(error) ? error.message : 'error'}); refresh-token presence unknown\n`,
    );
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
