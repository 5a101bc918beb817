// Builds a private copy of the CLI for this test run (test/.tmp/run-PID/{bin,dist}), so that the
// tests always exercise the current src/ and two runs at once never see each other's half-built dist/.
import { execFileSync } from 'node:child_process';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT } from './cli.js';

export default async function setup(): Promise<() => Promise<void>> {
  const relative = join('test/.tmp', `run-${process.pid}`);
  const dir = join(ROOT, relative);
  execFileSync(process.execPath, ['scripts/build.mjs', '--outdir', join(relative, 'dist')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  // All of bin/: tokens.js and the package.json that makes it CommonJS.
  await cp(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  process.env.TOKENS_TEST_BIN = join(dir, 'bin/tokens.js');
  process.env.TOKENS_TEST_DIST = join(dir, 'dist');
  return async () => rm(dir, { recursive: true, force: true });
}
