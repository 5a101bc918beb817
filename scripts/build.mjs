// Bundles src/ into dist/ with esbuild. Code splitting keeps the warm `get` path small:
// zod, chalk, open, the HTTP client and the login listener live in chunks loaded on demand.
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

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
