import { execFileSync } from 'node:child_process';
import { ROOT } from './cli.js';

export default function setup(): void {
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
}
