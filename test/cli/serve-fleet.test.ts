// A fleet of `tokens serve`: 3 machines (each its own HOME and XDG directories) on one real
// redis-server, one server each, 20 concurrent clients per server across a token's expiry: one
// token request for all of them, every call answered 200.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { useFleets, type Fleet } from '../support/fleet.js';
import { RedisServer } from '../support/redis.js';
import { startFakeApis, type FakeApis } from '../support/servers.js';
import { serve, type Served } from '../support/serve.js';
import { expireCache, tokenRequests } from '../support/worlds.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis?.dispose();
});
const fleet = useFleets(() => redis);

let apis: FakeApis | undefined;
const servers: Served[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) if (s.cli.child.exitCode === null) expect(await s.stop()).toBe(0);
  await apis?.close();
  apis = undefined;
});

async function atExpiry(f: Fleet): Promise<void> {
  const c = redis.client();
  await c.del(f.key('token'));
  c.disconnect();
  for (const m of f.machines) await expireCache(m, { ifCached: true });
}

it('3 servers × 20 concurrent clients across an expiry make one token request', async () => {
  const f = await fleet('chartmetric', 3);
  apis = await startFakeApis(f.server);
  Object.assign(f.machines[0]!.env, apis.env());
  // 6 s tokens, replaced once half their lifetime is gone.
  f.server.chartmetric.expiresIn = 6;
  await atExpiry(f);
  for (const m of f.machines) servers.push(await serve(m, ['--provider', 'chartmetric']));
  const minted = tokenRequests(f.machines[0]!);
  const last = minted.at(-1)!;
  // Past the half-life of the token the servers started with: every server must replace it now.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, last.time + 3_500 - Date.now())));
  const burst = Date.now();
  const answers = await Promise.all(
    servers.flatMap((s) =>
      Array.from({ length: 20 }, () => fetch(`${s.vars.CHARTMETRIC_API_URL}/api/artist/206557`).then((r) => r.status)),
    ),
  );
  expect(answers).toEqual(Array(60).fill(200));
  expect(tokenRequests(f.machines[0]!, burst).length).toBe(1);
  const used = new Set(apis.chartmetric.requests.filter((r) => r.time >= burst).map((r) => r.token));
  expect(used.size).toBe(1);
  expect(apis.violations()).toEqual([]);
  expect(f.server.violations).toEqual([]);
  for (const m of f.machines) expect(await m.sandbox.findSecrets(f.secrets())).toEqual([]);
});
