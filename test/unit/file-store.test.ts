import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { StoreError, UsageError } from '../../src/base/errors.js';
import { resolvePaths } from '../../src/model/paths.js';
import { KeyDeriver, parseKdfHeader } from '../../src/store/crypto.js';
import { FileStore } from '../../src/store/file.js';
import { storeKindFromEnv } from '../../src/model/store-locations.js';
import { openStore } from '../../src/store/open.js';
import { SecretNotFoundError } from '../../src/store/store.js';
import { bundleForChild, repoTempDir } from '../support/bundle.js';

// Count key derivations, passing every call through to the real scrypt.
const scryptCalls = vi.hoisted(() => ({ count: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return {
    ...actual,
    scrypt: (...args: Parameters<typeof actual.scrypt>) => {
      scryptCalls.count++;
      return (actual.scrypt as (...a: unknown[]) => void)(...args);
    },
  };
});

const PASS = 'correct horse battery staple';
const SECRET_A = 'refresh-token-Zq8vN3kP0wLx7Yt2';
const SECRET_B = 'client-secret-Hh4Jd9Qm1Rs6Uv5e';

let root: string;
let dir: string;
let file: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tokens-file-store-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
let n = 0;
beforeEach(() => {
  dir = join(root, `case-${++n}`, 'tokens');
  file = join(dir, 'secrets.enc');
});

const store = (...args: [passphrase?: string | undefined, path?: string]) =>
  new FileStore({ passphrase: args.length > 0 ? args[0] : PASS, path: args[1] ?? file });

async function expectStoreError(p: Promise<unknown>, pattern: RegExp): Promise<StoreError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(StoreError);
  const err = e as StoreError;
  expect(err.exitCode).toBe(6);
  expect(err.message).toMatch(pattern);
  return err;
}

const CANNOT_DECRYPT = /cannot decrypt .*secrets\.enc: wrong passphrase, or the file was changed/;

async function seed(): Promise<Buffer> {
  const s = store();
  await s.set('default/soundcloud', SECRET_A);
  await s.set('default/soundcharts', SECRET_B);
  return readFile(file);
}

describe('FileStore', () => {
  it('treats an absent file as an empty store', async () => {
    const s = store();
    await s.check();
    expect(await s.list()).toEqual([]);
    await expect(s.get('x')).rejects.toBeInstanceOf(SecretNotFoundError);
    expect(await s.delete('x')).toBe(false);
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('round-trips across instances', async () => {
    const a = store();
    await a.set('default/soundcloud', SECRET_A);
    await a.set('default/chartmetric', 'v2');
    await a.set('default/chartmetric', 'v3');

    const b = store();
    await b.check();
    expect(await b.get('default/soundcloud')).toBe(SECRET_A);
    expect(await b.get('default/chartmetric')).toBe('v3');
    expect(await b.list()).toEqual(['default/chartmetric', 'default/soundcloud']);
    expect(await b.delete('default/chartmetric')).toBe(true);
    expect(await b.delete('default/chartmetric')).toBe(false);

    const c = store();
    expect(await c.list()).toEqual(['default/soundcloud']);
    await expect(c.get('default/chartmetric')).rejects.toBeInstanceOf(SecretNotFoundError);
    // Values with any characters survive.
    const odd = 'ünïcødé \n "quotes" \\ \u0000 🎵';
    await c.set('p/x', odd);
    expect(await store().get('p/x')).toBe(odd);
  });

  it('writes a versioned envelope, reusing the salt and using a fresh IV on every write', async () => {
    await store().set('k', 'v1');
    const first = JSON.parse(await readFile(file, 'utf8'));
    expect(first).toMatchObject({ v: 1, kdf: { name: 'scrypt', N: 32768, r: 8, p: 1 } });
    expect(Buffer.from(first.kdf.salt, 'base64')).toHaveLength(16);
    expect(Buffer.from(first.iv, 'base64')).toHaveLength(12);
    expect(Buffer.from(first.tag, 'base64')).toHaveLength(16);
    await store().set('k', 'v1');
    const second = JSON.parse(await readFile(file, 'utf8'));
    expect(second.kdf.salt).toBe(first.kdf.salt);
    expect(second.iv).not.toBe(first.iv);
  });

  it('derives the key at most once per instance, and only when needed', async () => {
    const s = store();
    scryptCalls.count = 0;
    await s.check(); // no file yet: nothing to derive
    expect(scryptCalls.count).toBe(0);
    await s.set('a', '1');
    await s.set('b', '2');
    await Promise.all([s.get('a'), s.get('b'), s.list(), s.check()]);
    await s.delete('a');
    expect(scryptCalls.count).toBe(1);
    const t = store();
    await Promise.all([t.get('b'), t.get('b'), t.list()]);
    expect(scryptCalls.count).toBe(2);
  });

  it('takes a deriver already at work (the early start): no second derivation; not another passphrase’s', async () => {
    await seed();
    const envelope = JSON.parse(await readFile(file, 'utf8'));
    const early = new KeyDeriver(PASS);
    scryptCalls.count = 0;
    void early.keyFor(parseKdfHeader(envelope.kdf)!);
    const s = new FileStore({ passphrase: PASS, path: file, keys: early });
    expect([await s.get('default/soundcloud'), await s.get('default/soundcharts')]).toEqual([SECRET_A, SECRET_B]);
    await s.set('c', '3');
    expect(scryptCalls.count).toBe(1);
    // A deriver for another passphrase is not used: the store's own passphrase decides.
    const wrong = new KeyDeriver('another passphrase');
    void wrong.keyFor(parseKdfHeader(envelope.kdf)!);
    scryptCalls.count = 0;
    expect(await new FileStore({ passphrase: PASS, path: file, keys: wrong }).get('c')).toBe('3');
    expect(scryptCalls.count).toBe(1);
    // Started for a header the file no longer has (rewritten since): derived anew for the file's own.
    const stale = new KeyDeriver(PASS);
    void stale.keyFor({ ...parseKdfHeader(envelope.kdf)!, salt: Buffer.alloc(16, 7).toString('base64') });
    scryptCalls.count = 0;
    expect(await new FileStore({ passphrase: PASS, path: file, keys: stale }).get('c')).toBe('3');
    expect(scryptCalls.count).toBe(1);
  });

  it('derives the key without blocking the event loop', async () => {
    await store().set('a', '1');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      await store().check();
    } finally {
      clearInterval(timer);
    }
    // A blocking scrypt (~50-150 ms) would let the 1 ms timer fire once or twice at most.
    expect(ticks).toBeGreaterThanOrEqual(5);
  });

  it('rejects a wrong passphrase with exit 6, and does not overwrite the file', async () => {
    const before = await seed();
    const wrong = store('not the passphrase');
    await expectStoreError(wrong.check(), CANNOT_DECRYPT);
    await expectStoreError(wrong.get('default/soundcloud'), CANNOT_DECRYPT);
    await expectStoreError(wrong.list(), CANNOT_DECRYPT);
    await expectStoreError(wrong.set('default/soundcloud', 'x'), CANNOT_DECRYPT);
    await expectStoreError(wrong.delete('default/soundcloud'), CANNOT_DECRYPT);
    expect(await readFile(file)).toEqual(before);
    expect(await store().get('default/soundcloud')).toBe(SECRET_A);
  });

  it('requires TOKENS_PASSPHRASE (exit 6), lazily', async () => {
    await seed();
    for (const pass of [undefined, '']) {
      const s = store(pass); // constructing is fine
      for (const op of [
        () => s.check(),
        () => s.get('default/soundcloud'),
        () => s.list(),
        () => s.set('a', 'b'),
        () => s.delete('a'),
      ]) {
        await expectStoreError(op(), /TOKENS_PASSPHRASE/);
      }
    }
    // Also without a file.
    await expectStoreError(store(undefined, join(root, 'nowhere', 'secrets.enc')).check(), /TOKENS_PASSPHRASE/);
  });

  describe('tampering', () => {
    type Envelope = {
      v: number;
      kdf: { name: string; N: number; r: number; p: number; salt: string };
      iv: string;
      tag: string;
      ct: string;
    };
    const flipB64 = (b64: string, index: number) => {
      const buf = Buffer.from(b64, 'base64');
      buf[(index + buf.length) % buf.length]! ^= 0x01;
      return buf.toString('base64');
    };
    const cases: Array<[string, (e: Envelope) => void]> = [
      ['a ciphertext byte', (e) => (e.ct = flipB64(e.ct, 3))],
      ['the last ciphertext byte', (e) => (e.ct = flipB64(e.ct, -1))],
      ['a tag byte', (e) => (e.tag = flipB64(e.tag, 5))],
      ['an IV byte', (e) => (e.iv = flipB64(e.iv, 0))],
      ['a salt byte (header)', (e) => (e.kdf.salt = flipB64(e.kdf.salt, 7))],
      ['N (header)', (e) => (e.kdf.N = 2 ** 14)],
      ['r (header)', (e) => (e.kdf.r = 9)],
      ['the version (header)', (e) => (e.v = 2)],
      ['the kdf name (header)', (e) => (e.kdf.name = 'pbkdf2')],
      ['a padding bit of the base64 tag', (e) => (e.tag = e.tag.replace(/.(?==*$)/, (c) => (c === 'A' ? 'B' : 'A')))],
      ['an extra field', (e) => Object.assign(e, { extra: 1 })],
      ['the ciphertext, dropped', (e) => (e.ct = '')],
    ];
    for (const [what, mutate] of cases) {
      it(`rejects a changed ${what} with exit 6`, async () => {
        await seed();
        const envelope = JSON.parse(await readFile(file, 'utf8')) as Envelope;
        mutate(envelope);
        await writeFile(file, JSON.stringify(envelope));
        await expectStoreError(store().get('default/soundcloud'), CANNOT_DECRYPT);
        await expectStoreError(store().set('x', 'y'), CANNOT_DECRYPT);
      });
    }

    it('rejects raw single-byte flips anywhere in the file with exit 6', async () => {
      const original = await seed();
      // Positions spread over the whole file (header, iv, tag, ciphertext, structure).
      const positions = [0, 5, 12, 20, 30, 45, 60, 80, 100, 125, original.length - 3, original.length - 2];
      for (const pos of positions) {
        const copy = Buffer.from(original);
        copy[pos]! ^= 0x04;
        await writeFile(file, copy);
        await expectStoreError(store().list(), CANNOT_DECRYPT);
      }
    });

    it('rejects a truncated file with exit 6', async () => {
      const original = await seed();
      for (const len of [0, 1, 40, Math.floor(original.length / 2), original.length - 10, original.length - 2]) {
        await writeFile(file, original.subarray(0, len));
        await expectStoreError(store().check(), CANNOT_DECRYPT);
      }
    });
  });

  it('keeps the file 0600 in a 0700 directory', async () => {
    await seed();
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });

  it('tightens an existing loose directory and file', async () => {
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o755);
    await seed();
    await chmod(file, 0o644);
    await store().set('another', 'value');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });

  it('never writes a secret in the clear, and leaves no temp or lock files', async () => {
    const s = store();
    const secrets = [SECRET_A, SECRET_B];
    await s.set('default/soundcloud', SECRET_A);
    await s.set('default/soundcharts', SECRET_B);
    await s.set('default/soundcloud', SECRET_A); // rewrite too
    expect((await readdir(dir)).sort()).toEqual(['secrets.enc']);
    const raw = await readFile(file);
    const needles = secrets.flatMap((v) => {
      const b = Buffer.from(v);
      return [
        b,
        Buffer.from(b.toString('base64')),
        Buffer.from(b.toString('base64url')),
        Buffer.from(b.toString('hex')),
        Buffer.from(v.slice(4, 20)), // a fragment
        Buffer.from(JSON.stringify(v)),
      ];
    });
    for (const needle of needles) expect(raw.includes(needle), `found ${needle.toString()}`).toBe(false);
    // Nor the passphrase, nor the key names.
    expect(raw.includes(Buffer.from(PASS))).toBe(false);
    expect(raw.includes(Buffer.from('soundcloud'))).toBe(false);
  });

  it('serializes concurrent writers within one process', async () => {
    const writers = Array.from({ length: 4 }, () => store());
    await Promise.all(
      writers.flatMap((w, i) => Array.from({ length: 5 }, (_, j) => w.set(`w${i}/k${j}`, `v${i}-${j}`))),
    );
    const keys = await store().list();
    expect(keys).toHaveLength(20);
    expect(await store().get('w3/k4')).toBe('v3-4');
  });

  it('takes over a stale lock left by a crashed process', async () => {
    await seed();
    const lockDir = `${file}.lock`;
    await mkdir(lockDir);
    const old = new Date(Date.now() - 60_000);
    await utimes(lockDir, old, old);
    await store().set('after-crash', 'ok');
    expect(await store().get('after-crash')).toBe('ok');
    await expect(stat(lockDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('takes a stale lock over once when several writers find it at the same time, losing no write', async () => {
    await seed();
    const lockDir = `${file}.lock`;
    await mkdir(lockDir);
    const old = new Date(Date.now() - 60_000); // as left by a SIGKILLed holder
    await utimes(lockDir, old, old);
    const debug: string[] = [];
    const lockDeps = {
      env: {},
      now: () => Date.now(),
      sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
      random: () => Math.random(),
      debug: (m: string) => debug.push(m),
    };
    const writers = Array.from({ length: 4 }, () => new FileStore({ path: file, passphrase: PASS, lockDeps }));
    await Promise.all(writers.map((w, i) => w.set(`after-crash/${i}`, `ok-${i}`)));
    expect(debug.filter((m) => m.startsWith('took over the lock'))).toHaveLength(1);
    expect(await store().list()).toEqual([
      'after-crash/0',
      'after-crash/1',
      'after-crash/2',
      'after-crash/3',
      'default/soundcharts',
      'default/soundcloud',
    ]);
    expect(await store().get('default/soundcloud')).toBe(SECRET_A);
    expect((await readdir(dir)).sort()).toEqual(['secrets.enc']);
  });

  it('loses no update when child processes write different keys concurrently', async () => {
    // Under the repository, so that the bundle resolves its dependencies from node_modules.
    const bundleDir = await repoTempDir('file-store-');
    try {
      await bundleForChild('src/store/file.ts', join(bundleDir, 'file-store.mjs'));
      const driver = join(bundleDir, 'writer.mjs');
      await writeFile(
        driver,
        `import { FileStore } from './file-store.mjs';
const [path, prefix, count] = process.argv.slice(2);
const store = new FileStore({ path, passphrase: process.env.TOKENS_PASSPHRASE });
for (let j = 0; j < Number(count); j++) await store.set(prefix + '/k' + j, 'value-' + prefix + '-' + j);
`,
      );
      await seed();
      const CHILDREN = 8;
      const PER_CHILD = 5;
      const results = await Promise.all(
        Array.from({ length: CHILDREN }, (_, i) =>
          run(process.execPath, [driver, file, `c${i}`, String(PER_CHILD)], { TOKENS_PASSPHRASE: PASS }),
        ),
      );
      for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0 });
      const s = store();
      const keys = await s.list();
      expect(keys).toHaveLength(CHILDREN * PER_CHILD + 2);
      for (let i = 0; i < CHILDREN; i++) {
        for (let j = 0; j < PER_CHILD; j++) expect(await s.get(`c${i}/k${j}`)).toBe(`value-c${i}-${j}`);
      }
      expect(await s.get('default/soundcloud')).toBe(SECRET_A);
      expect((await readdir(dir)).sort()).toEqual(['secrets.enc']);
    } finally {
      await rm(bundleDir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('openStore', () => {
  const paths = resolvePaths({ HOME: '/home/someone' });

  it('names the kind without loading anything', () => {
    expect(storeKindFromEnv({})).toBe('keychain');
    expect(storeKindFromEnv({ TOKENS_STORE: '' })).toBe('keychain');
    expect(storeKindFromEnv({ TOKENS_STORE: 'keychain' })).toBe('keychain');
    expect(storeKindFromEnv({ TOKENS_STORE: 'file' })).toBe('file');
  });

  it('refuses unknown kinds, memory included, with a usage error listing the valid ones', async () => {
    for (const value of ['memory', 'plain', 'File']) {
      expect(() => storeKindFromEnv({ TOKENS_STORE: value })).toThrow(UsageError);
      await expect(openStore({ TOKENS_STORE: value }, paths, {})).rejects.toThrow(/keychain, file/);
    }
  });

  it('opens the file store at TOKENS_STORE_FILE or under the data dir', async () => {
    const atDefault = (await openStore({ TOKENS_STORE: 'file', TOKENS_PASSPHRASE: PASS }, paths, {})).secrets;
    expect(atDefault.kind).toBe('file');
    expect((atDefault as FileStore).path).toBe('/home/someone/.local/share/tokens/secrets.enc');
    const explicit = (
      await openStore({ TOKENS_STORE: 'file', TOKENS_STORE_FILE: file, TOKENS_PASSPHRASE: PASS }, paths, {})
    ).secrets;
    await explicit.set('a', 'b');
    expect(await store().get('a')).toBe('b');
    const noPass = (await openStore({ TOKENS_STORE: 'file', TOKENS_STORE_FILE: file }, paths, {})).secrets;
    await expectStoreError(noPass.check(), /TOKENS_PASSPHRASE/);
  });

  it('opens the keychain store by default, lazily, and validates TOKENS_KEYCHAIN_TIMEOUT', async () => {
    expect((await openStore({}, paths, {})).secrets.kind).toBe('keychain');
    expect((await openStore({ TOKENS_KEYCHAIN_TIMEOUT: '2.5' }, paths, {})).secrets.kind).toBe('keychain');
    await expect(openStore({ TOKENS_KEYCHAIN_TIMEOUT: 'soon' }, paths, {})).rejects.toBeInstanceOf(UsageError);
    await expect(openStore({ TOKENS_KEYCHAIN_TIMEOUT: '0' }, paths, {})).rejects.toBeInstanceOf(UsageError);
  });
});

function run(
  cmd: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}
