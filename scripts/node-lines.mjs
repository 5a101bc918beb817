// The supported Node.js lines, pinned once: `npm test` and `npm run bench` run on them, and
// .ci/run runs the whole suite on each. To move to a newer release of a line, change its `pinned`.
//
// Binaries come from the npm registry's `node-<platform>-<arch>` package (the registry is reachable
// wherever `npm ci` works), fetched once with `npm pack` and kept in the user's cache directory.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
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
  log(`[node] fetching Node ${version} (${pkg}) from the npm registry into ${dir}`);
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

// `node scripts/node-lines.mjs`: the pinned versions, one a line (for shell scripts).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const { pinned } of NODE_LINES) console.log(pinned);
}
