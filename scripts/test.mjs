#!/usr/bin/env node
// `npm test`: runs the suite on a supported Node line (scripts/node-lines.mjs), checks the system
// prerequisites of the suite, installs the missing ones when it can (root + apt-get), then runs
// `vitest run` with any extra arguments. Nothing is ever skipped silently: a prerequisite that is
// still missing is an error naming the Debian package to install.
//
//   npm test                      on this Node if its line is supported, else on the newest line
//   npm test -- --all-lines       on every supported line in turn (what CI runs)
//   npm test -- --node-line=24    on one line
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_LINES, SUPPORTED_TEXT, runScriptUnder, takeLineArgs, whereToRun } from './node-lines.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const script = fileURLToPath(import.meta.url);
/** Where a run under another Node leaves its counts, for --all-lines to add up. */
const SUMMARY_ENV = 'TOKENS_TEST_SUMMARY';
const SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };

const { lines: wantedLines, rest: vitestArgs } = takeLineArgs(process.argv.slice(2), '[test] ');
if (wantedLines === 'all') process.exit(await runEveryLine());
const where = whereToRun(wantedLines);
if (where !== 'here') {
  if (wantedLines === undefined) {
    console.error(
      `[test] Node ${process.version} is not a supported line (${SUPPORTED_TEXT}): running the suite on Node ${where.pinned}`,
    );
  }
  process.exit(await runUnder(where, vitestArgs));
}

/** This script on `entry`'s line; its exit code. */
function runUnder(entry, args, env = {}) {
  return runScriptUnder(entry, script, [`--node-line=${entry.line}`, ...args], { env, prefix: '[test] ' });
}

/** The suite on every supported line in turn; one line per Node, then the counts added up. */
async function runEveryLine() {
  const dir = mkdtempSync(join(tmpdir(), 'tokens-test-lines-'));
  const results = [];
  for (const entry of NODE_LINES) {
    const summary = join(dir, `${entry.line}.json`);
    console.error(`[test] ===== Node ${entry.pinned} =====`);
    const code = await runUnder(entry, vitestArgs, { [SUMMARY_ENV]: summary });
    let counts = { passed: 0, failed: 0, skipped: 0 };
    try {
      counts = JSON.parse(readFileSync(summary, 'utf8'));
    } catch {
      // No summary: the run stopped before its tests (a prerequisite, the type check); its code says so.
    }
    results.push({ entry, code, counts });
  }
  rmSync(dir, { recursive: true, force: true });
  for (const { entry, code, counts } of results) {
    console.error(
      `[test] Node ${entry.pinned}: ${counts.passed} passed, ${counts.failed} failed${code === 0 ? '' : ` (exit ${code})`}`,
    );
  }
  const sum = (key) => results.reduce((n, r) => n + r.counts[key], 0);
  const skipped = sum('skipped');
  console.log(`tests: ${sum('passed')} passed, ${sum('failed')} failed${skipped ? `, ${skipped} skipped` : ''}`);
  return results.find((r) => r.code !== 0)?.code ?? 0;
}
const BUILD_PACKAGES = ['python3', 'make', 'g++', 'pkg-config']; // node-gyp, when keytar builds from source

/** Each prerequisite: what is checked, how, and the Debian package that provides it. */
const prerequisites = [
  { what: 'dbus-daemon', pkg: 'dbus', ok: () => hasCommand('dbus-daemon') },
  { what: 'dbus-run-session', pkg: 'dbus-bin', ok: () => hasCommand('dbus-run-session') },
  { what: 'dbus-send', pkg: 'dbus-bin', ok: () => hasCommand('dbus-send') },
  { what: 'gnome-keyring-daemon', pkg: 'gnome-keyring', ok: () => hasCommand('gnome-keyring-daemon') },
  { what: 'chromium', pkg: 'chromium', ok: () => hasCommand('chromium') },
  { what: 'zsh', pkg: 'zsh', ok: () => hasCommand('zsh') },
  { what: 'fish', pkg: 'fish', ok: () => hasCommand('fish') },
  {
    what: 'bash-completion',
    pkg: 'bash-completion',
    ok: () => existsSync('/usr/share/bash-completion/bash_completion'),
  },
  { what: 'libsecret (libsecret-1.pc)', pkg: 'libsecret-1-dev', ok: hasLibsecret },
  { what: 'secret-tool', pkg: 'libsecret-tools', ok: () => hasCommand('secret-tool') },
  { what: 'python3 (the pseudo-terminal test)', pkg: 'python3', ok: () => hasCommand('python3') },
  { what: 'ip (a network namespace for the loopback-only listener test)', pkg: 'iproute2', ok: () => hasCommand('ip') },
  { what: 'redis-server (the Redis store tests)', pkg: 'redis-server', ok: () => hasCommand('redis-server') },
  {
    what: 'curl (a client of tokens serve; a `set -x` script under exec --mask)',
    pkg: 'curl',
    ok: () => hasCommand('curl'),
  },
  {
    what: "python3-requests (a client of tokens serve, Debian's /usr/bin/python3)",
    pkg: 'python3-requests',
    ok: () => hasPython('requests'),
  },
  { what: 'python3-httpx (a unix-socket client of tokens serve)', pkg: 'python3-httpx', ok: () => hasPython('httpx') },
  {
    what: 'jupyter-nbconvert (a notebook run under exec --serve)',
    pkg: 'jupyter-nbconvert',
    ok: () => existsSync('/usr/bin/jupyter-nbconvert'),
  },
  { what: 'python3-ipykernel (the notebook kernel)', pkg: 'python3-ipykernel', ok: () => hasPython('ipykernel') },
  {
    what: 'faketime (a clock that runs ahead, for the clock tests)',
    pkg: 'faketime',
    ok: () => hasCommand('faketime'),
  },
];

/** Whether Debian's python3 (not a pyenv one on PATH) imports the module. */
function hasPython(module) {
  return spawnSync('/usr/bin/python3', ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
}

function hasCommand(name) {
  for (const dir of (process.env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(
    delimiter,
  )) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // next
    }
  }
  return false;
}

function hasLibsecret() {
  if (hasCommand('pkg-config') && spawnSync('pkg-config', ['--exists', 'libsecret-1']).status === 0) return true;
  const arch = spawnSync('dpkg-architecture', ['-qDEB_HOST_MULTIARCH'], { encoding: 'utf8' }).stdout?.trim();
  const dirs = ['/usr/lib/pkgconfig', '/usr/share/pkgconfig', '/usr/local/lib/pkgconfig', '/usr/lib64/pkgconfig'];
  for (const a of [arch, 'x86_64-linux-gnu', 'aarch64-linux-gnu']) if (a) dirs.push(`/usr/lib/${a}/pkgconfig`);
  return dirs.some((d) => existsSync(join(d, 'libsecret-1.pc')));
}

/** keytar must load from the repository root (it is an optional native dependency). */
function keytarLoads() {
  const r = spawnSync(process.execPath, ['-e', "require('keytar')"], { cwd: root, encoding: 'utf8' });
  return { ok: r.status === 0, error: (r.stderr || '').split('\n').find((l) => /Error/.test(l)) ?? '' };
}

function missingNow() {
  return prerequisites.filter((p) => !p.ok());
}

function run(cmd, args, env = {}) {
  console.error(`[test] $ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, ...env },
  });
  return r.status === 0;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const canApt = isRoot && hasCommand('apt-get');

let missing = missingNow();
let keytar = keytarLoads();

if ((missing.length > 0 || !keytar.ok) && canApt) {
  const packages = new Set(missing.map((p) => p.pkg));
  if (!keytar.ok) {
    packages.add('libsecret-1-dev');
    for (const p of BUILD_PACKAGES) packages.add(p);
  }
  console.error(`[test] installing missing prerequisites: ${[...packages].join(' ')}`);
  const aptEnv = { DEBIAN_FRONTEND: 'noninteractive' };
  if (
    !run('apt-get', ['update'], aptEnv) ||
    !run('apt-get', ['install', '-y', '--no-install-recommends', ...packages], aptEnv)
  ) {
    console.error('[test] apt-get failed');
  }
  missing = missingNow();
  keytar = keytarLoads();
}

if (!keytar.ok && missing.every((p) => p.pkg !== 'libsecret-1-dev') && hasCommand('npm')) {
  console.error(`[test] keytar does not load (${keytar.error || 'unknown error'}); rebuilding it`);
  run('npm', ['rebuild', 'keytar']);
  keytar = keytarLoads();
  if (!keytar.ok) {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const version = pkg.optionalDependencies?.keytar ?? pkg.dependencies?.keytar ?? 'latest';
    run('npm', ['install', '--no-save', `keytar@${version}`]);
    keytar = keytarLoads();
  }
}

if (missing.length > 0 || !keytar.ok) {
  console.error('[test] missing test prerequisites:');
  for (const p of missing) console.error(`[test]   ${p.what}: install the Debian package ${p.pkg}`);
  if (!keytar.ok) {
    console.error(
      `[test]   keytar does not load${keytar.error ? ` (${keytar.error})` : ''}: install libsecret-1-dev ${BUILD_PACKAGES.join(' ')}, then run npm rebuild keytar`,
    );
  }
  if (!canApt) console.error('[test] (run `npm test` as root on Debian/Ubuntu to install them automatically)');
  process.exit(1);
}

// All there. First the static checks, which fail in seconds, before the long suite: esbuild strips
// types without checking them, so only tsc catches a type error.
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
if (!existsSync(vitest) || !existsSync(tsc)) {
  console.error('[test] the dev dependencies are not installed: run npm ci (or npm install) first');
  process.exit(1);
}
const biome = join(root, 'node_modules', '@biomejs', 'biome', 'bin', 'biome');
console.error('[test] $ biome ci (formatting and lint)');
const lint = spawnSync(process.execPath, [biome, 'ci', '--colors=off', '.'], { cwd: root, encoding: 'utf8' });
if (lint.status !== 0) {
  process.stderr.write(lint.stdout + lint.stderr);
  console.error(
    '[test] formatting or lint failed: run `npx biome check --write .` to fix what it can, then fix the rest',
  );
  process.exit(1);
}
console.error('[test] $ tsc --noEmit');
const typecheck = spawnSync(process.execPath, [tsc, '--noEmit', '--pretty', 'false'], { cwd: root, encoding: 'utf8' });
if (typecheck.status !== 0) {
  process.stderr.write(typecheck.stdout + typecheck.stderr);
  const errors = (typecheck.stdout.match(/error TS\d+/g) ?? []).length;
  console.error(`[test] type check failed (${errors} error${errors === 1 ? '' : 's'}); fix them before the suite runs`);
  process.exit(1);
}
// A JSON report beside the usual output, so the run can end with one plain "N passed, N failed" line.
const report = join(root, 'test', '.tmp', `report-${process.pid}.json`);
const reporters = ['--reporter=default', '--reporter=json', `--outputFile.json=${report}`];
console.error(`[test] Node ${process.version}`);
const child = spawn(process.execPath, [vitest, 'run', ...reporters, ...vitestArgs], {
  cwd: root,
  stdio: 'inherit',
});
for (const sig of Object.keys(SIGNALS)) process.on(sig, () => child.kill(sig));
child.on('error', (e) => {
  console.error(`[test] cannot run vitest: ${e.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  let exit = code ?? 128 + (SIGNALS[signal] ?? 9);
  try {
    const counts = JSON.parse(readFileSync(report, 'utf8'));
    rmSync(report, { force: true });
    const skipped = counts.numPendingTests + counts.numTodoTests;
    if (process.env[SUMMARY_ENV]) {
      const summary = { passed: counts.numPassedTests, failed: counts.numFailedTests, skipped };
      writeFileSync(process.env[SUMMARY_ENV], JSON.stringify(summary));
    }
    console.log(
      `tests: ${counts.numPassedTests} passed, ${counts.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}`,
    );
    // A run that executed nothing proves nothing.
    if (exit === 0 && counts.numTotalTests === 0) exit = 1;
  } catch {
    // No report (vitest crashed before writing it): its own exit code stands.
  }
  process.exit(exit);
});
