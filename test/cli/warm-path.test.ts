// The warm path — `tokens get` or `tokens exec` answered from a fresh cache, and the other fast
// forms (`exec` of every configured provider, `status`, `--version`, help, a `get` that waits for another
// process's refresh) — must stay cheap enough to call in a loop. bin/tokens.js (CommonJS) requires dist/fast.cjs, one CommonJS bundle of
// src/fast.ts, which answers those calls itself and hands everything else to dist/main.js (the full
// program, ES modules, commander) with import(). Two kinds of evidence that the warm path loads none
// of the heavy code:
//  - static: the esbuild metafile of the test build (dist/meta.json, both builds merged). dist/fast.cjs
//    must bundle none of the heavy modules, nor commander or the full program. The full program's
//    own start (main's static imports plus the command chunk) stays light too: it is what a cache
//    miss, --verbose or any other command starts with.
//  - run time: a real warm `get` and `exec` of the built CLI, with the CommonJS modules they loaded
//    (require.cache), the ES modules (a loader hook: none from dist/, not main.js), the
//    files they read from dist/ (fs wrapped: not the recorded help, dist/help.json) and the Node
//    built-ins (process.moduleLoadList) recorded, and a run showing they touch neither the network
//    nor the secret store.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, readlink, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeEsmTracer } from '../support/esm-trace.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, DIST, ROOT } from '../support/cli.js';
import { LOGIN_CHECK_MS } from '../../src/files/cache.js';
import { resolvePaths } from '../../src/model/paths.js';
import { noteStoredSecrets } from '../../src/files/secret-note.js';
import { HELP_FILE } from '../../src/cli/fast-help.js';

interface MetaImport {
  path: string;
  kind: string;
  external?: boolean;
}
interface Metafile {
  inputs: Record<string, { bytes: number; imports: MetaImport[] }>;
  outputs: Record<
    string,
    { bytes: number; entryPoint?: string; inputs: Record<string, unknown>; imports: MetaImport[] }
  >;
}

/** Modules that must never load on the warm path: input paths as esbuild names them. */
const HEAVY_INPUTS: Array<[string, RegExp]> = [
  ['zod', /(^|\/)node_modules\/zod\//],
  ['chalk', /(^|\/)node_modules\/chalk\//],
  ['open', /(^|\/)node_modules\/open\//],
  ['proper-lockfile', /(^|\/)node_modules\/proper-lockfile\//],
  ['ioredis (the Redis client)', /(^|\/)node_modules\/(ioredis|@ioredis)\//],
  // locations.ts only names the store TOKENS_STORE selects and the file store's path; open.ts opens
  // it (the stores themselves are its dynamic imports); early-start.ts, the KeyDeriver of crypto.ts and keychain-helper.ts start what opening a store
  // waits for before a hand-over, initialised lazily (node:crypto and node:child_process are required
  // only then: checked below and at run time).
  [
    'the secret stores (src/store/* but locations.ts and open.ts)',
    /^src\/store\/(?!locations\.ts$|open\.ts$|early-start\.ts$|crypto\.ts$|keychain-helper\.ts$)/,
  ],
  ['src/http/http.ts', /^src\/http\/http\.ts$/],
  ['src/oauth/oauth.ts', /^src\/oauth\/oauth\.ts$/],
  ['src/files/config.ts', /^src\/files\/config\.ts$/],
  ['src/broker/context.ts', /^src\/broker\/context\.ts$/],
  ['provider adapters (src/providers/*/adapter.ts)', /^src\/providers\/[^/]+\/adapter\.ts$/],
  ['src/providers/soundcloud/listener.ts', /^src\/providers\/soundcloud\/listener\.ts$/],
];
/** Besides those, what dist/fast.cjs must not bundle: the CLI framework and the full program. */
const NOT_IN_FAST: Array<[string, RegExp]> = [
  ...HEAVY_INPUTS,
  ['commander', /(^|\/)node_modules\/commander\//],
  ['any node_modules package', /(^|\/)node_modules\//],
  ['src/main.ts', /^src\/main\.ts$/],
  ['src/cli/program.ts', /^src\/cli\/program\.ts$/],
  ['src/broker/broker.ts', /^src\/broker\/broker\.ts$/],
  ['src/files/lock.ts', /^src\/files\/lock\.ts$/],
  ['src/files/private-files.ts', /^src\/files\/private-files\.ts$/],
  // exec's command (exec-child.ts, replace-process.ts, stay.ts and the masker, mask-stream.ts),
  // the status report and table (no store, no chalk: see status-table.ts) and serve's listening half
  // (serve.ts, whose store, broker and request code it loads only by import()) are shared.
  [
    'src/commands/* other than exec-child.ts, replace-process.ts, stay.ts, mask-stream.ts, status-report/table.ts and serve.ts',
    /^src\/commands\/(?!exec-child\.ts$|replace-process\.ts$|stay\.ts$|mask-stream\.ts$|status-report\.ts$|status-table\.ts$|serve\.ts$)/,
  ],
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

/**
 * The outputs of a handed-off `tokens <command>`: the entry's static closure (the direct run's,
 * src/direct.ts, or the full program's, src/main.ts) plus the command chunk's.
 */
function handOffOutputs(commandEntry: string, entry: string): Set<string> {
  const start = outputOf(entry);
  const command = outputOf(commandEntry);
  const reaches = [...staticClosure(start)].flatMap((out) => meta.outputs[out]!.imports);
  expect(reaches, `${entry} reaches ${commandEntry} by a dynamic import`).toContainEqual(
    expect.objectContaining({ path: command, kind: 'dynamic-import' }),
  );
  return new Set([...staticClosure(start), ...staticClosure(command)]);
}

function inputsOf(outputs: Set<string>): string[] {
  return [...outputs].flatMap((out) => Object.keys(meta.outputs[out]!.inputs));
}

/** Paths (e.g. `node:fs`, `keytar`) the outputs import by any static means, bundled or not. */
function externalsOf(outputs: Set<string>): string[] {
  return [...outputs].flatMap((out) =>
    meta.outputs[out]!.imports.filter((edge) => edge.external || !meta.outputs[edge.path])
      .filter((edge) => edge.kind !== 'dynamic-import')
      .map((edge) => edge.path),
  );
}

describe('the warm path, from the metafile', () => {
  it('names every heavy module it checks for, so the checks below are not vacuous', () => {
    const inputs = Object.keys(meta.inputs);
    for (const [name, pattern] of NOT_IN_FAST)
      expect(
        inputs.some((p) => pattern.test(p)),
        `${name} is in the bundle`,
      ).toBe(true);
  });

  it('dist/fast.cjs is one small CommonJS file with the fast path and none of the heavy modules', () => {
    const fast = outputOf('src/fast.ts');
    expect(fast).toMatch(/(^|\/)fast\.cjs$/);
    const out = meta.outputs[fast]!;
    // Some tens of kilobytes of our own code, minified; zod or commander alone would be far more.
    // About 14 KiB of it is the command specs' help, in closures a warm call never runs (only parsed).
    expect(out.bytes).toBeLessThan(72 * 1024);
    const inputs = Object.keys(out.inputs);
    for (const expected of [
      'src/fast.ts',
      'src/files/refresh-claims.ts',
      'src/cli/fast-help.ts',
      'src/cli/help-words.ts',
      'src/cli/commands.ts',
      'src/cli/spec.ts',
      'src/cli/scan.ts',
      'src/warm/get.ts',
      'src/warm/exec.ts',
      'src/warm/status.ts',
      'src/files/cache.ts',
      'src/files/config-file.ts',
      'src/files/secret-note.ts',
      'src/model/format.ts',
      'src/model/endpoints.ts',
      'src/cli/parse.ts',
      'src/providers/registry.ts',
      'src/commands/exec-child.ts',
      'src/commands/replace-process.ts',
      'src/commands/status-report.ts',
    ]) {
      expect(inputs).toContain(expected);
    }
    for (const [name, pattern] of NOT_IN_FAST)
      expect(
        inputs.filter((p) => pattern.test(p)),
        name,
      ).toEqual([]);
    // The full program's dynamic imports (provider adapters, …) are stubs in fast.cjs, never bundled;
    // node:os, node:tty and node:child_process are shims that load them on first use; node:net is
    // required where exec --mask makes its pipes (src/commands/stay.ts), node:crypto where serve's key
    // cannot come from /dev/urandom (src/commands/serve.ts), never at load.
    expect(inputs.filter((p) => !p.startsWith('src/') && !p.startsWith('not-on-the-fast-path:')).sort()).toEqual([
      'builtin-on-demand:node:crypto',
      'builtin-on-demand:node:net',
      'lazy-builtin:node:child_process',
      'lazy-builtin:node:os',
      'lazy-builtin:node:tty',
      'package.json',
    ]);
    // Outside itself it reaches Node built-ins, none heavy, and the two entries it hands calls to
    // (dist/direct.js, dist/main.js), by import() only.
    const externals = out.imports.filter((edge) => edge.external);
    const entries = externals.filter((edge) => !edge.path.startsWith('node:'));
    expect(new Set(entries.map((edge) => edge.path))).toEqual(new Set(['./direct.js', './main.js']));
    expect(entries.every((edge) => edge.kind === 'dynamic-import')).toBe(true);
    // node:crypto only for the file store's early key derivation (src/store/early-start.ts), which
    // runs just before a hand-over: required in that module's lazy initialiser, never at load
    // (checked at run time below: a warm get loads no crypto); and for serve's key where
    // /dev/urandom cannot be read. node:net likewise, for exec --mask's pipes only.
    expect(
      [
        ...new Set(externals.filter((edge) => HEAVY_BUILTINS.includes(builtinName(edge.path))).map((e) => e.path)),
      ].sort(),
    ).toEqual(['node:crypto', 'node:net']);
    const text = readFileSync(join(DIST, 'fast.cjs'), 'utf8');
    expect([...text.matchAll(/require\("node:crypto"\)/g)]).toHaveLength(2);
    expect([...text.matchAll(/require\("node:net"\)/g)]).toHaveLength(1);
    expect(existsSync(join(DIST, 'main.js')), 'the hand-off target is next to it').toBe(true);
    expect(existsSync(join(DIST, 'direct.js')), 'the direct run is next to it').toBe(true);
  });

  it.each([
    ['get', 'src/commands/get.ts', 'src/direct.ts'],
    ['exec', 'src/commands/exec.ts', 'src/direct.ts'],
    ['get', 'src/commands/get.ts', 'src/main.ts'],
    ['exec', 'src/commands/exec.ts', 'src/main.ts'],
  ])(
    'a hand-off of tokens %s (%s from %s): the entry + the command chunk statically import none of the heavy modules',
    (_name, entry, from) => {
      const inputs = inputsOf(handOffOutputs(entry, from));
      expect(inputs).toContain(entry);
      expect(inputs).toContain('src/files/cache.ts');
      for (const [name, pattern] of HEAVY_INPUTS)
        expect(
          inputs.filter((p) => pattern.test(p)),
          name,
        ).toEqual([]);
      const externals = externalsOf(handOffOutputs(entry, from));
      expect(externals).not.toContain('keytar');
      const builtins = externals.filter((p) => HEAVY_BUILTINS.includes(builtinName(p)));
      expect(builtins).toEqual([]);
    },
  );

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

describe('the Redis client, from the metafile', () => {
  /** The output holding an input module. */
  const outputHolding = (input: string) => {
    const found = Object.entries(meta.outputs).find(([, out]) => Object.hasOwn(out.inputs, input));
    if (!found) throw new Error(`${input} is in no output`);
    return found[0];
  };
  const holdsIoredis = (out: string) =>
    Object.keys(meta.outputs[out]!.inputs).some((p) => /node_modules\/(ioredis|@ioredis)\//.test(p));

  it('is loaded only on the Redis path: no other store, nor main, reaches it without the Redis store', () => {
    const withClient = Object.keys(meta.outputs).filter(holdsIoredis);
    expect(withClient.length).toBeGreaterThan(0);
    expect(withClient).not.toContain(outputHolding('src/store/redis.ts'));
    for (const start of [
      'src/main.ts',
      'src/store/file.ts',
      'src/store/keychain.ts',
      'src/store/open.ts',
      'src/broker/broker.ts',
      'src/store/redis-env.ts',
    ]) {
      const closure = staticClosure(outputHolding(start));
      expect([...closure].filter(holdsIoredis), start).toEqual([]);
    }
    // The Redis store's own chunk reaches it by import() only.
    const redisChunk = outputHolding('src/store/redis.ts');
    expect([...staticClosure(redisChunk)].filter(holdsIoredis)).toEqual([]);
    expect(meta.outputs[redisChunk]!.imports.filter((e) => withClient.includes(e.path)).map((e) => e.kind)).toEqual([
      'dynamic-import',
    ]);
  });
});

// ───────────────────────────── run time ─────────────────────────────

const FRESH_TOKEN = 'warm-path-token';
/** An exec whose child prints the Chartmetric token it was given. */
const EXEC_PRINTING_THE_TOKEN = [
  'exec',
  '--provider',
  'chartmetric',
  '--',
  process.execPath,
  '-e',
  'process.stdout.write(process.env.CHARTMETRIC_ACCESS_TOKEN)',
];

let work: string;
let home: string;
/** A HOME with Chartmetric configured (config.json, a note of what is stored) and cached. */
let configuredHome: string;
/** Records every module URL the ESM loader loads (test/support/esm-trace.ts). */
let traceEsm: string;
/** Writes the files in require.cache (every CommonJS module loaded) at exit. */
let traceCjs: string;
/** Writes the paths given to fs.openSync and fs.readFileSync at exit. */
let traceFs: string;
/** Writes process.moduleLoadList at exit. */
let traceBuiltins: string;
/** For a trace preload that writes at exit: exec's process becomes its command, with no exit event. */
const TRACE_BEFORE_EXECVE =
  'const execve = process.execve; if (execve) process.execve = (...args) => { trace(); return execve.apply(process, args); };';

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tokens-warm-'));
  home = join(work, 'home');
  await mkdir(join(home, '.cache/tokens/default'), { recursive: true });
  await writeFile(
    join(home, '.cache/tokens/default/chartmetric.json'),
    JSON.stringify({ access_token: FRESH_TOKEN, token_type: 'bearer', expires_at: Date.now() + 24 * 3600_000 }),
  );
  configuredHome = join(work, 'configured');
  // As tokens leaves them: directories 0700, files 0600 (a looser one is the full program's to tighten).
  await mkdir(join(configuredHome, '.cache/tokens/default'), { recursive: true, mode: 0o700 });
  await writeFile(
    join(configuredHome, '.cache/tokens/default/chartmetric.json'),
    JSON.stringify({ access_token: FRESH_TOKEN, token_type: 'bearer', expires_at: Date.now() + 24 * 3600_000 }),
    { mode: 0o600 },
  );
  await mkdir(join(configuredHome, '.config/tokens'), { recursive: true, mode: 0o700 });
  await writeFile(
    join(configuredHome, '.config/tokens/config.json'),
    JSON.stringify({
      version: 1,
      profiles: { default: { chartmetric: { mode: 'refresh_token', store: 'keychain' } } },
    }),
    { mode: 0o600 },
  );
  // The note login leaves once the refresh token is in the (keychain) store.
  await noteStoredSecrets(resolvePaths({ HOME: configuredHome }), { HOME: configuredHome }, 'default', 'chartmetric', {
    refresh_token: 'not-a-real-one',
  });
  traceEsm = await writeEsmTracer(work, 'WARM_TRACE_FILE');
  traceCjs = join(work, 'trace-cjs.cjs');
  await writeFile(
    traceCjs,
    [
      "const { writeFileSync } = require('node:fs');",
      'const trace = () => writeFileSync(process.env.WARM_TRACE_CJS_FILE, JSON.stringify(Object.keys(require.cache)));',
      "process.on('exit', trace);",
      TRACE_BEFORE_EXECVE,
    ].join('\n'),
  );
  traceFs = join(work, 'trace-fs.cjs');
  await writeFile(
    traceFs,
    [
      "const fs = require('node:fs');",
      'const read = [];',
      "for (const name of ['openSync', 'readFileSync']) {",
      '  const real = fs[name];',
      '  fs[name] = function (path, ...rest) { read.push(String(path)); return real.call(this, path, ...rest); };',
      '}',
      'const trace = () => fs.writeFileSync(process.env.WARM_TRACE_FS_FILE, JSON.stringify(read));',
      "process.on('exit', trace);",
      TRACE_BEFORE_EXECVE,
    ].join('\n'),
  );
  // CommonJS and preloaded with --require, so the run is the plain CommonJS start a user gets.
  traceBuiltins = join(work, 'trace-builtins.cjs');
  await writeFile(
    traceBuiltins,
    [
      "const { writeFileSync } = require('node:fs');",
      'const trace = () => writeFileSync(process.env.WARM_TRACE_FILE, JSON.stringify(process.moduleLoadList));',
      "process.on('exit', trace);",
      TRACE_BEFORE_EXECVE,
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
async function runCli(
  args: string[],
  env: Record<string, string>,
  nodeArgs: string[] = [],
  script = BIN,
): Promise<Run> {
  const id = Math.random().toString(36).slice(2);
  const outPath = join(work, `${id}.out`);
  const errPath = join(work, `${id}.err`);
  const out = await open(outPath, 'w');
  const err = await open(errPath, 'w');
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, [...nodeArgs, script, ...args], { env, stdio: ['pipe', out.fd, err.fd] });
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

/** The dist/ files a run loaded: CommonJS ones from require.cache, ES modules from the loader hook. */
/** The node arguments and environment that record which dist/ modules a run loads (see distModules). */
async function tracing(extra: Record<string, string> = {}) {
  const esmFile = join(work, `esm-${Math.random().toString(36).slice(2)}.txt`);
  const cjsFile = join(work, `cjs-${Math.random().toString(36).slice(2)}.json`);
  const fsFile = join(work, `fs-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(esmFile, '');
  return {
    env: warmEnv({ WARM_TRACE_FILE: esmFile, WARM_TRACE_CJS_FILE: cjsFile, WARM_TRACE_FS_FILE: fsFile, ...extra }),
    nodeArgs: ['--import', pathToFileURL(traceEsm).href, '--require', traceCjs, '--require', traceFs],
    esmFile,
    cjsFile,
    fsFile,
  };
}

async function distModulesLoaded(
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<{ run: Run; cjs: string[]; esm: string[]; read: string[] }> {
  const traced = await tracing(extraEnv);
  const run = await runCli(args, traced.env, traced.nodeArgs);
  return { run, ...(await distModules(traced)) };
}

/**
 * The dist/ files a traced run loaded: CommonJS ones from require.cache, ES modules from the loader
 * hook; and the dist/ files it read with fs (the CommonJS loader's reads included).
 */
async function distModules({
  esmFile,
  cjsFile,
  fsFile,
}: {
  esmFile: string;
  cjsFile: string;
  fsFile: string;
}): Promise<{ cjs: string[]; esm: string[]; read: string[] }> {
  const inDist = (path: string) => !relative(DIST, path).startsWith('..');
  const esm = (await readFile(esmFile, 'utf8'))
    .split('\n')
    .filter((u) => u.startsWith('file:'))
    .map((u) => fileURLToPath(u))
    .filter(inDist)
    .map((path) => relative(DIST, path));
  const cjs = (JSON.parse(await readFile(cjsFile, 'utf8')) as string[])
    .filter(inDist)
    .map((path) => relative(DIST, path));
  const read = (JSON.parse(await readFile(fsFile, 'utf8')) as string[])
    .filter((path) => path.startsWith('/') && inDist(path))
    .map((path) => relative(DIST, path));
  return { cjs, esm, read: [...new Set(read)] };
}

describe('the warm path, at run time', () => {
  it.each([
    ['get', ['get', 'chartmetric'], `${FRESH_TOKEN}\n`],
    ['exec', EXEC_PRINTING_THE_TOKEN, FRESH_TOKEN],
  ])(
    'a warm %s loads dist/fast.cjs and nothing else from dist/: no ES module, not main.js',
    async (_name, args, stdout) => {
      const { run, cjs, esm, read } = await distModulesLoaded(args);
      expect(run).toMatchObject({ code: 0, stdout, stderr: '' });
      expect(cjs).toEqual(['fast.cjs']);
      expect(esm).toEqual([]);
      expect(read).toEqual(['fast.cjs']);
    },
  );

  it.each([
    [
      'exec of every configured provider',
      ['exec', '--', process.execPath, '-e', 'process.stdout.write(process.env.CHARTMETRIC_ACCESS_TOKEN)'],
      FRESH_TOKEN,
    ],
    [
      'status chartmetric',
      ['status', 'chartmetric'],
      expect.stringMatching(/^PROVIDER .*\nchartmetric +default +refresh_token +keychain +expires in \d+ h +yes\n$/),
    ],
    ['status --json', ['status', '--json'], expect.stringContaining('"refresh_token": true')],
    ['status of a provider not configured (exit 3)', ['status', 'soundcloud'], ''],
    ['--version', ['--version'], expect.stringMatching(/^\d+\.\d+\.\d+\n$/)],
    ['--help', ['--help'], expect.stringMatching(/^Usage: tokens \[options\] \[command\]\n/)],
    ['get --help', ['get', '--help'], expect.stringMatching(/^Usage: tokens get \[options\] <provider>\n/)],
    ['help status', ['help', 'status'], expect.stringMatching(/^Usage: tokens status \[options\] \[provider\]\n/)],
  ])('%s loads dist/fast.cjs and nothing else from dist/', async (_name, args, stdout) => {
    const { run, cjs, esm, read } = await distModulesLoaded(args, { HOME: configuredHome });
    expect(run).toMatchObject({ code: args.includes('soundcloud') ? 3 : 0, stdout });
    expect(cjs).toEqual(['fast.cjs']);
    expect(esm).toEqual([]);
    // The recorded help is read for help only.
    expect(read).toEqual(args.includes('--help') || args.includes('help') ? ['fast.cjs', HELP_FILE] : ['fast.cjs']);
  });

  it('a get at expiry while another process refreshes waits for its token, in dist/fast.cjs alone', async () => {
    const waitingHome = join(work, 'waiting');
    const cacheDir = join(waitingHome, '.cache/tokens/default');
    const stateDir = join(waitingHome, '.local/state/tokens/default');
    await mkdir(cacheDir, { recursive: true, mode: 0o700 });
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    const expired = { access_token: 'the-old-token', token_type: 'bearer', expires_at: Date.now() - 1000 };
    await writeFile(join(cacheDir, 'chartmetric.json'), JSON.stringify(expired), { mode: 0o600 });
    // The refresh is claimed by a live process (this one), as the first fast path at expiry does.
    const claim = join(stateDir, 'chartmetric.lock.refreshing');
    await writeFile(claim, `${process.pid}\n`, { mode: 0o600 });

    const traced = await tracing({ HOME: waitingHome });
    let stdout = '';
    const child = spawn(process.execPath, [...traced.nodeArgs, BIN, 'get', 'chartmetric'], {
      env: traced.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    // Waiting: it watches the cache directory (an inotify descriptor appears among its open files).
    const watching = async () => {
      const fds = await readdir(`/proc/${child.pid}/fd`).catch(() => []);
      const links = await Promise.all(fds.map((fd) => readlink(`/proc/${child.pid}/fd/${fd}`).catch(() => '')));
      return links.some((l) => l.includes('inotify'));
    };
    for (let i = 0; i < 1000 && !(await watching()); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await watching(), 'the waiter watches the cache directory').toBe(true);
    expect(stdout, 'nothing printed while the cache holds an expired token').toBe('');

    // The refresh lands, as the full program writes it: a new file renamed over the old one.
    const fresh = { access_token: 'the-new-token', token_type: 'bearer', expires_at: Date.now() + 3600_000 };
    await writeFile(join(cacheDir, 'chartmetric.json.tmp'), JSON.stringify(fresh), { mode: 0o600 });
    await rename(join(cacheDir, 'chartmetric.json.tmp'), join(cacheDir, 'chartmetric.json'));
    expect(await exited).toBe(0);
    expect(stdout).toBe('the-new-token\n');
    const { cjs, esm } = await distModules(traced);
    expect(cjs).toEqual(['fast.cjs']);
    expect(esm).toEqual([]);
    // A live process's claim is not the waiter's to remove.
    expect(existsSync(claim)).toBe(true);
  });

  it('the tracing is real: a call the fast path hands off runs directly, from dist/direct.js as ES modules', async () => {
    // --verbose is not the warm answer's business; the cache is just as warm. The scanner is sure
    // of the line, so the command runs without Commander: dist/direct.js, not dist/main.js.
    const { run, cjs, esm } = await distModulesLoaded(['get', 'chartmetric', '--verbose']);
    expect(run).toMatchObject({ code: 0, stdout: `${FRESH_TOKEN}\n` });
    expect(cjs).toEqual(['fast.cjs']);
    expect(esm).toContain('direct.js');
    expect(esm).not.toContain('main.js');
    // Only the entry and its static imports, plus the get chunk's: what the metafile predicts.
    const predicted = [...handOffOutputs('src/commands/get.ts', 'src/direct.ts')].map((out) =>
      relative(DIST, join(ROOT, out)),
    );
    expect([...new Set(esm)].sort()).toEqual(predicted.sort());
  });

  it('the tracing is real: a line the scanner doubts goes to the full program, dist/main.js', async () => {
    // An option the scanner does not know: Commander's to report (exit 2).
    const { run, cjs, esm } = await distModulesLoaded(['get', 'chartmetric', '--no-such-option']);
    expect(run.code).toBe(2);
    expect(cjs).toEqual(['fast.cjs']);
    expect(esm).toContain('main.js');
    expect(esm).not.toContain('direct.js');
  });

  /** A run of the CLI (or `script`), and the built-in modules and bindings it loaded. */
  const builtins = async (args: string[], script?: string, env: Record<string, string> = {}) => {
    const file = join(work, `builtins-${Math.random().toString(36).slice(2)}.json`);
    const run = await runCli(args, warmEnv({ WARM_TRACE_FILE: file, ...env }), ['--require', traceBuiltins], script);
    const loaded = (JSON.parse(await readFile(file, 'utf8')) as string[]).filter(
      (m) => m.startsWith('NativeModule ') || m.startsWith('Internal Binding '),
    );
    return { run, loaded };
  };

  it('a warm get loads no crypto, networking, child-process or worker built-ins (process.moduleLoadList)', async () => {
    const { run, loaded } = await builtins(['get', 'chartmetric']);
    expect(run).toMatchObject({ code: 0, stdout: `${FRESH_TOKEN}\n`, stderr: '' });
    const names = loaded.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
    expect(names).toContain('fs'); // the list is real
    // Nor node:fs/promises (the cache is read synchronously, with no thread pool) or node:os (a shim in fast.cjs).
    const unwanted = [
      ...HEAVY_BUILTINS,
      'child_process',
      'dgram',
      'internal/deps/undici/undici',
      'internal/crypto/keys',
      'fs/promises',
      'os',
    ];
    expect(names.filter((m) => unwanted.includes(m))).toEqual([]);

    // In fact nothing beyond what Node loads for an empty script: not even process.stdout's stream
    // (the token goes out with fs.writeSync).
    const empty = join(work, 'empty.cjs');
    await writeFile(empty, '');
    const baseline = new Set((await builtins([], empty)).loaded);
    expect(loaded.filter((m) => !baseline.has(m))).toEqual([]);
  });

  it('a warm exec becomes its command without node:child_process; where it stays its parent, child_process runs it', async () => {
    const empty = join(work, 'empty.cjs');
    await writeFile(empty, '');
    const baseline = new Set((await builtins([], empty)).loaded);
    const direct = await builtins(EXEC_PRINTING_THE_TOKEN);
    expect(direct.run).toEqual({ code: 0, stdout: FRESH_TOKEN, stderr: '' });
    const beyond = direct.loaded.filter((m) => !baseline.has(m));
    if (typeof process.execve === 'function') {
      // At most the binding behind the SIGPIPE listener (replace-process.ts).
      expect(beyond.filter((m) => m !== 'Internal Binding signal_wrap')).toEqual([]);
    } else {
      expect(beyond).toContain('NativeModule child_process');
    }
    const staying = await builtins(EXEC_PRINTING_THE_TOKEN, undefined, { TOKENS_EXEC_STAY: '1' });
    expect(staying.run).toEqual({ code: 0, stdout: FRESH_TOKEN, stderr: '' });
    expect(staying.loaded).toContain('NativeModule child_process');
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
      const exec = await runCli(EXEC_PRINTING_THE_TOKEN, env);
      expect(exec).toEqual({ code: 0, stdout: FRESH_TOKEN, stderr: '' });
      expect(connections).toBe(0);
      // Nothing was created: no secrets file, no lock directory, no config.
      expect(existsSync(join(home, 'no-such-secrets.enc'))).toBe(false);
      expect(existsSync(join(home, '.local'))).toBe(false);
      expect(existsSync(join(home, '.config'))).toBe(false);

      // With the Redis store, a warm get never contacts the server while the store confirmed the
      // cached token's shared login within the minute (src/files/cache.ts, LOGIN_CHECK_MS).
      const redisEnv = warmEnv({
        TOKENS_STORE: 'redis',
        TOKENS_REDIS_URL: `redis://:pw@127.0.0.1:${port}`,
        TOKENS_PASSPHRASE: 'p',
      });
      const cache = join(home, '.cache/tokens/default/chartmetric.json');
      const plain = await readFile(cache, 'utf8');
      const confirmed = { ...JSON.parse(plain), login: 'a'.repeat(32), login_checked_at: Date.now() };
      await writeFile(cache, JSON.stringify(confirmed), { mode: 0o600 });
      try {
        expect(await runCli(['get', 'chartmetric'], redisEnv)).toEqual({
          code: 0,
          stdout: `${FRESH_TOKEN}\n`,
          stderr: '',
        });
        expect(connections).toBe(0);
        // Past the minute it asks; this server hangs up without an answer, and a store that cannot
        // be reached cannot have ended the login: the cached token still answers.
        await writeFile(
          cache,
          JSON.stringify({ ...confirmed, login_checked_at: Date.now() - LOGIN_CHECK_MS - 1_000 }),
          {
            mode: 0o600,
          },
        );
        expect((await runCli(['get', 'chartmetric'], redisEnv)).stdout).toBe(`${FRESH_TOKEN}\n`);
        expect(connections).toBeGreaterThan(0);
        connections = 0;
      } finally {
        await writeFile(cache, plain, { mode: 0o600 });
      }

      // Contrast: the same setup with --force-refresh leaves the warm path, and fails for want of a login.
      const cold = await runCli(['get', 'chartmetric', '--force-refresh'], env);
      expect(cold.code).not.toBe(0);
      expect(cold.stdout).toBe('');
      // And with the Redis store, --force-refresh does contact it (the counter above is real).
      const coldRedis = await runCli(['get', 'chartmetric', '--force-refresh'], redisEnv);
      expect(coldRedis.code).toBe(6);
      expect(coldRedis.stderr).toContain(`Redis at 127.0.0.1:${port}`);
      expect(connections).toBeGreaterThan(0);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
