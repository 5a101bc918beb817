// "One refresh however many processes ask": N `tokens get` processes started together against an
// expired cache make exactly one token-endpoint request between them, all print the same token, and
// the refresh-token chain survives (no single-use refresh token is ever sent twice).
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  cachePath,
  expireCache,
  parallel,
  secretsSeen,
  tokenRequests,
  useWorlds,
  type Setup,
} from '../support/worlds.js';

const { loggedIn } = useWorlds({ passphrase: 'correct horse battery staple (concurrency)' });

const cases: Array<{ name: string; setup: Setup; prime: boolean; grant: string }> = [
  { name: 'chartmetric, rotating refresh token', setup: 'chartmetric', prime: false, grant: 'refresh_token' },
  { name: 'soundcharts, client credentials', setup: 'soundcharts', prime: false, grant: 'client_credentials' },
  {
    name: 'soundcloud app, first client-credentials mint',
    setup: 'soundcloud-app',
    prime: false,
    grant: 'client_credentials',
  },
  {
    name: 'soundcloud app, renewal with its refresh token',
    setup: 'soundcloud-app',
    prime: true,
    grant: 'refresh_token',
  },
  {
    name: 'soundcloud user login, single-use refresh token',
    setup: 'soundcloud-user',
    prime: false,
    grant: 'refresh_token',
  },
];

describe.each([20, 50])('%i parallel `tokens get` with an expired cache', (n) => {
  it.each(cases)(
    '$name: one request, one token for all, the chain alive',
    { timeout: 120_000 },
    async ({ setup, prime, grant }) => {
      const w = await loggedIn(setup);
      if (prime) expect((await w.run(['get', w.provider])).code).toBe(0);
      await expireCache(w, { ifCached: true });
      const before = await readFile(cachePath(w), 'utf8').catch(() => '');
      const since = Date.now();
      const mintsBefore = w.server.mints(w.provider);
      w.server.delayMs = 300;

      const { results, ms } = await parallel(w, n, ['get', w.provider]);

      for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      const printed = new Set(results.map((r) => r.stdout));
      expect(printed.size).toBe(1);
      const token = [...printed][0]!.trim();
      expect(before).not.toContain(token);
      expect(tokenRequests(w, since)).toHaveLength(1);
      expect(w.server.mints(w.provider) - mintsBefore).toBe(1);
      const issued = w.server.issued.at(-1)!;
      expect(issued).toMatchObject({ provider: w.provider, grantType: grant, accessToken: token });
      expect(w.server.violations).toEqual([]);
      expect(JSON.parse(await readFile(cachePath(w), 'utf8'))).toMatchObject({ access_token: token });
      console.log(`${setup}${prime ? ' (primed)' : ''}: ${n} parallel gets in ${ms} ms`);

      // The chain is alive: the next refresh is accepted and still sends nothing twice.
      w.server.delayMs = 0;
      const again = await w.run(['get', w.provider, '--force-refresh']);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout.trim()).not.toBe(token);
      expect(tokenRequests(w, since)).toHaveLength(2);
      expect(w.server.violations).toEqual([]);
      if (setup === 'chartmetric') expect(w.server.liveRefreshTokens('chartmetric')).toHaveLength(1);
      if (setup === 'soundcloud-user' || (setup === 'soundcloud-app' && prime)) {
        expect(w.server.liveRefreshTokens('soundcloud').length).toBeGreaterThanOrEqual(1);
      }

      const allowed = [...results.map((r) => r.stdout), again.stdout];
      expect(await w.sandbox.findSecrets(secretsSeen(w), allowed)).toEqual([]);
    },
  );
});
