// Source modules bundled for child processes: tests that need a store in another process (a private
// D-Bus session, several concurrent writers) run a small driver script that imports such a bundle.
import { mkdir, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ROOT } from './cli.js';

/**
 * A fresh directory under test/.tmp (ignored by git). A bundle written there resolves the packages it
 * leaves external from the repository's node_modules.
 */
export async function repoTempDir(prefix: string): Promise<string> {
  await mkdir(join(ROOT, 'test', '.tmp'), { recursive: true });
  return mkdtemp(join(ROOT, 'test', '.tmp', prefix));
}

/** Bundles `entry` (a path under the repository, e.g. 'src/store/file.ts') into one ES module, its packages left external. */
export async function bundleForChild(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [join(ROOT, entry)],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel: 'silent',
  });
}
