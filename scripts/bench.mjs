// `npm run bench`: is `tokens` fast enough to call in a loop?
//
// Side by side, in one run, alternating the two commands (A, B, A, B, …) so that drift in machine
// load hits both alike, medians of BENCH_RUNS runs each (default 21, at least 15):
//   - warm-cache `tokens get chartmetric`            vs `node -e 0`
//   - `tokens exec --provider chartmetric -- true`   vs `node -e 0` (warm cache)
//   - `tokens --version`                             vs `node -e 0`
// as wall-time and peak-RSS ratios, and the token-endpoint request count of 20 and 50 parallel
// `tokens get` with an expired cache against the fake token server (expect exactly 1).
//
// Wall time is taken around a direct spawn; peak RSS comes from GNU time (`/usr/bin/time -f %M`,
// Debian package `time`) in separate, equally interleaved runs, so the wrapper's own start-up never
// lands in the wall-time figures. Exit status is 0 whatever the targets say, unless BENCH_STRICT=1.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const GNU_TIME = '/usr/bin/time';
const NODE = process.execPath;
const STRICT = process.env.BENCH_STRICT === '1';
const RUNS = benchRuns(process.env.BENCH_RUNS);
const WARMUP = 2;

const TARGETS = { getWall: 1.25, execWall: 1.35, rss: 1.2 };

function benchRuns(value) {
  if (value === undefined || value === '') return 21;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 15) {
    console.error(`bench: BENCH_RUNS must be a whole number ≥ 15, not ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return n;
}

// ───────────────────────────── preconditions ─────────────────────────────

if (!existsSync(GNU_TIME)) {
  console.error(
    `bench: ${GNU_TIME} not found. Peak RSS is measured with GNU time; install the Debian package \`time\` ` +
      '(apt-get install time) and run again.',
  );
  process.exit(2);
}
if (!['dist/fast.cjs', 'dist/main.js', 'dist/meta.json'].every((file) => existsSync(join(ROOT, file)))) {
  console.error('bench: dist/ is missing; building it first');
  const built = spawnSync(NODE, [join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
}

const work = await mkdtemp(join(tmpdir(), 'tokens-bench-'));
process.on('exit', () => spawnSync('rm', ['-rf', work]));

// Measure a private copy of bin/ + dist/: a build running meanwhile (npm run build) rewrites dist/ (rm -rf, then write)
// and would otherwise pull files away mid-run. node_modules is linked for keytar (external). All of
// bin/ is copied: bin/package.json makes bin/tokens.js CommonJS, and without it the bin would not run.
const BIN = await snapshot();

async function snapshot() {
  const app = join(work, 'app');
  for (let attempt = 1; ; attempt++) {
    await rm(app, { recursive: true, force: true });
    await mkdir(app, { recursive: true });
    try {
      await cp(join(ROOT, 'bin'), join(app, 'bin'), { recursive: true });
      await cp(join(ROOT, 'dist'), join(app, 'dist'), { recursive: true });
      await cp(join(ROOT, 'package.json'), join(app, 'package.json'));
      const meta = JSON.parse(await readFile(join(app, 'dist/meta.json'), 'utf8'));
      const missing = Object.keys(meta.outputs).filter((out) => !existsSync(join(app, out)));
      if (missing.length === 0) break;
      throw new Error(`incomplete dist/ (${missing.length} output(s) missing)`);
    } catch (error) {
      if (attempt >= 10) {
        console.error(`bench: could not copy a complete dist/ (${error.message}); is a build running?`);
        process.exit(1);
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  await symlink(join(ROOT, 'node_modules'), join(app, 'node_modules'), 'dir');
  return join(app, 'bin/tokens.js');
}

// ───────────────────────────── helpers ─────────────────────────────

function baseEnv(home) {
  const env = {};
  for (const name of ['PATH', 'LANG', 'TERM', 'TMPDIR']) if (process.env[name]) env[name] = process.env[name];
  return { ...env, HOME: home, NO_COLOR: '1' };
}

async function newHome(name) {
  const home = join(work, name);
  await mkdir(home, { recursive: true });
  return home;
}

async function writeToken(home, accessToken, expiresAt) {
  const dir = join(home, '.cache/tokens/default');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const token = { access_token: accessToken, token_type: 'bearer', expires_at: expiresAt };
  await writeFile(join(dir, 'chartmetric.json'), `${JSON.stringify(token)}\n`, { mode: 0o600 });
}

/** A measured run failed: run it once more with its output kept, show that, and stop. */
function fail(cmd, env, r) {
  const again = spawnSync(cmd.argv[0], cmd.argv.slice(1), { env, encoding: 'utf8' });
  console.error(`bench: ${cmd.label} exited with ${r.status ?? r.signal}; a rerun exited with ${again.status ?? again.signal}:`);
  console.error(`${again.stderr}`.trim());
  process.exit(1);
}

/** One run, wall time in ms. stdout/stderr go nowhere; a failing run stops the bench. */
function wallRun(cmd, env) {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd.argv[0], cmd.argv.slice(1), { env, stdio: 'ignore' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) fail(cmd, env, r);
  return ms;
}

/** One run under GNU time, peak RSS in KiB. */
const rssFile = join(work, 'rss.txt');
function rssRun(cmd, env) {
  const r = spawnSync(GNU_TIME, ['-f', '%M', '-o', rssFile, ...cmd.argv], { env, stdio: 'ignore' });
  if (r.status !== 0) fail(cmd, env, r);
  const kib = Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1));
  if (!Number.isFinite(kib) || kib <= 0) throw new Error(`could not read the peak RSS of ${cmd.label} from ${GNU_TIME}`);
  return kib;
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** A and B alternated: warm-up runs first (discarded), then RUNS rounds of A-wall, B-wall, A-rss, B-rss. */
function compare(a, b, env) {
  for (let i = 0; i < WARMUP; i++) {
    wallRun(a, env);
    wallRun(b, env);
  }
  const wall = { a: [], b: [] };
  const rss = { a: [], b: [] };
  for (let i = 0; i < RUNS; i++) {
    wall.a.push(wallRun(a, env));
    wall.b.push(wallRun(b, env));
    rss.a.push(rssRun(a, env));
    rss.b.push(rssRun(b, env));
  }
  return {
    wall: { a: median(wall.a), b: median(wall.b) },
    rss: { a: median(rss.a) / 1024, b: median(rss.b) / 1024 },
  };
}

// ───────────────────────────── machine ─────────────────────────────

function cpuModel() {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => /^model name\s*:/.test(l));
    if (line) return line.split(':').slice(1).join(':').trim();
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? 'unknown';
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
console.log(`tokens ${pkg.version} bench — ${RUNS} runs each (+${WARMUP} warm-up), alternating; medians; stdio → /dev/null`);
console.log(`machine: ${cpuModel()}, ${cpus().length} cores, node ${process.version}, ${process.platform}/${process.arch}`);
const loadAtStart = loadavg()[0];
console.log('');

// ───────────────────────────── start-up: get, exec, --version ─────────────────────────────

const home = await newHome('warm');
await writeToken(home, 'bench', Date.now() + 24 * 3600 * 1000);
const env = baseEnv(home);

const check = spawnSync(NODE, [BIN, 'get', 'chartmetric'], { env, encoding: 'utf8' });
if (check.status !== 0 || check.stdout !== 'bench\n') {
  console.error(`bench: warm \`tokens get chartmetric\` did not print the cached token (exit ${check.status}):\n${check.stderr}`);
  process.exit(1);
}

const nodeBaseline = { label: 'node -e 0', argv: [NODE, '-e', '0'] };
const scenarios = [
  { name: 'warm get', cmd: { label: 'tokens get chartmetric', argv: [NODE, BIN, 'get', 'chartmetric'] }, wallTarget: TARGETS.getWall },
  { name: 'exec', cmd: { label: 'tokens exec --provider chartmetric -- true', argv: [NODE, BIN, 'exec', '--provider', 'chartmetric', '--', 'true'] }, wallTarget: TARGETS.execWall },
  { name: '--version', cmd: { label: 'tokens --version', argv: [NODE, BIN, '--version'] }, wallTarget: undefined },
  // The Redis store, pointed at a port where nothing listens: the warm get must not contact it (if it
  // did, it would fail, and so would the bench).
  {
    name: 'warm get (redis store)',
    cmd: { label: 'tokens get chartmetric (TOKENS_STORE=redis)', argv: [NODE, BIN, 'get', 'chartmetric'] },
    wallTarget: TARGETS.getWall,
    env: { TOKENS_STORE: 'redis', TOKENS_REDIS_URL: 'redis://:bench@127.0.0.1:9', TOKENS_PASSPHRASE: 'bench passphrase' },
  },
];

const rows = [];
let missed = 0;
const ratioRow = (metric, a, b, unit, target) => {
  const ratio = a / b;
  const pass = target === undefined ? undefined : ratio <= target;
  if (pass === false) missed++;
  rows.push([
    metric,
    `${a.toFixed(1)} ${unit}`,
    `${b.toFixed(1)} ${unit}`,
    `${ratio.toFixed(2)}×`,
    target === undefined ? '—' : `≤ ${target.toFixed(2)}×`,
    pass === undefined ? 'info' : pass ? 'pass' : 'FAIL',
  ]);
};

for (const s of scenarios) {
  process.stderr.write(`measuring ${s.cmd.label} vs node -e 0 …\n`);
  const r = compare(s.cmd, nodeBaseline, { ...env, ...s.env });
  ratioRow(`${s.name} wall`, r.wall.a, r.wall.b, 'ms', s.wallTarget);
  ratioRow(`${s.name} peak RSS`, r.rss.a, r.rss.b, 'MiB', TARGETS.rss);
}

// ───────────────────────────── parallel gets, expired cache ─────────────────────────────

/** test/support/servers.ts, bundled on the fly so the bench uses the very server the tests use. */
async function loadFakeServer() {
  const { build } = await import('esbuild');
  const outfile = join(work, 'servers.mjs');
  await build({
    absWorkingDir: ROOT,
    entryPoints: ['test/support/servers.ts'],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
  });
  return import(pathToFileURL(outfile).href);
}

function runAsync(args, env, input) {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

async function parallelGets(server, n) {
  const h = await newHome(`parallel-${n}`);
  const refreshToken = `bench-rt-${n}`;
  server.chartmetric.addRefreshToken(refreshToken);
  const e = { ...baseEnv(h), ...server.env(), TOKENS_STORE: 'file', TOKENS_PASSPHRASE: 'bench passphrase', TOKENS_HTTP_TIMEOUT: '30' };
  const login = await runAsync(['login', 'chartmetric'], e, `${refreshToken}\n`);
  if (login.code !== 0) throw new Error(`tokens login chartmetric failed (exit ${login.code}): ${login.stderr.trim()}`);
  // Expire the cached token login wrote; the refresh token stays in the (file) store.
  const cached = JSON.parse(await readFile(join(h, '.cache/tokens/default/chartmetric.json'), 'utf8'));
  await writeToken(h, cached.access_token, Date.now() - 1000);

  const before = server.count('chartmetric', '/api/token');
  const mintsBefore = server.mints('chartmetric');
  const start = process.hrtime.bigint();
  const results = await Promise.all(Array.from({ length: n }, () => runAsync(['get', 'chartmetric'], e)));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const failed = results.filter((r) => r.code !== 0);
  const tokens = new Set(results.map((r) => r.stdout));
  return {
    requests: server.count('chartmetric', '/api/token') - before,
    mints: server.mints('chartmetric') - mintsBefore,
    failed: failed.length,
    firstError: failed[0]?.stderr.trim(),
    sameToken: failed.length === 0 && tokens.size === 1 && !tokens.has('') && !tokens.has(`${cached.access_token}\n`),
    seconds,
  };
}

process.stderr.write('measuring parallel gets against the fake token server …\n');
const { startProviderServer } = await loadFakeServer();
const server = await startProviderServer();
server.delayMs = 300;
const parallel = [];
try {
  for (const n of [20, 50]) {
    const r = await parallelGets(server, n);
    parallel.push({ n, ...r });
    const ok = r.requests === 1 && r.sameToken && r.failed === 0;
    if (!ok) missed++;
    rows.push([
      `${n} parallel gets: token requests`,
      String(r.requests),
      '—',
      '—',
      '= 1, same token',
      ok ? 'pass' : 'FAIL',
    ]);
  }
  if (server.violations.length > 0) {
    missed++;
    console.error(`bench: the fake server recorded violations:\n  ${server.violations.join('\n  ')}`);
  }
} finally {
  await server.close();
}

// ───────────────────────────── many machines, one Redis ─────────────────────────────
// 5 "machines" (each its own HOME) × 10 processes at expiry, sharing one real redis-server: one
// token request for the fleet. Machine 0 logs in; the others never do.

/** A redis-server of our own on a free loopback port, with a password in a 0600 config file. */
async function startRedis() {
  const hasRedis = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!hasRedis) throw new Error('redis-server not found: install the Debian package redis-server');
  const { createServer } = await import('node:net');
  const port = await new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = probe.address();
      probe.close(() => resolve(p));
    });
  });
  const dir = join(work, 'redis');
  await mkdir(dir, { recursive: true });
  const password = `bench-${Math.random().toString(36).slice(2)}`;
  await writeFile(join(dir, 'redis.conf'), `port ${port}\nbind 127.0.0.1\nrequirepass ${password}\ndir ${dir}\nappendonly yes\nsave ""\nlogfile ""\n`, { mode: 0o600 });
  const child = spawn('redis-server', [join(dir, 'redis.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise((resolve, reject) => {
    let log = '';
    child.stdout.on('data', (d) => {
      log += d;
      if (/Ready to accept connections/.test(log)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`redis-server exited (${code}): ${log}`)));
  });
  return { url: `redis://:${password}@127.0.0.1:${port}`, stop: () => new Promise((resolve) => (child.once('exit', resolve), process.kill(child.pid, 'SIGTERM'))) };
}

async function fleetGets(server, redisUrl, machines, perMachine) {
  const refreshToken = 'bench-rt-fleet';
  server.chartmetric.addRefreshToken(refreshToken);
  const shared = { ...server.env(), TOKENS_STORE: 'redis', TOKENS_REDIS_URL: redisUrl, TOKENS_PASSPHRASE: 'bench passphrase', TOKENS_HTTP_TIMEOUT: '30' };
  const homes = [];
  for (let i = 0; i < machines; i++) homes.push(await newHome(`machine-${i}`));
  const login = await runAsync(['login', 'chartmetric'], { ...baseEnv(homes[0]), ...shared }, `${refreshToken}\n`);
  if (login.code !== 0) throw new Error(`tokens login chartmetric (redis) failed (exit ${login.code}): ${login.stderr.trim()}`);
  // At expiry: the shared token deleted in Redis itself, the one local cache (machine 0's) expired.
  const { Redis } = await import('ioredis');
  const client = new Redis(redisUrl);
  await client.del('tokens:default:chartmetric:token');
  client.disconnect();
  const cached = JSON.parse(await readFile(join(homes[0], '.cache/tokens/default/chartmetric.json'), 'utf8'));
  await writeToken(homes[0], cached.access_token, Date.now() - 1000);

  const before = server.count('chartmetric', '/api/token');
  const start = process.hrtime.bigint();
  const results = await Promise.all(homes.flatMap((h) => Array.from({ length: perMachine }, () => runAsync(['get', 'chartmetric'], { ...baseEnv(h), ...shared }))));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const failed = results.filter((r) => r.code !== 0);
  const tokens = new Set(results.map((r) => r.stdout));
  return {
    requests: server.count('chartmetric', '/api/token') - before,
    failed: failed.length,
    firstError: failed[0]?.stderr.trim(),
    sameToken: failed.length === 0 && tokens.size === 1 && !tokens.has(''),
    seconds,
  };
}

process.stderr.write('measuring 5 machines × 10 gets on one Redis …\n');
const fleetServer = await startProviderServer();
fleetServer.delayMs = 300;
const redisServer = await startRedis();
let fleet;
try {
  fleet = await fleetGets(fleetServer, redisServer.url, 5, 10);
  const ok = fleet.requests === 1 && fleet.sameToken;
  if (!ok) missed++;
  rows.push(['5 machines × 10 gets (redis): token requests', String(fleet.requests), '—', '—', '= 1, same token', ok ? 'pass' : 'FAIL']);
  if (fleetServer.violations.length > 0) {
    missed++;
    console.error(`bench: the fake server recorded violations:\n  ${fleetServer.violations.join('\n  ')}`);
  }
} finally {
  await fleetServer.close();
  await redisServer.stop();
}

// ───────────────────────────── report ─────────────────────────────

const header = ['metric', 'tokens', 'node -e 0', 'ratio', 'target', 'result'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log(line(header));
console.log(widths.map((w) => '─'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
console.log('');
for (const p of parallel) {
  const detail = p.failed > 0 ? `${p.failed} failed (first: ${p.firstError})` : `all exited 0, ${p.sameToken ? 'all printed the same new token' : 'tokens DIFFER'}`;
  console.log(`${p.n} parallel gets: ${p.requests} token request(s), ${p.mints} mint(s), ${detail}, ${p.seconds.toFixed(2)} s (server delay 300 ms)`);
}
{
  const detail = fleet.failed > 0 ? `${fleet.failed} failed (first: ${fleet.firstError})` : `all exited 0, ${fleet.sameToken ? 'all printed the same new token' : 'tokens DIFFER'}`;
  console.log(`5 machines × 10 gets (redis store): ${fleet.requests} token request(s), ${detail}, ${fleet.seconds.toFixed(2)} s (server delay 300 ms)`);
}
const loadAtEnd = loadavg()[0];
console.log(`load average (1 min): ${loadAtStart.toFixed(2)} at the start, ${loadAtEnd.toFixed(2)} at the end${Math.max(loadAtStart, loadAtEnd) > cpus().length ? ' — a busy machine: the wall-time ratios are noisy' : ''}`);
console.log('');
if (missed > 0) {
  console.log(`${missed} target(s) missed${STRICT ? '' : ' (BENCH_STRICT=1 makes that a failure)'}`);
  await rm(work, { recursive: true, force: true });
  process.exit(STRICT ? 1 : 0);
}
console.log('all targets met');
await rm(work, { recursive: true, force: true });
