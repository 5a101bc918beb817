// The supported Node.js lines, pinned once: `npm test` and `npm run bench` run on them, and
// .ci/run runs the whole suite on each. To move to a newer release of a line, change its `pinned`.
//
// Binaries come from the npm registry's `node-<platform>-<arch>` package (the registry is reachable
// wherever `npm ci` works), fetched once with `npm pack` and kept in the user's cache directory.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Oldest first. `from`: the first release of the line that is supported (process.execve). */
export const NODE_LINES = [
  { line: 22, from: '22.15.0', pinned: '22.23.5' },
  { line: 24, from: '24.0.0', pinned: '24.22.3' },
  { line: 26, from: '26.0.0', pinned: '26.12.1' },
];

/** "Node 22 (from 22.15), 24 and 26", for messages. */
export const SUPPORTED_TEXT = `Node ${NODE_LINES.map(({ line, from }) =>
  from.endsWith('.0.0') ? `${line}` : `${line} (from ${from.replace(/\.0$/, '')})`,
)
  .join(', ')
  .replace(/, ([^,]*)$/, ' and $1')}`;

const parse = (version) => version.replace(/^v/, '').split('.').map(Number);

/** Whether `version` (e.g. process.version) is on a supported line at or after the line's first supported release. */
export function isSupported(version) {
  const [major, minor, patch] = parse(version);
  const entry = NODE_LINES.find((l) => l.line === major);
  if (!entry) return false;
  const [, fromMinor, fromPatch] = parse(entry.from);
  return minor > fromMinor || (minor === fromMinor && patch >= fromPatch);
}

/** The entry of a line given as "22", "24", "26", or undefined. */
export function lineNamed(name) {
  return NODE_LINES.find((l) => String(l.line) === String(name));
}

function cacheRoot() {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'tokens-dev', 'node');
}

/**
 * The path of the `node` binary of `version`, fetched from the registry on first use and cached.
 * Throws with one line when it cannot be had (no registry, no such package for this platform).
 */
export function nodeBinary(version, log = (line) => console.error(line)) {
  const dir = join(cacheRoot(), `${version}-${process.platform}-${process.arch}`);
  const binary = join(dir, 'bin', 'node');
  if (existsSync(binary)) return binary;
  const pkg = `node-${process.platform}-${process.arch}@${version}`;
  log(`fetching Node ${version} (${pkg}) from the npm registry into ${dir}`);
  mkdirSync(cacheRoot(), { recursive: true });
  const work = mkdtempSync(join(cacheRoot(), '.fetch-'));
  try {
    const pack = spawnSync('npm', ['pack', pkg, '--silent'], { cwd: work, encoding: 'utf8', timeout: 600_000 });
    const tarball = pack.stdout?.trim().split('\n').at(-1);
    if (pack.status !== 0 || !tarball) {
      const why = (pack.stderr || pack.error?.message || '').trim().split('\n').find(Boolean) ?? `exit ${pack.status}`;
      throw new Error(`cannot fetch ${pkg} from the npm registry (${why})`);
    }
    const untar = spawnSync('tar', ['-xzf', tarball], { cwd: work, encoding: 'utf8' });
    if (untar.status !== 0) throw new Error(`cannot unpack ${tarball}: ${untar.stderr.trim()}`);
    // Renamed into place whole, so a fetch cut short never leaves a half binary for the next run
    // (and a second fetch at the same time finds the first one's in place).
    try {
      renameSync(join(work, 'package'), dir);
    } catch (error) {
      if (!existsSync(binary)) throw error;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return binary;
}

const SIGNAL_NUMBERS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };

/**
 * Runs `script args` under the pinned release of `entry`'s line, with that `node` first on PATH (so
 * whatever the script starts by name runs on it too); resolves with its exit status. Signals that
 * stop a run are passed on.
 */
export function runScriptUnder(entry, script, args, { env = {}, prefix = '' } = {}) {
  let binary;
  try {
    binary = nodeBinary(entry.pinned, (line) => console.error(`${prefix}${line}`));
  } catch (error) {
    console.error(`${prefix}${error.message}; the supported lines are ${SUPPORTED_TEXT}`);
    return Promise.resolve(1);
  }
  const child = spawn(binary, [script, ...args], {
    stdio: 'inherit',
    env: { ...process.env, ...env, PATH: `${dirname(binary)}${delimiter}${process.env.PATH ?? ''}` },
  });
  const forward = (signal) => child.kill(signal);
  for (const signal of Object.keys(SIGNAL_NUMBERS)) process.on(signal, forward);
  return new Promise((resolve) => {
    const done = (status) => {
      for (const signal of Object.keys(SIGNAL_NUMBERS)) process.off(signal, forward);
      resolve(status);
    };
    child.on('error', (error) => {
      console.error(`${prefix}cannot run ${binary}: ${error.message}`);
      done(1);
    });
    child.on('exit', (code, signal) => done(code ?? 128 + (SIGNAL_NUMBERS[signal] ?? 9)));
  });
}

/**
 * The line a script was asked to run on: `--all-lines`, `--node-line=N`, or none; taken out of
 * `args`. An unknown line is a usage error (exit 2).
 */
export function takeLineArgs(args, prefix = '') {
  let lines;
  const rest = [];
  for (const arg of args) {
    if (arg === '--all-lines') lines = 'all';
    else if (arg.startsWith('--node-line=')) {
      lines = lineNamed(arg.slice('--node-line='.length));
      if (!lines) {
        console.error(`${prefix}${arg}: the supported lines are ${NODE_LINES.map((l) => l.line).join(', ')}`);
        process.exit(2);
      }
    } else rest.push(arg);
  }
  return { lines, rest };
}

/**
 * Where a script given `lines` (from takeLineArgs) must run, from the Node it runs on: 'here', or
 * the entry of the line to run it under instead (an unsupported Node: the newest line).
 */
export function whereToRun(lines) {
  if (lines === undefined) return isSupported(process.version) ? 'here' : NODE_LINES.at(-1);
  const here = process.version.startsWith(`v${lines.line}.`) && isSupported(process.version);
  return here ? 'here' : lines;
}

// `node scripts/node-lines.mjs`: the pinned versions, one a line (for shell scripts).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const { pinned } of NODE_LINES) console.log(pinned);
}
