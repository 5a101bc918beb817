// SIGKILL at moments spread over whole refreshes with rotation (Chartmetric rotating on every
// exchange, a reused refresh token revoking): the encrypted store is never damaged, and whenever the
// stored refresh token no longer works, the provider had already received a request spending it (the
// kill fell between the provider's answer and our write: nothing can save that chain). Kept small and
// bounded (N kills; a kill that leaves the lock costs the next run its 5 s stale period).
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { login, random, secretsSeen, tokenRequests, useWorlds } from '../support/worlds.js';

const PASSPHRASE = 'crash test passphrase';
const N = 15;
const worlds = useWorlds({
  passphrase: PASSPHRASE,
  beforeDispose: async (w) => expect(await w.sandbox.findSecrets(secretsSeen(w))).toEqual([]),
});

it(`${N} refreshes killed at moments spread over their course: the store is never damaged, every burned chain explained`, {
  timeout: 400_000,
}, async () => {
  const w = await worlds.loggedIn('chartmetric');
  const store = new FileStore({
    path: join(w.sandbox.home, '.local/share/tokens/secrets.enc'),
    passphrase: PASSPHRASE,
  });
  const stored = async () =>
    (JSON.parse(await store.get('default/chartmetric')) as { refresh_token: string }).refresh_token;
  w.server.delayMs = 50;

  // How long one whole refresh takes here, to spread the kills over it.
  const started = Date.now();
  const whole = await w.run(['get', 'chartmetric', '--force-refresh']);
  expect(whole.code, whole.stderr).toBe(0);
  const spanMs = Date.now() - started;

  let burned = 0;
  const kills: string[] = [];
  for (let i = 0; i < N; i++) {
    const since = Date.now();
    const run = w.sandbox.start(['get', 'chartmetric', '--force-refresh'], { env: w.env, timeoutMs: 60_000 });
    const atMs = Math.round(((i + 0.5) / N) * spanMs * 1.2);
    await new Promise((resolve) => setTimeout(resolve, atMs));
    run.child.kill('SIGKILL');
    const result = await run.result;

    // Never damaged: the file decrypts and holds a refresh token.
    const token = await stored();
    const live = w.server.liveRefreshTokens('chartmetric');
    const sent = tokenRequests(w, since).length;
    kills.push(`${atMs} ms: ${result.signal ?? `exit ${result.code}`}, ${sent} request(s)`);
    if (!live.includes(token)) {
      // Explained: the provider received a request with exactly that token.
      expect(
        w.server.requests.some((r) => (r.json as { refreshtoken?: string } | undefined)?.refreshtoken === token),
      ).toBe(true);
      burned++;
      const fresh = random('cm_rt_relogin_');
      w.secrets.push(fresh);
      w.server.chartmetric.addRefreshToken(fresh);
      await login(w, { refreshToken: fresh });
    }
    expect(w.server.violations).toEqual([]);
  }
  console.log(`crash test: ${N} kills over a ${spanMs} ms refresh, ${burned} chain(s) burned; ${kills.join('; ')}`);

  // And the store still works.
  const after = await w.run(['get', 'chartmetric', '--force-refresh']);
  expect(after.code, after.stderr).toBe(0);
  expect(w.server.violations).toEqual([]);
});
