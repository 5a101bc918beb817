// A SoundCloud refresh whose answer comes too late: the server spent the single-use refresh token,
// the answer carrying its successor never arrived. tokens must not send the spent token again in the
// same run (a provider following RFC 9700 takes a replay for theft), must keep the store as it was,
// and must say in one line why it gave up and what to do.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileStore } from '../../src/store/file.js';
import { expireCache, secretsSeen, tokenRequests, useWorlds, type World } from '../support/worlds.js';

const PASSPHRASE = 'correct horse battery staple (single-use)';
/** TOKENS_HTTP_TIMEOUT for the run whose answer is late, and how late the answer is. */
const TIMEOUT_SECONDS = 1;
const DELAY_MS = 3_000;

const worlds = useWorlds({
  passphrase: PASSPHRASE,
  beforeDispose: async (w) => expect(await w.sandbox.findSecrets(secretsSeen(w))).toEqual([]),
});

function storedBundle(w: World): Promise<Record<string, string>> {
  const path = join(w.sandbox.home, '.local', 'share', 'tokens', 'secrets.enc');
  return new FileStore({ path, passphrase: PASSPHRASE })
    .get('default/soundcloud')
    .then((text) => JSON.parse(text) as Record<string, string>);
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A `get` whose refresh the server processes but answers only after the timeout: exit 5 after one
 * request, one line on stderr, no secret in either stream, and the store as it was.
 */
async function lateAnswer(w: World) {
  const bundle = await storedBundle(w);
  const spent = bundle.refresh_token!;
  expect(w.server.liveRefreshTokens('soundcloud')).toEqual([spent]);
  w.server.fault('soundcloud', { kind: 'delay', ms: DELAY_MS });
  const since = Date.now();
  const r = await w.run(['get', 'soundcloud'], { env: { TOKENS_HTTP_TIMEOUT: String(TIMEOUT_SECONDS) } });
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 5, stdout: '' });
  // The server goes on after the client gave up: the refresh token is spent, its successor issued.
  await waitFor(() => !w.server.liveRefreshTokens('soundcloud').includes(spent), 20_000);
  const successor = w.server.liveRefreshTokens('soundcloud');
  expect(successor).toHaveLength(1);
  const issued = w.server.issued.at(-1)!.accessToken;

  expect(tokenRequests(w, since).map((q) => q.form?.refresh_token)).toEqual([spent]);
  expect(w.server.violations).toEqual([]);
  const lines = r.stderr.split('\n');
  expect(lines.at(-1)).toBe('');
  expect(lines.slice(0, -1)).toEqual([
    `tokens: SoundCloud token endpoint unavailable (no answer within ${TIMEOUT_SECONDS} s); the request was sent once, not repeated, because it spends a single-use refresh token that SoundCloud may have accepted. If the next call says to log in again, run \`${w.setup === 'soundcloud-app' ? 'tokens login soundcloud --client-credentials' : 'tokens login soundcloud'}\`.`,
  ]);
  for (const value of [spent, ...successor, issued, bundle.client_secret!, PASSPHRASE]) {
    expect(r.stdout).not.toContain(value);
    expect(r.stderr).not.toContain(value);
  }
  // Nothing written: the store still holds the refresh token that was sent.
  expect(await storedBundle(w)).toEqual(bundle);
  return { spent, since: Date.now() };
}

describe('a SoundCloud refresh answered after TOKENS_HTTP_TIMEOUT, once the server has processed it', () => {
  it('user login: sent once, exit 5 in one line, the store kept; the next get is refused: exit 4, log in again', {
    timeout: 60_000,
  }, async () => {
    const w = await worlds.loggedIn('soundcloud-user');
    await expireCache(w);
    const { spent, since } = await lateAnswer(w);

    // The next get can only send what the store holds, which the server has spent: log in again.
    const next = await w.run(['get', 'soundcloud']);
    expect({ code: next.code, stdout: next.stdout }).toEqual({ code: 4, stdout: '' });
    expect(next.stderr).toMatch(/invalid_grant/);
    expect(next.stderr).toContain('Run `tokens login soundcloud`');
    expect(tokenRequests(w, since).map((q) => q.form?.refresh_token)).toEqual([spent]);
    // That replay is the one the lost answer made unavoidable, and the first there was.
    expect(w.server.violations).toEqual(['soundcloud POST /soundcloud/oauth/token: single-use refresh token reused']);
  });

  it('client credentials: the same, and the next get mints afresh with the app credentials (no login)', {
    timeout: 60_000,
  }, async () => {
    const w = await worlds.loggedIn('soundcloud-app');
    // The first get mints and stores the app's refresh token; the one after the expiry spends it.
    const first = await w.run(['get', 'soundcloud']);
    expect(first.code, first.stderr).toBe(0);
    await expireCache(w);
    const { spent, since } = await lateAnswer(w);

    const next = await w.run(['get', 'soundcloud']);
    expect(next.code, next.stderr).toBe(0);
    expect(tokenRequests(w, since).map((q) => q.form?.grant_type ?? '')).toEqual([
      'refresh_token',
      'client_credentials',
    ]);
    expect(tokenRequests(w, since)[0]!.form?.refresh_token).toBe(spent);
    expect(w.server.violations).toEqual(['soundcloud POST /soundcloud/oauth/token: single-use refresh token reused']);
  });
});
