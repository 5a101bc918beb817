// KeychainStore against a real gnome-keyring on a private D-Bus session bus. keytar binds to the D-Bus
// session of the process's environment, so every scenario runs in a child process (the store bundled
// with esbuild, keytar resolved from the repository's node_modules) with the harness's environment.

import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleForChild, repoTempDir } from '../support/bundle.js';
import { startSecretService, type SecretService } from '../support/secret-service.js';

type Op =
  | { op: 'check' }
  | { op: 'get'; key: string }
  | { op: 'set'; key: string; value: string }
  | { op: 'delete'; key: string }
  | { op: 'list' };
type Result = { ok: unknown } | { error: { name: string; exitCode?: number; message: string; hint?: string } };

const DRIVER = `
const [bundle, opsJson, timeoutMs] = process.argv.slice(2);
const results = [];
try {
  const { KeychainStore } = await import(bundle);
  const store = new KeychainStore(timeoutMs ? { timeoutMs: Number(timeoutMs) } : {});
  for (const o of JSON.parse(opsJson)) {
    try {
      const ok = o.op === 'set' ? await store.set(o.key, o.value) : o.op === 'check' ? await store.check() : await store[o.op](o.key);
      results.push({ ok: ok === undefined ? null : ok });
    } catch (e) {
      results.push({ error: { name: e.name, exitCode: e.exitCode, message: e.message, hint: e.hint } });
    }
  }
} catch (e) {
  results.push({ error: { name: 'load', message: String(e && e.stack) } });
}
process.stdout.write(JSON.stringify(results));
// No process.exit(): the process must end by itself, even after a keychain call timed out.
`;

let work: string;
let home: string;
let bundleInRepo: string;
let bundleOutside: string;
let driver: string;
let service: SecretService | undefined;

beforeAll(async () => {
  work = await repoTempDir('keychain-');
  home = await mkdtemp(join(tmpdir(), 'tokens-keychain-home-'));
  bundleInRepo = join(work, 'keychain.mjs');
  // A copy where `keytar` cannot be resolved, to see the missing-module error.
  const outside = await mkdtemp(join(tmpdir(), 'tokens-keychain-nokeytar-'));
  bundleOutside = join(outside, 'keychain.mjs');
  driver = join(work, 'driver.mjs');
  for (const outfile of [bundleInRepo, bundleOutside]) await bundleForChild('src/store/keychain.ts', outfile);
  await writeFile(driver, DRIVER);
  service = await startSecretService(home);
}, 60_000);

afterAll(async () => {
  await service?.stop();
  await rm(work, { recursive: true, force: true });
  await rm(home, { recursive: true, force: true });
  await rm(join(bundleOutside, '..'), { recursive: true, force: true });
});

async function runOps(
  ops: Op[],
  { env, bundle = bundleInRepo, timeoutMs }: { env: Record<string, string>; bundle?: string; timeoutMs?: number },
): Promise<Result[]> {
  const args = [driver, bundle, JSON.stringify(ops), timeoutMs === undefined ? '' : String(timeoutMs)];
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', reject);
      child.on('close', (c) => resolve({ code: c, stdout, stderr }));
    },
  );
  expect(code, stderr).toBe(0);
  const results = JSON.parse(stdout) as Result[];
  for (const r of results) if ('error' in r && r.error.name === 'load') throw new Error(r.error.message);
  return results;
}

function storeError(r: Result | undefined): { message: string; exitCode?: number; name: string } {
  expect(r).toHaveProperty('error');
  return (r as { error: { message: string; exitCode?: number; name: string } }).error;
}

describe('KeychainStore (gnome-keyring on a private session bus)', () => {
  it('sets, gets, lists and deletes', async () => {
    const env = service!.env;
    const results = await runOps(
      [
        { op: 'check' },
        { op: 'set', key: 'default/soundcloud', value: 'refresh-Zq8vN3kP0wLx' },
        { op: 'set', key: 'default/chartmetric', value: 'first' },
        { op: 'set', key: 'default/chartmetric', value: 'second' },
        { op: 'get', key: 'default/soundcloud' },
        { op: 'get', key: 'default/chartmetric' },
        { op: 'list' },
      ],
      { env },
    );
    expect(results).toEqual([
      { ok: null },
      { ok: null },
      { ok: null },
      { ok: null },
      { ok: 'refresh-Zq8vN3kP0wLx' },
      { ok: 'second' },
      { ok: ['default/chartmetric', 'default/soundcloud'] },
    ]);

    // Another process sees the same keychain.
    const later = await runOps(
      [
        { op: 'get', key: 'default/soundcloud' },
        { op: 'delete', key: 'default/soundcloud' },
        { op: 'delete', key: 'default/soundcloud' },
        { op: 'get', key: 'default/soundcloud' },
        { op: 'list' },
        { op: 'delete', key: 'default/chartmetric' },
        { op: 'list' },
      ],
      { env },
    );
    expect(later.slice(0, 3)).toEqual([{ ok: 'refresh-Zq8vN3kP0wLx' }, { ok: true }, { ok: false }]);
    expect(storeError(later[3])).toMatchObject({ name: 'SecretNotFoundError' });
    expect(later.slice(4)).toEqual([{ ok: ['default/chartmetric'] }, { ok: true }, { ok: [] }]);
  }, 60_000);

  it('reports a missing key as not found', async () => {
    const [r] = await runOps([{ op: 'get', key: 'nobody/none' }], { env: service!.env });
    expect(storeError(r)).toMatchObject({
      name: 'SecretNotFoundError',
      message: expect.stringContaining('nobody/none'),
    });
  }, 30_000);

  it('fails with exit 6 naming TOKENS_STORE=file when there is no session bus', async () => {
    const env = { ...service!.env, DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(home, 'no-such-bus-socket')}` };
    delete (env as Record<string, string | undefined>).DISPLAY;
    const results = await runOps(
      [{ op: 'check' }, { op: 'get', key: 'a' }, { op: 'set', key: 'a', value: 'sekrit-value-123' }, { op: 'list' }],
      { env },
    );
    for (const r of results) {
      const e = storeError(r);
      expect(e).toMatchObject({ name: 'StoreError', exitCode: 6 });
      expect(e.message).toMatch(/keychain could not be reached/);
      expect(e.message).toContain('TOKENS_STORE=file');
      expect(e.message).not.toContain('sekrit-value-123');
    }
  }, 30_000);

  it('fails with exit 6 naming TOKENS_STORE=file when the keychain does not answer in time', async () => {
    // A "bus" that accepts connections and never says anything.
    const socketPath = join(home, 'silent-bus');
    const sockets: Socket[] = [];
    const server: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const env = { ...service!.env, DBUS_SESSION_BUS_ADDRESS: `unix:path=${socketPath}` };
      const started = Date.now();
      const [r] = await runOps([{ op: 'check' }], { env, timeoutMs: 1000 });
      // The child timed out after 1 s and then exited on its own, without waiting for the stuck call.
      expect(Date.now() - started).toBeLessThan(8_000);
      const e = storeError(r);
      expect(e).toMatchObject({ name: 'StoreError', exitCode: 6 });
      expect(e.message).toMatch(
        /no answer within 1 s while (checking that it answers|reading a secret|writing a secret);/,
      );
      expect(e.message).toContain('TOKENS_STORE=file');
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 30_000);

  it('fails with exit 6 explaining how to get keytar when it cannot be loaded', async () => {
    const [r] = await runOps([{ op: 'check' }], { env: service!.env, bundle: bundleOutside });
    const e = storeError(r);
    expect(e).toMatchObject({ name: 'StoreError', exitCode: 6 });
    expect(e.message).toMatch(/keychain module \(keytar\) is missing/);
    expect(e.message).toContain('libsecret-1-dev');
    // Outside any tokens package (so neither a checkout nor a global install): npm 12's two ways to allow it.
    expect(e.message).toContain('allowScripts in package.json, or --allow-scripts=keytar');
    expect(e.message).toContain('TOKENS_STORE=file');
  }, 30_000);
});
