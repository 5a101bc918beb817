// Writes the shell completion scripts shipped under completions/ from the built program
// (`tokens completion bash|zsh|fish`, generated from the Commander definitions), so a new command
// or flag reaches them. Run after `npm run build`:
//   node scripts/completions.mjs          write completions/tokens.bash, _tokens, tokens.fish
//   node scripts/completions.mjs --check  exit 1, naming the stale files, when they differ
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const COMPLETION_FILES = {
  bash: 'completions/tokens.bash',
  zsh: 'completions/_tokens',
  fish: 'completions/tokens.fish',
};

const check = process.argv.includes('--check');
const stale = [];
await mkdir(`${root}completions`, { recursive: true });
for (const [shell, file] of Object.entries(COMPLETION_FILES)) {
  // A clean environment: nothing of the caller's config or profile may leak into the scripts.
  const script = execFileSync(process.execPath, ['bin/tokens.js', 'completion', shell], {
    cwd: root,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: root, NO_COLOR: '1' },
  });
  const current = await readFile(`${root}${file}`, 'utf8').catch(() => undefined);
  if (current === script) continue;
  if (check) stale.push(file);
  else {
    await writeFile(`${root}${file}`, script);
    process.stderr.write(`completions: wrote ${file}\n`);
  }
}
if (stale.length > 0) {
  process.stderr.write(
    `completions: out of date: ${stale.join(', ')}; run npm run build && node scripts/completions.mjs\n`,
  );
  process.exitCode = 1;
}
