// Installs under the npm lines we support, 11 and 12 (the registry's npm@11 and npm@12, fetched once
// into ~/.cache/tokens-test/npm/ and run with the Node this suite runs under): a checkout's `npm ci`,
// and a global install of the packed tarball. npm 12 runs a dependency's install script only when
// package.json's allowScripts or, globally, --allow-scripts names it; npm 11.16+ warns about every
// one not named. keytar is built from source here (no prebuilt binary can be downloaded), so it needs
// libsecret-1-dev, python3, make and g++ (scripts/test.mjs checks them). The checks of the message
// for a missing keytar run the very command it names, so a message that lies fails here.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST, ROOT } from '../support/cli.js';

const MAJORS = ['11', '12'] as const;
type Major = (typeof MAJORS)[number];
const STEP_MS = 240_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

const temps: string[] = [];
async function temp(prefix: string): Promise<string> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), prefix)));
  temps.push(dir);
  return dir;
}

/** The environment of every child: ours, less what an outer npm run exported, with this Node first on PATH. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k) && !k.startsWith('TOKENS_')) env[k] = v;
  }
  env.PATH = [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter);
  // Nothing but the registry: no audit or fund requests, no update check.
  Object.assign(env, { npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' });
  return { ...env, ...extra };
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = childEnv()): Promise<Run> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, seconds: (performance.now() - started) / 1000 }));
  });
}

const npmCli = new Map<Major, string>();
function npm(major: Major, args: string[], cwd: string): Promise<Run> {
  return run(process.execPath, [npmCli.get(major)!, ...args], cwd);
}

/** npm@MAJOR from the registry, unpacked once into the cache and reused by later runs. */
async function cachedNpm(major: Major): Promise<string> {
  const base = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tokens-test', 'npm');
  const cli = join(base, major, 'package', 'bin', 'npm-cli.js');
  if (existsSync(cli)) return cli;
  await mkdir(base, { recursive: true });
  const work = await mkdtemp(join(base, `.${major}-`));
  try {
    const pack = await run('npm', ['pack', `npm@${major}`, '--silent', '--pack-destination', work], work).catch(
      (e: unknown) => ({ code: -1, stdout: '', stderr: String(e), seconds: 0 }),
    );
    if (pack.code !== 0) throw new Error(`npm pack npm@${major} failed (the npm on PATH fetches it): ${pack.stderr}`);
    const untar = await run('tar', ['xzf', join(work, pack.stdout.trim()), '-C', work], work);
    if (untar.code !== 0) throw new Error(`unpacking npm@${major} failed: ${untar.stderr}`);
    // Another run may have filled the cache meanwhile: theirs is as good.
    await rename(work, join(base, major)).catch(() => undefined);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  if (!existsSync(cli)) throw new Error(`npm@${major} is not in ${cli}`);
  return cli;
}

/** The lines of npm's report on install scripts it did not run or that no allowScripts entry covers. */
function scriptWarnings(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /install-scripts|allowScripts|allow-scripts/.test(l));
}

/** A checkout as `git clone` gives it, less what is not needed to install (tests, docs). */
async function checkout(): Promise<string> {
  const dir = await temp('tokens-install-checkout-');
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'bin', 'scripts', 'src', 'completions']) {
    await cp(join(ROOT, f), join(dir, f), { recursive: true });
  }
  return dir;
}

/** A HOME where chartmetric is configured (keychain store, the default), so `get` reaches the store. */
async function configuredHome(): Promise<string> {
  const home = await temp('tokens-install-home-');
  await mkdir(join(home, '.config', 'tokens'), { recursive: true, mode: 0o700 });
  const config = { version: 1, profiles: { default: { chartmetric: { mode: 'refresh_token' } } } };
  await writeFile(join(home, '.config', 'tokens', 'config.json'), JSON.stringify(config), { mode: 0o600 });
  return home;
}

/** `tokens get chartmetric` with no keychain session: keytar is loaded, or the message says how to get it. */
function getChartmetric(tokens: string[], cwd: string, home: string): Promise<Run> {
  const env = { PATH: childEnv().PATH!, HOME: home, NO_COLOR: '1' };
  return run(tokens[0]!, [...tokens.slice(1), 'get', 'chartmetric'], cwd, env);
}

const MISSING = 'the keychain module (keytar) is missing or failed to load';

/** The message's way to build keytar: the npm command in backquotes, and the directory to run it in. */
function namedFix(stderr: string): { args: string[]; cwd?: string } {
  const m = /`npm ([^`]+)`(?: in ([^;\s]+))?/.exec(stderr.slice(stderr.indexOf(MISSING)));
  if (!m) throw new Error(`no npm command in: ${stderr}`);
  return { args: m[1]!.split(' '), cwd: m[2] };
}

function keytarLoads(dir: string): Promise<Run> {
  return run(process.execPath, ['-e', "require('keytar')"], dir);
}

const [nodeMajor, nodeMinor] = process.versions.node.split('.').map(Number) as [number, number];
const supportedNode = (nodeMajor === 22 && nodeMinor >= 15) || nodeMajor >= 24;
let tarball: string;

beforeAll(async () => {
  if (!supportedNode) {
    throw new Error(
      `these tests need a supported Node (22 from 22.15, 24, 26; npm 12 refuses older ones), not ${process.version}`,
    );
  }
  for (const major of MAJORS) npmCli.set(major, await cachedNpm(major));
  // The tarball `npm pack` makes from a checkout, from this run's fresh build (global-setup.ts) rather
  // than the checkout's own dist/, which may be stale and is never written by a test.
  const pkg = await temp('tokens-install-pack-');
  for (const f of ['package.json', 'bin', 'completions']) await cp(join(ROOT, f), join(pkg, f), { recursive: true });
  await cp(DIST, join(pkg, 'dist'), { recursive: true });
  const packed = await npm('11', ['pack', '--ignore-scripts', '--silent', '--pack-destination', pkg], pkg);
  expect(packed.code, packed.stderr).toBe(0);
  tarball = join(pkg, packed.stdout.trim());
}, STEP_MS);

afterAll(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

describe.each(MAJORS)('npm %s', (major) => {
  it(
    'installs a checkout with `npm ci`: keytar built, no unreviewed install scripts; the messages for a missing keytar name a command that builds it',
    async () => {
      const dir = await checkout();
      const ci = await npm(major, ['ci', '--prefer-offline'], dir);
      console.log(`[install] npm ${major}: npm ci ${ci.seconds.toFixed(1)} s`);
      expect(ci.code, ci.stderr).toBe(0);
      expect(scriptWarnings(ci.stderr)).toEqual([]);
      const help = await run(process.execPath, ['bin/tokens.js', '--help'], dir);
      expect(help.code, help.stderr).toBe(0);
      expect(help.stdout).toMatch(/^Usage: tokens/);
      const loads = await keytarLoads(dir);
      expect(loads.code, `keytar does not load after npm ci (libsecret-1-dev installed?): ${loads.stderr}`).toBe(0);
      // The README's `npm link --ignore-scripts`, into a prefix of our own.
      const prefix = await temp('tokens-install-link-');
      const link = await run(process.execPath, [npmCli.get(major)!, 'link', '--ignore-scripts'], dir, {
        ...childEnv(),
        npm_config_prefix: prefix,
      });
      expect(link.code, link.stderr).toBe(0);
      expect(scriptWarnings(link.stderr)).toEqual([]);
      const linked = await run(join(prefix, 'bin/tokens'), ['--version'], dir);
      expect(linked.code, linked.stderr).toBe(0);

      const home = await configuredHome();
      const tokens = [process.execPath, join(dir, 'bin/tokens.js')];
      // Not built (its install script skipped): `npm rebuild keytar`, which allowScripts lets npm 12 run.
      await rm(join(dir, 'node_modules/keytar/build'), { recursive: true });
      const unbuilt = await getChartmetric(tokens, dir, home);
      expect(unbuilt.code, unbuilt.stderr).toBe(6);
      expect(unbuilt.stderr).toContain(MISSING);
      expect(unbuilt.stderr).toContain('TOKENS_STORE=file');
      const rebuild = namedFix(unbuilt.stderr);
      expect(rebuild).toEqual({ args: ['rebuild', 'keytar'], cwd: dir });
      const rebuilt = await npm(major, rebuild.args, rebuild.cwd!);
      expect(rebuilt.code, rebuilt.stderr).toBe(0);
      expect((await keytarLoads(dir)).code).toBe(0);
      // Gone (npm removes an optional dependency whose build failed; `npm rebuild` would then do nothing): `npm install`.
      await rm(join(dir, 'node_modules/keytar'), { recursive: true });
      const absent = await getChartmetric(tokens, dir, home);
      expect(absent.code, absent.stderr).toBe(6);
      expect(absent.stderr).toContain('TOKENS_STORE=file');
      const install = namedFix(absent.stderr);
      expect(install).toEqual({ args: ['install'], cwd: dir });
      const installed = await npm(major, [...install.args, '--prefer-offline'], install.cwd!);
      expect(installed.code, installed.stderr).toBe(0);
      expect(scriptWarnings(installed.stderr)).toEqual([]);
      expect((await keytarLoads(dir)).code).toBe(0);
      const works = await getChartmetric(tokens, dir, home);
      expect(works.stderr).not.toContain(MISSING);
    },
    STEP_MS,
  );

  it(
    "installs the packed tarball globally with the README's command: keytar built, no unreviewed install scripts",
    async () => {
      const prefix = await temp('tokens-install-global-');
      const r = await npm(
        major,
        ['install', '-g', '--prefer-offline', '--prefix', prefix, `--allow-scripts=keytar,file:${tarball}`, tarball],
        prefix,
      );
      console.log(`[install] npm ${major}: npm install -g ${r.seconds.toFixed(1)} s`);
      expect(r.code, r.stderr).toBe(0);
      expect(scriptWarnings(r.stderr)).toEqual([]);
      const help = await run(join(prefix, 'bin/tokens'), ['--help'], prefix);
      expect(help.code, help.stderr).toBe(0);
      expect(help.stdout).toMatch(/^Usage: tokens/);
      const pkg = join(prefix, 'lib/node_modules/tokens');
      expect(existsSync(join(pkg, 'node_modules/keytar/build/Release/keytar.node'))).toBe(true);
      expect((await keytarLoads(pkg)).code).toBe(0);
    },
    STEP_MS,
  );
});

describe('npm 12, global install without --allow-scripts', () => {
  it(
    'skips keytar: tokens exits 6 naming `npm rebuild -g … --allow-scripts=keytar keytar` and TOKENS_STORE=file, and that command builds it',
    async () => {
      const prefix = await temp('tokens-install-global-');
      const r = await npm('12', ['install', '-g', '--prefer-offline', '--prefix', prefix, tarball], prefix);
      expect(r.code, r.stderr).toBe(0);
      expect(scriptWarnings(r.stderr).join('\n')).toMatch(/keytar@/);
      const pkg = join(prefix, 'lib/node_modules/tokens');
      const binary = join(pkg, 'node_modules/keytar/build/Release/keytar.node');
      expect(existsSync(binary)).toBe(false);

      const home = await configuredHome();
      const tokens = [join(prefix, 'bin/tokens')];
      const unbuilt = await getChartmetric(tokens, home, home);
      expect(unbuilt.code, unbuilt.stderr).toBe(6);
      expect(unbuilt.stderr).toContain(MISSING);
      expect(unbuilt.stderr).toContain('TOKENS_STORE=file');
      const rebuild = namedFix(unbuilt.stderr);
      expect(rebuild.args).toEqual(['rebuild', '-g', '--prefix', prefix, '--allow-scripts=keytar', 'keytar']);
      const rebuilt = await npm('12', rebuild.args, home);
      expect(rebuilt.code, rebuilt.stderr).toBe(0);
      expect(existsSync(binary)).toBe(true);
      expect((await getChartmetric(tokens, home, home)).stderr).not.toContain(MISSING);

      // Gone altogether (its build failed): reinstall with the command named, plus the tarball.
      await rm(join(pkg, 'node_modules/keytar'), { recursive: true });
      const absent = await getChartmetric(tokens, home, home);
      expect(absent.code, absent.stderr).toBe(6);
      const reinstall = namedFix(absent.stderr);
      expect(reinstall.args).toEqual(['install', '-g', '--prefix', prefix, '--allow-scripts=keytar']);
      const reinstalled = await npm('12', [...reinstall.args, '--prefer-offline', tarball], home);
      expect(reinstalled.code, reinstalled.stderr).toBe(0);
      expect(existsSync(binary)).toBe(true);
    },
    STEP_MS,
  );
});
