// Bundles src/ into dist/ with esbuild. Code splitting keeps the warm `get` path small:
// zod, chalk, open, the HTTP client and the login listener live in chunks loaded on demand.
import { build } from 'esbuild';
import { readFile, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

// Commander requires node:child_process at load time, for executable subcommands we never use;
// that one require also loads net, dgram and more on every start (~3 ms of CPU here). Defer it to first use.
// test/unit/warm-path.test.ts fails if child_process is loaded by a warm `get` again.
const COMMANDER_EAGER_CHILD_PROCESS = "const childProcess = require('node:child_process');";
const lazyCommanderChildProcess = {
  name: 'lazy-commander-child-process',
  setup(b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes(COMMANDER_EAGER_CHILD_PROCESS)) {
        return { contents: source, loader: 'js', warnings: [{ text: 'commander no longer has the eager child_process require; lazy-commander-child-process did nothing' }] };
      }
      const lazy = "const childProcess = new Proxy({}, { get: (_, name) => require('node:child_process')[name] });";
      return { contents: source.replace(COMMANDER_EAGER_CHILD_PROCESS, lazy), loader: 'js' };
    });
  },
};

const root = fileURLToPath(new URL('..', import.meta.url));
// `--outdir DIR` builds elsewhere (the tests build a private copy, so parallel runs never see a
// half-written dist/); DIR is relative to the repository root.
const outFlag = process.argv.indexOf('--outdir');
const outdir = outFlag > 0 ? process.argv[outFlag + 1] : 'dist';
await rm(`${root}${outdir}`, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/main.ts' },
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
  plugins: [lazyCommanderChildProcess],
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
}).then(async (result) => {
  const { writeFile } = await import('node:fs/promises');
  await writeFile(`${root}${outdir}/meta.json`, JSON.stringify(result.metafile));
});
