// Bundles src/ into dist/ with esbuild, in two builds:
//  - dist/fast.cjs, from src/fast.ts: one small CommonJS file, the whole of a warm `get` or `exec`
//    (bin/tokens.js requires it). It holds no commander, zod, chalk, store or HTTP code; anything it
//    does not answer it hands to dist/direct.js or dist/main.js with import().
//  - dist/main.js, dist/direct.js and dist/chunks/, from src/main.ts (the full program, Commander
//    and all) and src/direct.ts (a command run without Commander): ES modules. Code splitting
//    keeps their start small too: zod, chalk, open, the HTTP client and the login listener live in
//    chunks loaded on demand.
// dist/help.json is the full program's answer to each help form, recorded from the build itself, for
// the fast path (src/cli/fast-help.ts). dist/meta.json is the two metafiles merged
// (test/cli/warm-path.test.ts reads it); written last, it marks a finished build.
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Commander requires node:child_process at load time, for executable subcommands we never use;
// that one require also loads net, dgram and more on every start (~3 ms of CPU here). Defer it to first use.
// test/cli/warm-path.test.ts fails if child_process is loaded by a warm `get` again.
const COMMANDER_EAGER_CHILD_PROCESS = "const childProcess = require('node:child_process');";
const lazyCommanderChildProcess = {
  name: 'lazy-commander-child-process',
  setup(b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes(COMMANDER_EAGER_CHILD_PROCESS)) {
        return {
          contents: source,
          loader: 'js',
          warnings: [
            {
              text: 'commander no longer has the eager child_process require; lazy-commander-child-process did nothing',
            },
          ],
        };
      }
      const lazy = "const childProcess = new Proxy({}, { get: (_, name) => require('node:child_process')[name] });";
      return { contents: source.replace(COMMANDER_EAGER_CHILD_PROCESS, lazy), loader: 'js' };
    });
  },
};

// signal-exit (proper-lockfile's, to drop a lock on exit) requires node:assert for one argument
// check. Loading node:assert sets up process.stderr (to learn its colours), and setting up a pipe
// makes it non-blocking for every process that shares it: the command `exec` becomes among them
// (src/commands/replace-process.ts then keeps tokens as its parent instead). The one check, without it.
const SIGNAL_EXIT_ASSERT = `module.exports = { equal(actual, expected, message) { if (actual != expected) throw new Error(message); } };`;
const signalExitWithoutAssert = {
  name: 'signal-exit-without-assert',
  setup(b) {
    b.onResolve({ filter: /^(node:)?assert$/ }, (args) =>
      /[\\/]signal-exit[\\/]/.test(args.importer) ? { path: 'assert', namespace: 'signal-exit-assert' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'signal-exit-assert' }, () => ({ contents: SIGNAL_EXIT_ASSERT, loader: 'js' }));
  },
};

const root = fileURLToPath(new URL('..', import.meta.url));
// `--outdir DIR` builds elsewhere (the tests build a private copy, so parallel runs never see a
// half-written dist/); DIR is relative to the repository root.
const outFlag = process.argv.indexOf('--outdir');
const outdir = outFlag > 0 ? process.argv[outFlag + 1] : 'dist';
await rm(`${root}${outdir}`, { recursive: true, force: true });

// The fast build keeps the fast path's own lazy imports (the exec child, which loads
// node:child_process; the store's early start) and hands off to dist/main.js; every other dynamic
// import in the modules it shares with the full program (run functions, provider adapters,
// private-files, …) belongs to the full program and must not be pulled into fast.cjs: it becomes a
// stub that throws if the fast path ever calls it.
const FAST_LAZY = new Set([
  'src/commands/exec-child.ts',
  'src/store/early-start.ts',
  // The warm answers are the fast path's own; in the full program and the direct run, which never
  // call them, the import() keeps them (and the modules only they use) out of the start.
  'src/warm/exec.ts',
  'src/warm/get.ts',
  'src/warm/status.ts',
  'src/warm/serve.ts',
]);
/** The entries fast.ts hands a call to: the direct run (src/direct.ts) and the full program. */
const FAST_HANDOFFS = new Set(['./direct.js', './main.js']);
/** The module a relative import names, as a path under the repository ('src/commands/get.ts'). */
const importedModule = (importer, path) =>
  relative(root, resolve(dirname(importer), path))
    .split(sep)
    .join('/')
    .replace(/\.js$/, '.ts');
const fastPathBoundary = {
  name: 'fast-path-boundary',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind !== 'dynamic-import') return undefined;
      // A built-in loaded on demand (node:net for exec --mask's pipes): a require() at that point,
      // not import(), which would start the ES module loader this bundle exists to avoid.
      if (args.path.startsWith('node:')) return { path: args.path, namespace: 'builtin-on-demand' };
      const fromFast = /[\\/]src[\\/]fast\.ts$/.test(args.importer);
      if (fromFast && FAST_HANDOFFS.has(args.path)) return { path: args.path, external: true };
      if (args.path.startsWith('.') && FAST_LAZY.has(importedModule(args.importer, args.path))) return undefined;
      return { path: `${args.path} (from ${args.importer.slice(root.length)})`, namespace: 'not-on-the-fast-path' };
    });
    b.onLoad({ filter: /.*/, namespace: 'builtin-on-demand' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
    b.onLoad({ filter: /.*/, namespace: 'not-on-the-fast-path' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`internal error: ${args.path} is not part of dist/fast.cjs`)});`,
      loader: 'js',
    }));
  },
};

// node:os, node:tty and node:child_process in the fast build, loaded on first use: a warm `get`
// never needs them (os only without HOME, or for a signal number after exec; tty for `status`;
// child_process for the keychain helper, or an exec that stays the parent of its command: see
// src/commands/exec-child.ts), and loading os costs about 1 ms, child_process about 6. Only the
// members the fast path imports are here: importing any other makes the build fail, rather than
// break at run time.
const LAZY_BUILTINS = {
  child_process: `
export const spawn = (...args) => require('node:child_process').spawn(...args);
`,
  os: `
const os = () => require('node:os');
export const homedir = () => os().homedir();
export const tmpdir = () => os().tmpdir();
export const constants = new Proxy({}, { get: (_, name) => os().constants[name] });
`,
  tty: `
export const isatty = (fd) => require('node:tty').isatty(fd);
`,
};
const lazyBuiltins = {
  name: 'lazy-node-builtins',
  setup(b) {
    b.onResolve({ filter: /^(node:)?(os|tty|child_process)$/ }, (args) => {
      const name = args.path.replace(/^node:/, '');
      // The shim's own require() is the real module.
      return args.namespace === 'lazy-builtin'
        ? { path: `node:${name}`, external: true }
        : { path: `node:${name}`, namespace: 'lazy-builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      contents: LAZY_BUILTINS[args.path.replace(/^node:/, '')],
      loader: 'js',
    }));
  },
};

// The small CommonJS entries (dist/fast.cjs, dist/supervise.cjs): a CommonJS entry skips the ES
// module loader's start-up. Minified: Node compiles the whole file on every call, and minified it is
// half the size (about 1.8 ms less of a warm call here).
const smallCommonJs = {
  absWorkingDir: root,
  outdir,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  legalComments: 'none',
  minify: true,
  logLevel: 'warning',
};

const fast = await build({
  ...smallCommonJs,
  entryPoints: { fast: 'src/fast.ts' },
  metafile: true,
  // The map is for `node --enable-source-maps`.
  sourcemap: 'linked',
  plugins: [fastPathBoundary, lazyBuiltins],
});

// dist/supervise.cjs, from src/supervise.ts: what `tokens exec` becomes when it must stay its
// command's parent with a clean environment (src/commands/exec-child.ts). Small, like fast.cjs.
await build({
  ...smallCommonJs,
  entryPoints: { supervise: 'src/supervise.ts' },
  // For its one dynamic import, a built-in: a require() where it is needed (see fastPathBoundary).
  plugins: [fastPathBoundary],
});

const full = await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/main.ts', direct: 'src/direct.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  metafile: true,
  legalComments: 'none',
  chunkNames: 'chunks/[name]-[hash]',
  // keytar is an optional native addon: resolved at run time, never bundled.
  external: ['keytar'],
  plugins: [lazyCommanderChildProcess, signalExitWithoutAssert],
  // Some dependencies are CommonJS and use require() and __filename; give every ESM chunk both.
  banner: {
    js: [
      "import { createRequire as __tokensCreateRequire } from 'node:module';",
      "import { fileURLToPath as __tokensFileURLToPath } from 'node:url';",
      'const require = __tokensCreateRequire(import.meta.url);',
      'const __filename = __tokensFileURLToPath(import.meta.url);',
    ].join(' '),
  },
  logLevel: 'warning',
});

// Each help form (helpForms in src/cli/program.ts) answered by the full program just built: main()
// in processes of their own (one per core, each taking a share of the forms; a process per form
// made the build several times longer), whose stdout and stderr are pipes, so Commander wraps at 80
// columns as for any output that is not a terminal, and whose environment is empty: nothing of the
// builder's (TOKENS_*, HOME, colour settings) may shape the text. A form that fails, or answers
// anywhere but on stdout (the fast path checks only stdout for a terminal), fails the build.
const mainUrl = pathToFileURL(`${root}${outdir}/main.js`).href;
const RECORD = `
const { main } = await import(process.argv[1]);
const records = [];
for (const argv of JSON.parse(process.argv[2])) {
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: { write: (text) => ((stdout += text), true) },
    stderr: { write: (text) => ((stderr += text), true) },
    get stdin() { return process.stdin; },
    get stdinIsTTY() { return Boolean(process.stdin.isTTY); },
    get stdoutIsTTY() { return Boolean(process.stdout.isTTY); },
    get stderrIsTTY() { return Boolean(process.stderr.isTTY); },
  };
  const code = await main(argv, io);
  records.push({ argv, stdout, stderr, code });
}
process.stdout.write(JSON.stringify(records));
`;
const RECORD_TIMEOUT_MS = 60_000;

/** The full program's answers to these forms, from one recording process. */
function recordHelp(forms) {
  return new Promise((resolve, reject) => {
    const fail = (why) => reject(new Error(`build: recording the help forms failed: ${why}`));
    const child = spawn(process.execPath, ['--input-type=module', '-e', RECORD, mainUrl, JSON.stringify(forms)], {
      env: process.env.SYSTEMROOT ? { SYSTEMROOT: process.env.SYSTEMROOT } : {},
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), RECORD_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      fail(error.message);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0 || stderr !== '') return fail(`${signal ? `killed by ${signal}` : `exit ${code}`}\n${stderr}`);
      let records;
      try {
        records = JSON.parse(stdout);
      } catch {
        return fail(`not the records on stdout: ${stdout.slice(0, 200)}`);
      }
      const bad = records.find((r) => r.code !== 0 || r.stdout === '' || r.stderr !== '');
      if (bad)
        return fail(
          `\`tokens ${bad.argv.join(' ')}\`: exit ${bad.code}, ${bad.stdout.length} characters on stdout, stderr: ${bad.stderr}`,
        );
      resolve(records);
    });
  });
}

const { helpForms } = await import(mainUrl);
const allForms = helpForms();
const shares = Math.min(availableParallelism(), allForms.length);
const recorded = await Promise.all(
  Array.from({ length: shares }, (_, i) => recordHelp(allForms.filter((_, j) => j % shares === i))),
);
// In helpForms' order, as the shares were dealt.
const forms = allForms.map((_, j) => recorded[j % shares][Math.floor(j / shares)]);
await writeFile(`${root}${outdir}/help.json`, JSON.stringify({ forms }));

const meta = {
  inputs: { ...full.metafile.inputs, ...fast.metafile.inputs },
  outputs: { ...full.metafile.outputs, ...fast.metafile.outputs },
};
await writeFile(`${root}${outdir}/meta.json`, JSON.stringify(meta));
