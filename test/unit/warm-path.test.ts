// The warm path — `tokens get` answered from a fresh cache — must stay cheap enough to call in a loop.
// Two kinds of evidence that it loads none of the heavy code:
//  - static: the esbuild metafile of the test build (dist/meta.json). The warm `get` path is what
//    dist/main.js reaches through static imports, plus the chunk of src/commands/get.ts (which main
//    imports dynamically) and what that chunk reaches statically. Dynamic imports below it only run
//    on the cold path.
//  - run time: a real warm `get` of the built CLI, with the ES modules it loaded recorded by a
//    module.register() hook and the Node built-ins it loaded read from process.moduleLoadList, and a
//    run showing it touches neither the network nor the secret store.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, DIST, ROOT } from '../support/cli.js';

interface MetaImport {
  path: string;
  kind: string;
  external?: boolean;
}
interface Metafile {
  inputs: Record<string, { bytes: number; imports: MetaImport[] }>;
  outputs: Record<string, { bytes: number; entryPoint?: string; inputs: Record<string, unknown>; imports: MetaImport[] }>;
}

/** Modules that must never load on the warm path: input paths as esbuild names them. */
const HEAVY_INPUTS: Array<[string, RegExp]> = [
  ['zod', /(^|\/)node_modules\/zod\//],
  ['chalk', /(^|\/)node_modules\/chalk\//],
  ['open', /(^|\/)node_modules\/open\//],
  ['proper-lockfile', /(^|\/)node_modules\/proper-lockfile\//],
  ['write-file-atomic', /(^|\/)node_modules\/write-file-atomic\//],
  ['the secret stores (src/store/*)', /^src\/store\//],
  ['src/core/http.ts', /^src\/core\/http\.ts$/],
  ['src/core/oauth.ts', /^src\/core\/oauth\.ts$/],
  ['src/core/config.ts', /^src\/core\/config\.ts$/],
  ['src/core/context.ts', /^src\/core\/context\.ts$/],
  ['provider adapters (src/providers/*/adapter.ts)', /^src\/providers\/[^/]+\/adapter\.ts$/],
  ['src/providers/soundcloud/listener.ts', /^src\/providers\/soundcloud\/listener\.ts$/],
];
/** Built-ins the warm path has no business importing (crypto, any networking, workers). */
const HEAVY_BUILTINS = ['crypto', 'http', 'https', 'http2', 'net', 'tls', 'dns', 'zlib', 'worker_threads', 'readline'];
const builtinName = (path: string) => path.replace(/^node:/, '');

let meta: Metafile;

beforeAll(async () => {
  meta = JSON.parse(await readFile(join(DIST, 'meta.json'), 'utf8')) as Metafile;
});

function outputOf(entryPoint: string): string {
  const found = Object.entries(meta.outputs).find(([, out]) => out.entryPoint === entryPoint);
  if (!found) throw new Error(`no output for ${entryPoint} in meta.json`);
  return found[0];
}

/** Outputs reachable from `start` through static `import` statements only. */
function staticClosure(start: string): Set<string> {
  const seen = new Set<string>();
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const edge of meta.outputs[file]!.imports) {
      if (edge.kind === 'import-statement' && meta.outputs[edge.path]) queue.push(edge.path);
    }
  }
  return seen;
}

/** The outputs of a warm `tokens <command>`: main's static closure plus the command chunk's. */
function warmOutputs(commandEntry: string): Set<string> {
  const main = outputOf('src/main.ts');
  const command = outputOf(commandEntry);
  expect(meta.outputs[main]!.imports, `main reaches ${commandEntry} by a dynamic import`).toContainEqual(
    expect.objectContaining({ path: command, kind: 'dynamic-import' }),
  );
  return new Set([...staticClosure(main), ...staticClosure(command)]);
}

function inputsOf(outputs: Set<string>): string[] {
  return [...outputs].flatMap((out) => Object.keys(meta.outputs[out]!.inputs));
}

/** Paths (e.g. `node:fs`, `keytar`) the outputs import by any static means, bundled or not. */
function externalsOf(outputs: Set<string>): string[] {
  return [...outputs].flatMap((out) =>
    meta.outputs[out]!.imports.filter((edge) => edge.external || !meta.outputs[edge.path]).filter((edge) => edge.kind !== 'dynamic-import').map((edge) => edge.path),
  );
}

describe('the warm path, from the metafile', () => {
  it('names every heavy module it checks for, so the checks below are not vacuous', () => {
    const inputs = Object.keys(meta.inputs);
    for (const [name, pattern] of HEAVY_INPUTS) expect(inputs.some((p) => pattern.test(p)), `${name} is in the bundle`).toBe(true);
  });

  it.each([
    ['get', 'src/commands/get.ts'],
    ['exec', 'src/commands/exec.ts'],
  ])('tokens %s: main + the command chunk statically import none of the heavy modules', (_name, entry) => {
    const inputs = inputsOf(warmOutputs(entry));
    expect(inputs).toContain(entry);
    expect(inputs).toContain('src/core/cache.ts');
    for (const [name, pattern] of HEAVY_INPUTS) expect(inputs.filter((p) => pattern.test(p)), name).toEqual([]);
    const externals = externalsOf(warmOutputs(entry));
    expect(externals).not.toContain('keytar');
    const builtins = externals.filter((p) => HEAVY_BUILTINS.includes(builtinName(p)));
    expect(builtins).toEqual([]);
  });

  it('keeps the heavy modules behind dynamic imports only (each is reachable, but not statically from main)', () => {
    const main = staticClosure(outputOf('src/main.ts'));
    const mainInputs = inputsOf(main);
    expect(mainInputs.filter((p) => HEAVY_INPUTS.some(([, pattern]) => pattern.test(p)))).toEqual([]);
    // The zod chunk is big; it must not be among main's static imports (direct or transitive).
    const zodChunks = Object.entries(meta.outputs)
      .filter(([, out]) => Object.keys(out.inputs).some((p) => /node_modules\/zod\//.test(p)))
      .map(([file]) => file);
    expect(zodChunks.length).toBeGreaterThan(0);
    for (const chunk of zodChunks) expect(main.has(chunk)).toBe(false);
  });
});

// ───────────────────────────── run time ─────────────────────────────

const FRESH_TOKEN = 'warm-path-token';

let work: string;
let home: string;
/** Records every module URL the ESM loader loads, through a module.register() hook. */
let traceEsm: string;
/** Writes process.moduleLoadList at exit. */
let traceBuiltins: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tokens-warm-'));
  home = join(work, 'home');
  await mkdir(join(home, '.cache/tokens/default'), { recursive: true });
  await writeFile(
    join(home, '.cache/tokens/default/chartmetric.json'),
    JSON.stringify({ access_token: FRESH_TOKEN, token_type: 'bearer', expires_at: Date.now() + 24 * 3600_000 }),
  );
  await writeFile(
    join(work, 'esm-hooks.mjs'),
    [
      "import { appendFileSync } from 'node:fs';",
      'let file;',
      'export function initialize(data) { file = data.file; }',
      'export async function load(url, context, next) { appendFileSync(file, `${url}\\n`); return next(url, context); }',
    ].join('\n'),
  );
  traceEsm = join(work, 'trace-esm.mjs');
  await writeFile(
    traceEsm,
    [
      "import { register } from 'node:module';",
      "register('./esm-hooks.mjs', import.meta.url, { data: { file: process.env.WARM_TRACE_FILE } });",
    ].join('\n'),
  );
  traceBuiltins = join(work, 'trace-builtins.mjs');
  await writeFile(
    traceBuiltins,
    [
      "import { writeFileSync } from 'node:fs';",
      "process.on('exit', () => writeFileSync(process.env.WARM_TRACE_FILE, JSON.stringify(process.moduleLoadList)));",
    ].join('\n'),
  );
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node [nodeArgs] bin/tokens.js args` with stdout and stderr going to files, not pipes: a pipe
 * would load `net` for process.stdout and hide whether the CLI itself does. stdin is a pipe, as in
 * `… | tokens get`: it loads `net` too, if the CLI sets up process.stdin, which a warm get never needs.
 */
async function runCli(args: string[], env: Record<string, string>, nodeArgs: string[] = []): Promise<Run> {
  const id = Math.random().toString(36).slice(2);
  const outPath = join(work, `${id}.out`);
  const errPath = join(work, `${id}.err`);
  const out = await open(outPath, 'w');
  const err = await open(errPath, 'w');
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, [...nodeArgs, BIN, ...args], { env, stdio: ['pipe', out.fd, err.fd] });
      child.stdin!.on('error', () => undefined);
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('error', reject);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    return { code, stdout: await readFile(outPath, 'utf8'), stderr: await readFile(errPath, 'utf8') };
  } finally {
    await out.close();
    await err.close();
  }
}

function warmEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { HOME: home, NO_COLOR: '1' };
  if (process.env.PATH) env.PATH = process.env.PATH;
  return { ...env, ...extra };
}

describe('the warm path, at run time', () => {
  it('loads exactly the ES modules the metafile predicts: main, the get chunk and their static imports', async () => {
    const file = join(work, 'esm.txt');
    const run = await runCli(['get', 'chartmetric'], warmEnv({ WARM_TRACE_FILE: file }), ['--import', pathToFileURL(traceEsm).href]);
    expect(run).toMatchObject({ code: 0, stdout: `${FRESH_TOKEN}\n`, stderr: '' });

    const urls = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
    const distDir = `${pathToFileURL(DIST).href}/`;
    const loaded = new Set(urls.filter((u) => u.startsWith(distDir)).map((u) => relative(ROOT, fileURLToPath(u))));
    const predicted = [...warmOutputs('src/commands/get.ts')].map((out) => relative(ROOT, join(ROOT, out)));
    expect([...loaded].sort()).toEqual(predicted.sort());

    // And the built-ins imported from ES modules: none of the heavy ones.
    const builtins = urls.filter((u) => u.startsWith('node:')).map(builtinName);
    expect(builtins.filter((b) => HEAVY_BUILTINS.includes(b))).toEqual([]);
  });

  it('loads no crypto, networking, child-process or worker built-ins (process.moduleLoadList)', async () => {
    const file = join(work, 'builtins.json');
    const run = await runCli(['get', 'chartmetric'], warmEnv({ WARM_TRACE_FILE: file }), ['--import', pathToFileURL(traceBuiltins).href]);
    expect(run).toMatchObject({ code: 0, stdout: `${FRESH_TOKEN}\n`, stderr: '' });

    const loaded = (JSON.parse(await readFile(file, 'utf8')) as string[])
      .filter((m) => m.startsWith('NativeModule '))
      .map((m) => m.slice('NativeModule '.length));
    expect(loaded).toContain('fs/promises'); // the list is real: the cache is read through it
    const unwanted = [...HEAVY_BUILTINS, 'child_process', 'dgram', 'internal/deps/undici/undici', 'internal/crypto/keys'];
    expect(loaded.filter((m) => unwanted.includes(m))).toEqual([]);
  });

  it('touches neither the network nor the secret store', async () => {
    // A token endpoint that counts connections, and a file store with no passphrase and no file:
    // any attempt to refresh would connect, and any store access would fail.
    let connections = 0;
    const server: Server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const env = warmEnv({
      TOKENS_STORE: 'file',
      TOKENS_STORE_FILE: join(home, 'no-such-secrets.enc'),
      TOKENS_CHARTMETRIC_TOKEN_URL: `http://127.0.0.1:${port}/chartmetric/api/token`,
    });
    try {
      const warm = await runCli(['get', 'chartmetric'], env);
      expect(warm).toEqual({ code: 0, stdout: `${FRESH_TOKEN}\n`, stderr: '' });
      const exec = await runCli(['exec', '--provider', 'chartmetric', '--', process.execPath, '-e', 'process.stdout.write(process.env.CHARTMETRIC_ACCESS_TOKEN)'], env);
      expect(exec).toEqual({ code: 0, stdout: FRESH_TOKEN, stderr: '' });
      expect(connections).toBe(0);
      // Nothing was created: no secrets file, no lock directory, no config.
      expect(existsSync(join(home, 'no-such-secrets.enc'))).toBe(false);
      expect(existsSync(join(home, '.local'))).toBe(false);
      expect(existsSync(join(home, '.config'))).toBe(false);

      // Contrast: the same setup with --force-refresh leaves the warm path, and fails for want of a login.
      const cold = await runCli(['get', 'chartmetric', '--force-refresh'], env);
      expect(cold.code).not.toBe(0);
      expect(cold.stdout).toBe('');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
