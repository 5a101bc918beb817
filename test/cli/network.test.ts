// What sits between tokens and a token endpoint: an endpoint that trickles its answer (the timeout
// bounds the whole attempt, so `get` and its waiters end), an https server whose certificate is not
// trusted (refused whatever NODE_TLS_REJECT_UNAUTHORIZED says), and a forward proxy named by
// HTTPS_PROXY (a CONNECT tunnel that sees no secret; NO_PROXY and loopback hosts go direct).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  makeCertificates,
  REMOTE_HOST,
  startProxy,
  startTlsFront,
  startTrickler,
  type Certificates,
  type Listening,
  type ForwardProxy,
} from '../support/network.js';
import { expireCache, parallel, secretsSeen, tokenRequests, useWorlds, type World } from '../support/worlds.js';

const PASSPHRASE = 'correct horse battery staple (network)';
const PROXY_USER = 'proxy-user';
const PROXY_PASSWORD = 'proxy-pw-Zq81xT4v';

const worlds = useWorlds({
  passphrase: PASSPHRASE,
  beforeDispose: async (w) =>
    expect(await w.sandbox.findSecrets([...secretsSeen(w), PROXY_PASSWORD], allowedOutputs)).toEqual([]),
});
/** Outputs that may hold a secret: the access tokens `get` was asked for. */
let allowedOutputs: string[] = [];

async function expiredChartmetric(): Promise<World> {
  allowedOutputs = [];
  const w = await worlds.loggedIn('chartmetric');
  await expireCache(w);
  return w;
}

/** The path of the world's Chartmetric token endpoint, to be reached at another origin. */
const tokenPath = (w: World) => new URL(w.env.TOKENS_CHARTMETRIC_TOKEN_URL!).pathname;

describe('a token endpoint that trickles its answer', () => {
  let trickler: Listening & { requests(): number };
  beforeAll(async () => (trickler = await startTrickler(500)));
  afterAll(() => trickler.close());

  it('ends `get` and the gets waiting on it with exit 5 within the timeout of each attempt', async () => {
    const w = await expiredChartmetric();
    const timeoutS = 2;
    const { results, ms } = await parallel(w, 3, ['get', 'chartmetric'], {
      TOKENS_CHARTMETRIC_TOKEN_URL: `http://127.0.0.1:${trickler.port}/api/token`,
      TOKENS_HTTP_TIMEOUT: String(timeoutS),
    });
    for (const r of results) {
      expect(r.code, r.stderr).toBe(5);
      expect(r.stdout).toBe('');
    }
    // The contract's bound: three attempts of at most the timeout each, plus backoff (under 2 s),
    // with generous slack for a loaded machine; a byte every 0.5 s never restarts the clock.
    expect(ms).toBeLessThan((3 * timeoutS + 2 + 15) * 1000);
    expect(results.map((r) => r.stderr).join('')).toMatch(/Chartmetric token endpoint/);
  });
});

describe('TLS and proxies', () => {
  let certs: Certificates;
  let front: Listening | undefined;
  let proxy: ForwardProxy | undefined;
  beforeAll(async () => (certs = await makeCertificates()));
  afterAll(() => certs.dispose());
  const closeAll = async () => {
    await front?.close();
    await proxy?.close();
    front = proxy = undefined;
  };

  /** An https front for the world's fake server, and a proxy that alone knows REMOTE_HOST is there. */
  async function behindProxy(w: World): Promise<{ front: Listening; proxy: ForwardProxy }> {
    front = await startTlsFront(new URL(w.env.TOKENS_CHARTMETRIC_TOKEN_URL!).origin, certs);
    proxy = await startProxy({ [`${REMOTE_HOST}:443`]: `127.0.0.1:${front.port}` });
    return { front, proxy };
  }

  it('refuses an untrusted certificate even with NODE_TLS_REJECT_UNAUTHORIZED=0, and trusts NODE_EXTRA_CA_CERTS', async () => {
    const w = await expiredChartmetric();
    try {
      const { front } = await behindProxy(w);
      const env = {
        TOKENS_CHARTMETRIC_TOKEN_URL: `https://127.0.0.1:${front.port}${tokenPath(w)}`,
        NODE_TLS_REJECT_UNAUTHORIZED: '0',
      };
      const refused = await w.run(['get', 'chartmetric'], { env });
      expect(refused.code, refused.stderr).toBe(5);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|certificate/i);
      // The refresh token never reached the server.
      expect(tokenRequests(w)).toHaveLength(1); // the login's

      const trusted = await w.run(['get', 'chartmetric'], { env: { ...env, NODE_EXTRA_CA_CERTS: certs.caFile } });
      expect(trusted.code, trusted.stderr).toBe(0);
      expect(trusted.stdout).toMatch(/^\S+\n$/);
      allowedOutputs.push(trusted.stdout);
    } finally {
      await closeAll();
    }
  });

  it('goes through HTTPS_PROXY by CONNECT: the proxy sees host and port, its credentials, and no secret', async () => {
    const w = await expiredChartmetric();
    try {
      const { proxy } = await behindProxy(w);
      const r = await w.run(['get', 'chartmetric', '--verbose'], {
        env: {
          TOKENS_CHARTMETRIC_TOKEN_URL: `https://${REMOTE_HOST}${tokenPath(w)}`,
          HTTPS_PROXY: `http://${PROXY_USER}:${PROXY_PASSWORD}@127.0.0.1:${proxy.port}`,
          NODE_EXTRA_CA_CERTS: certs.caFile,
        },
      });
      expect(r.code, r.stderr).toBe(0);
      const token = r.stdout.trim();
      allowedOutputs.push(r.stdout);
      expect(proxy.requests).toEqual([`CONNECT ${REMOTE_HOST}:443`]);
      expect(proxy.authorizations).toEqual([
        `Basic ${Buffer.from(`${PROXY_USER}:${PROXY_PASSWORD}`).toString('base64')}`,
      ]);
      // --verbose names the proxy as HOST:PORT, never its user or password.
      expect(r.stderr).toContain(`127.0.0.1:${proxy.port}`);
      expect(r.stderr).not.toContain(PROXY_USER);
      // A tunnel: the proxy saw TLS, not the refresh token or the token it bought.
      const seen = proxy.tunnelled();
      expect(seen.length).toBeGreaterThan(0);
      for (const secret of [...secretsSeen(w), token]) expect(seen.includes(Buffer.from(secret))).toBe(false);
    } finally {
      await closeAll();
    }
  });

  it('reaches NO_PROXY hosts and loopback hosts directly', async () => {
    const w = await expiredChartmetric();
    try {
      const { front, proxy } = await behindProxy(w);
      const proxied = { HTTPS_PROXY: `127.0.0.1:${proxy.port}`, NODE_EXTRA_CA_CERTS: certs.caFile };
      // Direct, so the made-up host is not found: exit 5, and the proxy saw nothing.
      const bypassed = await w.run(['get', 'chartmetric'], {
        env: {
          ...proxied,
          NO_PROXY: `example.com, .test.invalid`,
          TOKENS_CHARTMETRIC_TOKEN_URL: `https://${REMOTE_HOST}${tokenPath(w)}`,
        },
      });
      expect(bypassed.code, bypassed.stderr).toBe(5);
      expect(bypassed.stderr).toMatch(/ENOTFOUND|EAI_AGAIN/);
      const loopback = await w.run(['get', 'chartmetric'], {
        env: { ...proxied, TOKENS_CHARTMETRIC_TOKEN_URL: `https://127.0.0.1:${front.port}${tokenPath(w)}` },
      });
      expect(loopback.code, loopback.stderr).toBe(0);
      allowedOutputs.push(loopback.stdout);
      expect(proxy.requests).toEqual([]);
    } finally {
      await closeAll();
    }
  });
});
