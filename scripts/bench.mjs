// `npm run bench`: is every everyday form of `tokens` fast enough to call in a loop?
//
// Every row compares two commands run alternately (A, B, A, B, …) so that drift in machine load hits
// both alike: BENCH_RUNS rounds (default 21, at least 15) after 2 warm-up rounds, each command's
// median, min and max wall time, and the ratio of the medians. The rows:
//   - warm `get`, `exec --provider`, `exec` (every configured provider), `status chartmetric`,
//     `--version`, `get --help`                                    vs `node -e 0`
//   - `exec --mask -- cat BIG` (256 MiB), output on a pipe        vs `cat BIG | node -e` a plain relay
//   - `exec --mask -- true`, output on /dev/null and on pipes      vs `node -e 0`
//   - `exec --mask -- true`, output on pipes                       vs `node` doing what staying the
//     parent takes, with no tokens code (MASK_FLOOR); reported, no target
//   - `exec` (every configured provider)                           vs `node` spawning `true` with
//     node:child_process (what a Node program pays to run a command); reported, no target
//   - cold `get chartmetric --force-refresh`, file store           vs `node` + one scrypt of the file
//     store's parameters (the floor of any file-store mint)
//   - the same with the keychain store (gnome-keyring on a private D-Bus session)
//                                                                   vs `node` starting one `node` child
//     (the keychain helper is one more Node start); reported, no target
//   - 50 parallel `get`s at expiry (one refresh, 49 waiters)       vs 50 parallel warm `get`s plus the
//     token endpoint's answer delay; every round must send exactly one token request and print one token
//   - `tokens serve`: a request through it vs straight to the API stand-in (sequential keep-alive
//     requests, medians: at most 1 ms added) and vs `tokens api` (at least 20× cheaper); its start
//     (ready line) vs a warm `get` (≤ 1.5×); its peak RSS with 200 concurrent clients and 1 GiB bodies
//     both ways (under 150 MB)
// plus the peak RSS of the warm `get` and `exec` (GNU time, `/usr/bin/time -f %M`, Debian package
// `time`, in separate interleaved runs so the wrapper's start-up never lands in the wall times).
//
// It runs on a supported Node line (scripts/node-lines.mjs): this Node's when supported, else the
// newest; `npm run bench -- --all-lines` runs it on each line in turn, `--node-line=N` on one. Every
// ratio compares commands run by the same Node binary.
//
// The provider is the tests' own fake server (test/support/servers.ts, bundled on the fly); logins are
// real `tokens login` runs against it. BENCH_ONLY=word,word runs only the rows whose name contains one
// of the words. Exit status is 0 whatever the targets say, unless BENCH_STRICT=1.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NODE_LINES, runScriptUnder, takeLineArgs, whereToRun } from './node-lines.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const { lines: wantedLines } = takeLineArgs(process.argv.slice(2), 'bench: ');
if (wantedLines === 'all') {
  let worst = 0;
  for (const entry of NODE_LINES) {
    console.log(`\n===== Node ${entry.pinned} =====`);
    worst = Math.max(worst, await runScriptUnder(entry, fileURLToPath(import.meta.url), [`--node-line=${entry.line}`]));
  }
  process.exit(worst);
}
const where = whereToRun(wantedLines);
if (where !== 'here') {
  if (wantedLines === undefined)
    console.error(`bench: Node ${process.version} is not a supported line: running on Node ${where.pinned}`);
  process.exit(
    await runScriptUnder(where, fileURLToPath(import.meta.url), [`--node-line=${where.line}`], { prefix: 'bench: ' }),
  );
}

const GNU_TIME = '/usr/bin/time';
const NODE = process.execPath;
const STRICT = process.env.BENCH_STRICT === '1';
const RUNS = benchRuns(process.env.BENCH_RUNS);
const ONLY = (process.env.BENCH_ONLY ?? '').split(',').filter(Boolean);
const WARMUP = 2;
const PARALLEL = 50;
/** The token endpoint's answer delay in the parallel rows: the "answer time" added to the warm wall. */
const ANSWER_DELAY_MS = 100;
const PASSPHRASE = 'bench passphrase';

/** The targets, as ratios to each row's baseline, run by the same Node binary. */
const TARGETS = {
  warmGet: 1.2,
  execProvider: 1.25,
  exec: 1.25,
  status: 1.3,
  version: 1.2,
  help: 1.2,
  coldFile: 1.4,
  parallel: 1.3,
  rss: 1.2,
  /** tokens serve: ms a request through the server adds (median, sequential, keep-alive). */
  serveOverheadMs: 1,
  /** tokens serve: how many times cheaper than the same call with `tokens api`, at least. */
  serveVsApi: 20,
  /** tokens serve: start (ready line) against a warm `tokens get`. */
  serveStart: 1.5,
  /** tokens serve: the server's peak RSS under 200 concurrent clients and 1 GiB bodies, MiB. */
  serveRssMiB: 150,
  maskCopy: 1.3,
  maskTrue: 1.35,
};

function benchRuns(value) {
  if (value === undefined || value === '') return 21;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 15) {
    console.error(`bench: BENCH_RUNS must be a whole number ≥ 15, not ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return n;
}

const wanted = (name) => ONLY.length === 0 || ONLY.some((word) => name.includes(word));

// ───────────────────────────── preconditions ─────────────────────────────

if (!existsSync(GNU_TIME)) {
  console.error(
    `bench: ${GNU_TIME} not found. Peak RSS is measured with GNU time; install the Debian package \`time\` ` +
      '(apt-get install time) and run again.',
  );
  process.exit(2);
}
if (
  !['dist/fast.cjs', 'dist/main.js', 'dist/help.json', 'dist/meta.json'].every((file) => existsSync(join(ROOT, file)))
) {
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
      // help.json is not an esbuild output: without it the fast path would leave help to the full program.
      const missing = [...Object.keys(meta.outputs), 'dist/help.json'].filter((out) => !existsSync(join(app, out)));
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
  await mkdir(home, { recursive: true, mode: 0o700 });
  return home;
}

const cachePath = (home, provider) => join(home, '.cache/tokens/default', `${provider}.json`);

/** Marks the cached entry's shared login as confirmed by the Redis store now (a made-up generation). */
async function confirmSharedLogin(home, provider) {
  const entry = JSON.parse(await readFile(cachePath(home, provider), 'utf8'));
  const confirmed = { ...entry, login: 'b'.repeat(32), login_checked_at: Date.now() };
  await writeFile(cachePath(home, provider), `${JSON.stringify(confirmed)}\n`, { mode: 0o600 });
}

/** Rewrites the cached token with another expiry (as the process that cached it would have). */
async function setExpiry(home, provider, expiresAt) {
  const token = JSON.parse(await readFile(cachePath(home, provider), 'utf8'));
  await writeFile(cachePath(home, provider), `${JSON.stringify({ ...token, expires_at: expiresAt })}\n`, {
    mode: 0o600,
  });
  return token.access_token;
}

/**
 * Runs argv to its end with stdio going nowhere: { status, signal }. Asynchronously, never with
 * spawnSync: the fake provider server runs in this process and must go on answering meanwhile.
 */
/** One run with stdout and stderr on /dev/null, or (`pipes`) on pipes read to their end, as a CI runner reads them. */
function spawnQuiet(argv, env, pipes = false) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { env, stdio: pipes ? ['ignore', 'pipe', 'pipe'] : 'ignore' });
    child.on('error', reject);
    if (pipes) for (const stream of [child.stdout, child.stderr]) stream.resume();
    child.on(pipes ? 'close' : 'exit', (status, signal) => resolve({ status, signal }));
  });
}

/** A measured run failed: show what it says when run once more, and stop. */
async function fail(cmd, r) {
  const again = await new Promise((resolve) => {
    const child = spawn(cmd.argv[0], cmd.argv.slice(1), { env: cmd.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    child.on('error', (error) => resolve({ code: error.message, stderr }));
    child.on('close', (code, signal) => resolve({ code: code ?? signal, stderr }));
  });
  console.error(`bench: ${cmd.label} exited with ${r.status ?? r.signal}; a rerun exited with ${again.code}:`);
  console.error(`${again.stderr}`.trim());
  process.exit(1);
}

/** One run, wall time in ms. stdout/stderr go nowhere; a failing run stops the bench. */
async function wallRun(cmd) {
  const start = process.hrtime.bigint();
  const r = await spawnQuiet(cmd.argv, cmd.env, cmd.pipes);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) await fail(cmd, r);
  return ms;
}

/** One run under GNU time, peak RSS in KiB. */
const rssFile = join(work, 'rss.txt');
async function rssRun(cmd) {
  const r = await spawnQuiet([GNU_TIME, '-f', '%M', '-o', rssFile, ...cmd.argv], cmd.env);
  if (r.status !== 0) await fail(cmd, r);
  const kib = Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1));
  if (!Number.isFinite(kib) || kib <= 0)
    throw new Error(`could not read the peak RSS of ${cmd.label} from ${GNU_TIME}`);
  return kib;
}

function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, min: s[0], max: s.at(-1) };
}

/** A and B alternated: warm-up rounds first (discarded), then RUNS rounds; each round's `measure` gives A's and B's figure. */
async function alternate(measureA, measureB) {
  for (let i = 0; i < WARMUP; i++) {
    await measureA();
    await measureB();
  }
  const a = [];
  const b = [];
  for (let i = 0; i < RUNS; i++) {
    a.push(await measureA());
    b.push(await measureB());
  }
  return { a: stats(a), b: stats(b) };
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
console.log(
  `tokens ${pkg.version} bench — ${RUNS} rounds per row (+${WARMUP} warm-up), A and B alternating; median (min–max); stdio → /dev/null`,
);
console.log(
  `machine: ${cpuModel()}, nproc ${cpus().length}, node ${process.version}, ${process.platform}/${process.arch}`,
);
const loadAtStart = loadavg()[0];
console.log('');

// ───────────────────────────── the fake provider, logins ─────────────────────────────

/** A test/support module, bundled on the fly so the bench uses the very code the tests use. */
async function loadSupport(name) {
  const { build } = await import('esbuild');
  const outfile = join(work, `${name}.mjs`);
  await build({
    absWorkingDir: ROOT,
    entryPoints: [`test/support/${name}.ts`],
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

async function mustRun(args, env, input) {
  const r = await runAsync(args, env, input);
  if (r.code !== 0) throw new Error(`tokens ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r;
}

const { startProviderServer } = await loadSupport('servers');
const server = await startProviderServer({
  chartmetric: { refreshTokens: ['bench-cm-rt'] },
  soundcloud: {
    clients: [
      { clientId: 'bench-client', clientSecret: 'bench-scl-secret', redirectUris: ['http://127.0.0.1:9/callback'] },
    ],
  },
});

/** A HOME logged in to Chartmetric (and SoundCloud, app-only) with the file store: both tokens cached. */
async function fileStoreHome(name) {
  const home = await newHome(name);
  const env = {
    ...baseEnv(home),
    ...server.env(),
    TOKENS_STORE: 'file',
    TOKENS_PASSPHRASE: PASSPHRASE,
    TOKENS_HTTP_TIMEOUT: '30',
  };
  await mustRun(['login', 'chartmetric'], { ...env, TOKENS_CHARTMETRIC_REFRESH_TOKEN: 'bench-cm-rt' });
  await mustRun(['login', 'soundcloud', '--client-credentials', '--client-id', 'bench-client'], {
    ...env,
    TOKENS_SOUNDCLOUD_CLIENT_SECRET: 'bench-scl-secret',
  });
  // An app-only login caches no token; the first get does.
  await mustRun(['get', 'soundcloud'], env);
  return { home, env };
}

// ───────────────────────────── the rows ─────────────────────────────

const rows = [];
const notes = [];
let missed = 0;
const fmt = (s, unit) => `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)}) ${unit}`;
function addRow(name, a, b, baselineLabel, target, unit = 'ms', extra = 0) {
  const ratio = a.median / (b.median + extra);
  const pass = target === undefined ? undefined : ratio <= target;
  if (pass === false) missed++;
  const row = [
    name,
    fmt(a, unit),
    `${fmt(b, unit)}${extra ? ` + ${extra} ms` : ''}`,
    baselineLabel,
    `${ratio.toFixed(2)}×`,
    target === undefined ? '—' : `≤ ${target.toFixed(2)}×`,
    pass === undefined ? 'info' : pass ? 'pass' : 'FAIL',
  ];
  rows.push(row);
  // Each row as soon as it is measured (a long run on a busy machine still leaves its figures).
  process.stderr.write(`  ${row.join(' | ')}\n`);
}

const tokens = (env, ...args) => ({ label: `tokens ${args.join(' ')}`, argv: [NODE, BIN, ...args], env });
const nodeBaseline = (env) => ({ label: 'node -e 0', argv: [NODE, '-e', '0'], env });

async function startupRows() {
  if (!['startup', 'warm', 'exec', 'status', 'version', 'help'].some(wanted)) return;
  const { home, env } = await fileStoreHome('warm');
  const check = await runAsync(['get', 'chartmetric'], env);
  const cached = JSON.parse(await readFile(cachePath(home, 'chartmetric'), 'utf8'));
  if (check.code !== 0 || check.stdout !== `${cached.access_token}\n`) {
    throw new Error(
      `warm \`tokens get chartmetric\` did not print the cached token (exit ${check.code}): ${check.stderr}`,
    );
  }
  const node = nodeBaseline(env);
  const scenarios = [
    { name: 'warm get chartmetric', cmd: tokens(env, 'get', 'chartmetric'), target: TARGETS.warmGet, rss: true },
    // The Redis store, pointed at a port where nothing listens: the warm get must not contact it (if
    // it did, it would fail, and so would the bench). Its entry carries a shared login the store
    // confirmed just now, as the full program records it (src/files/cache.ts, LOGIN_CHECK_MS): the
    // confirmation is renewed before the row, so the whole row runs inside the window.
    {
      name: 'warm get chartmetric (redis store)',
      prepare: () => confirmSharedLogin(home, 'chartmetric'),
      cmd: tokens(
        { ...env, TOKENS_STORE: 'redis', TOKENS_REDIS_URL: 'redis://:bench@127.0.0.1:9' },
        'get',
        'chartmetric',
      ),
      target: TARGETS.warmGet,
    },
    {
      name: 'exec --provider chartmetric -- true',
      cmd: tokens(env, 'exec', '--provider', 'chartmetric', '--', 'true'),
      target: TARGETS.execProvider,
      rss: true,
    },
    { name: 'exec -- true (2 configured providers)', cmd: tokens(env, 'exec', '--', 'true'), target: TARGETS.exec },
    { name: 'status chartmetric', cmd: tokens(env, 'status', 'chartmetric'), target: TARGETS.status },
    { name: '--version', cmd: tokens(env, '--version'), target: TARGETS.version },
    { name: 'get --help', cmd: tokens(env, 'get', '--help'), target: TARGETS.help },
  ];
  // What a Node program pays on top of its start to run a command the usual way: loading
  // node:child_process (tokens exec does without it: src/commands/start-child.ts), forking and
  // waiting for the child. Reported beside the exec rows (no target), to read their ratio against.
  const spawnFloor = {
    label: 'node spawning true',
    argv: [
      NODE,
      '-e',
      "require('node:child_process').spawn('true', { stdio: 'inherit' }).on('exit', (c) => process.exit(c))",
    ],
    env,
  };
  if (wanted('startup') || wanted('exec')) {
    process.stderr.write(`measuring tokens exec -- true vs ${spawnFloor.label} …\n`);
    const wall = await alternate(
      () => wallRun(tokens(env, 'exec', '--', 'true')),
      () => wallRun(spawnFloor),
    );
    addRow('exec -- true (2 configured providers), wall', wall.a, wall.b, spawnFloor.label, undefined);
  }
  for (const s of scenarios.filter((x) => wanted('startup') || wanted(x.name))) {
    await s.prepare?.();
    process.stderr.write(`measuring ${s.cmd.label} vs node -e 0 …\n`);
    const wall = await alternate(
      () => wallRun(s.cmd),
      () => wallRun(node),
    );
    addRow(`${s.name}, wall`, wall.a, wall.b, 'node -e 0', s.target);
    if (s.rss) {
      const rss = await alternate(
        async () => (await rssRun(s.cmd)) / 1024,
        async () => (await rssRun(node)) / 1024,
      );
      addRow(`${s.name}, peak RSS`, rss.a, rss.b, 'node -e 0', TARGETS.rss, 'MiB');
    }
  }
}

/**
 * What `exec --mask` on pipes cannot do without, as a plain Node script: load node:child_process,
 * start a stopped shell in the process group (the signal witness) that makes two pipes, open them
 * through /proc once it has stopped, let it close its ends and stop again, run `true` on them and
 * read them to their end. The contract's exactly-once signals and real pipes, and nothing else.
 */
const MASK_FLOOR = `
const { spawn } = require('node:child_process');
const { openSync, readFileSync, closeSync, constants } = require('node:fs');
const { Socket } = require('node:net');
const script = 'trap : INT QUIT TERM HUP USR1 USR2; exec 3<<E\\nE\\nexec 4<<E\\nE\\nkill -STOP $$; exec 3<&- 4<&-; ' +
  'while kill -0 $PPID 2>/dev/null; do kill -STOP $$; done';
const sh = spawn('/bin/sh', ['-c', script], { stdio: 'ignore', env: {} });
const stopped = () => new Promise((resolve) => {
  const poll = () => (/^State:\\s+T/m.test(readFileSync('/proc/' + sh.pid + '/status', 'utf8')) ? resolve() : setTimeout(poll, 1));
  poll();
});
(async () => {
  await stopped();
  const ends = [3, 4].map((fd) => {
    const path = '/proc/' + sh.pid + '/fd/' + fd;
    return { read: openSync(path, constants.O_RDONLY | constants.O_NONBLOCK), write: openSync(path, constants.O_WRONLY) };
  });
  process.kill(sh.pid, 'SIGCONT');
  await stopped();
  spawn('true', [], { stdio: ['inherit', ends[0].write, ends[1].write] });
  for (const end of ends) closeSync(end.write);
  let open = ends.length;
  for (const end of ends)
    new Socket({ fd: end.read, readable: true, writable: false }).resume().on('end', () => --open === 0 && sh.kill('SIGKILL'));
})();
`;

/**
 * exec --mask: relaying 256 MiB through the masker vs a plain Node relay of the same bytes, and the
 * start of a masking exec vs `node -e 0`. The warm cache is all exec needs, so these run without
 * TOKENS_PASSPHRASE, as with TOKENS_PASSPHRASE_FILE or the keychain: tokens relays in-process. With
 * the passphrase in its environment tokens becomes the supervisor, a second Node start (the clean
 * parent, src/commands/exec-child.ts): reported beside them, no target.
 */
async function maskRows() {
  const { env: fileEnv } = await fileStoreHome('mask');
  const { TOKENS_PASSPHRASE: _, ...env } = fileEnv;
  const big = join(work, 'big.bin');
  const size = 256 * 1024 * 1024;
  const made = spawnSync('head', ['-c', String(size), '/dev/urandom'], {
    stdio: ['ignore', openSync(big, 'w'), 'inherit'],
  });
  if (made.status !== 0) throw new Error('could not write the 256 MiB file');
  const exec = (e, ...command) => tokens(e, 'exec', '--mask', '--provider', 'chartmetric', '--', ...command);
  const relay = {
    label: "cat BIG | node -e 'process.stdin.pipe(process.stdout)'",
    argv: ['sh', '-c', `cat "$1" | "$2" -e 'process.stdin.pipe(process.stdout)'`, 'sh', big, NODE],
    env,
  };
  const node = nodeBaseline(env);
  const rowsToRun = [
    // Read from a pipe by the bench, as a CI runner reads a job's output: /dev/null would be no
    // stream to relay (tokens would become `cat`).
    {
      name: 'exec --mask -- cat BIG (256 MiB), output on a pipe',
      cmd: { ...exec(env, 'cat', big), pipes: true },
      base: { ...relay, pipes: true },
      target: TARGETS.maskCopy,
    },
    // Output to /dev/null: nothing to relay, so tokens becomes the command (src/commands/exec-child.ts).
    { name: 'exec --mask -- true (output to /dev/null)', cmd: exec(env, 'true'), base: node, target: TARGETS.maskTrue },
    // Output on pipes, as in CI: tokens stays the parent and relays them through the masker.
    {
      name: 'exec --mask -- true (output on pipes, relayed)',
      cmd: { ...exec(env, 'true'), pipes: true },
      base: { ...node, pipes: true },
      target: TARGETS.maskTrue,
    },
    // The same against its floor: what staying the parent with a witness and real pipes costs Node alone.
    {
      name: 'exec --mask -- true (output on pipes, relayed) vs its floor',
      cmd: { ...exec(env, 'true'), pipes: true },
      base: {
        label: 'node: the witness, its pipes and true (no tokens code)',
        argv: [NODE, '-e', MASK_FLOOR],
        env,
        pipes: true,
      },
    },
    {
      name: 'exec --mask -- true, TOKENS_PASSPHRASE set (supervised, output on pipes)',
      cmd: { ...exec(fileEnv, 'true'), pipes: true },
      base: { ...node, pipes: true },
    },
  ];
  for (const r of rowsToRun) {
    process.stderr.write(`measuring ${r.cmd.label} vs ${r.base.label} …\n`);
    const wall = await alternate(
      () => wallRun(r.cmd),
      () => wallRun(r.base),
    );
    addRow(`${r.name}, wall`, wall.a, wall.b, r.base.label, r.target);
  }
}

/** `node` deriving one key with the file store's KDF parameters (read from the secrets file). */
async function scryptBaseline(env, home) {
  const envelope = JSON.parse(await readFile(join(home, '.local/share/tokens/secrets.enc'), 'utf8'));
  const { N, r, p, salt } = envelope.kdf;
  const script = `require('node:crypto').scrypt('${PASSPHRASE}', Buffer.from('${salt}', 'base64'), 32, { N: ${N}, r: ${r}, p: ${p}, maxmem: ${256 * N * r + 16 * 1024 * 1024} }, (e) => { if (e) throw e; })`;
  return { label: 'node + one scrypt', argv: [NODE, '-e', script], env };
}

async function coldFileRow() {
  const { home, env } = await fileStoreHome('cold-file');
  const cmd = tokens(env, 'get', 'chartmetric', '--force-refresh');
  const floor = await scryptBaseline(env, home);
  process.stderr.write(`measuring ${cmd.label} (file store) vs ${floor.label} …\n`);
  const before = server.count('chartmetric', '/api/token');
  const wall = await alternate(
    () => wallRun(cmd),
    () => wallRun(floor),
  );
  const requests = server.count('chartmetric', '/api/token') - before;
  if (requests !== RUNS + WARMUP)
    throw new Error(`expected ${RUNS + WARMUP} token requests from the cold gets, saw ${requests}`);
  addRow('cold get --force-refresh, file store, wall', wall.a, wall.b, floor.label, TARGETS.coldFile);
}

async function coldKeychainRow() {
  const { startSecretService } = await loadSupport('secret-service');
  const home = await newHome('cold-keychain');
  const service = await startSecretService(home);
  try {
    const env = { ...baseEnv(home), ...service.env, ...server.env(), TOKENS_HTTP_TIMEOUT: '30' };
    await mustRun(['login', 'chartmetric'], { ...env, TOKENS_CHARTMETRIC_REFRESH_TOKEN: 'bench-cm-rt' });
    const cmd = tokens(env, 'get', 'chartmetric', '--force-refresh');
    const floor = {
      label: 'node starting node -e 0',
      argv: [NODE, '-e', `require('node:child_process').spawnSync(process.execPath, ['-e', '0'])`],
      env,
    };
    process.stderr.write(`measuring ${cmd.label} (keychain store) vs ${floor.label} …\n`);
    const wall = await alternate(
      () => wallRun(cmd),
      () => wallRun(floor),
    );
    addRow('cold get --force-refresh, keychain store, wall', wall.a, wall.b, floor.label, undefined);
  } finally {
    await service.stop();
  }
}

/** Starts n `tokens get chartmetric` at once; the wall time until all have ended, and what they printed. */
async function batch(n, env) {
  const start = process.hrtime.bigint();
  const results = await Promise.all(Array.from({ length: n }, () => runAsync(['get', 'chartmetric'], env)));
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const failed = results.filter((r) => r.code !== 0);
  if (failed.length > 0)
    throw new Error(`${failed.length} of ${n} parallel gets failed; first: ${failed[0].stderr.trim()}`);
  return { ms, printed: new Set(results.map((r) => r.stdout)) };
}

async function parallelRow() {
  const { home, env } = await fileStoreHome('parallel');
  server.delayMs = ANSWER_DELAY_MS;
  let rounds = 0;
  const warm = async () => {
    await setExpiry(home, 'chartmetric', Date.now() + 3600_000);
    const { ms, printed } = await batch(PARALLEL, env);
    if (printed.size !== 1) throw new Error('the warm parallel gets printed different tokens');
    return ms;
  };
  const expired = async () => {
    const old = await setExpiry(home, 'chartmetric', Date.now() - 1000);
    const before = server.count('chartmetric', '/api/token');
    const { ms, printed } = await batch(PARALLEL, env);
    const requests = server.count('chartmetric', '/api/token') - before;
    if (requests !== 1 || printed.size !== 1 || printed.has(`${old}\n`) || printed.has('')) {
      throw new Error(
        `${PARALLEL} parallel gets at expiry: ${requests} token request(s), ${printed.size} different output(s); expected 1 request and one new token`,
      );
    }
    rounds++;
    return ms;
  };
  process.stderr.write(`measuring ${PARALLEL} parallel gets at expiry vs ${PARALLEL} parallel warm gets …\n`);
  try {
    const wall = await alternate(expired, warm);
    addRow(
      `${PARALLEL} parallel gets at expiry, wall`,
      wall.a,
      wall.b,
      `${PARALLEL} warm + answer delay`,
      TARGETS.parallel,
      'ms',
      ANSWER_DELAY_MS,
    );
    notes.push(
      `${PARALLEL} parallel gets at expiry: ${rounds} rounds, each exactly 1 token request and one new token printed by all ${PARALLEL}; token endpoint delay ${ANSWER_DELAY_MS} ms`,
    );
  } finally {
    server.delayMs = 0;
  }
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
  await writeFile(
    join(dir, 'redis.conf'),
    `port ${port}\nbind 127.0.0.1\nrequirepass ${password}\ndir ${dir}\nappendonly yes\nsave ""\nlogfile ""\n`,
    { mode: 0o600 },
  );
  const child = spawn('redis-server', [join(dir, 'redis.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise((resolve, reject) => {
    let log = '';
    child.stdout.on('data', (d) => {
      log += d;
      if (/Ready to accept connections/.test(log)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`redis-server exited (${code}): ${log}`)));
  });
  return {
    url: `redis://:${password}@127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => (child.once('exit', resolve), process.kill(child.pid, 'SIGTERM'))),
  };
}

async function fleetGets(server, redisUrl, machines, perMachine) {
  const refreshToken = 'bench-rt-fleet';
  server.chartmetric.addRefreshToken(refreshToken);
  const shared = {
    ...server.env(),
    TOKENS_STORE: 'redis',
    TOKENS_REDIS_URL: redisUrl,
    TOKENS_PASSPHRASE: 'bench passphrase',
    TOKENS_HTTP_TIMEOUT: '30',
  };
  const homes = [];
  for (let i = 0; i < machines; i++) homes.push(await newHome(`machine-${i}`));
  const login = await runAsync(['login', 'chartmetric'], { ...baseEnv(homes[0]), ...shared }, `${refreshToken}\n`);
  if (login.code !== 0)
    throw new Error(`tokens login chartmetric (redis) failed (exit ${login.code}): ${login.stderr.trim()}`);
  // At expiry: the shared token deleted in Redis itself, the one local cache (machine 0's) expired.
  const { Redis } = await import('ioredis');
  const client = new Redis(redisUrl);
  await client.del('tokens:default:chartmetric:token');
  client.disconnect();
  await setExpiry(homes[0], 'chartmetric', Date.now() - 1000);

  const before = server.count('chartmetric', '/api/token');
  const start = process.hrtime.bigint();
  const results = await Promise.all(
    homes.flatMap((h) =>
      Array.from({ length: perMachine }, () => runAsync(['get', 'chartmetric'], { ...baseEnv(h), ...shared })),
    ),
  );
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

async function fleetRow() {
  process.stderr.write('measuring 5 machines × 10 gets on one Redis …\n');
  const fleetServer = await startProviderServer();
  fleetServer.delayMs = 300;
  const redisServer = await startRedis();
  try {
    const fleet = await fleetGets(fleetServer, redisServer.url, 5, 10);
    const ok = fleet.requests === 1 && fleet.sameToken;
    if (!ok) missed++;
    rows.push([
      '5 machines × 10 gets (redis): token requests',
      String(fleet.requests),
      '—',
      '—',
      '—',
      '= 1, same token',
      ok ? 'pass' : 'FAIL',
    ]);
    const detail =
      fleet.failed > 0
        ? `${fleet.failed} failed (first: ${fleet.firstError})`
        : `all exited 0, ${fleet.sameToken ? 'all printed the same new token' : 'tokens DIFFER'}`;
    notes.push(
      `5 machines × 10 gets (redis store): ${fleet.requests} token request(s), ${detail}, ${fleet.seconds.toFixed(2)} s (server delay 300 ms)`,
    );
    if (fleetServer.violations.length > 0) {
      missed++;
      notes.push(`the fake server recorded violations:\n  ${fleetServer.violations.join('\n  ')}`);
    }
  } finally {
    await fleetServer.close();
    await redisServer.stop();
  }
}

// ───────────────────────────── tokens serve ─────────────────────────────
// The server against the fake Chartmetric API it fronts: what a request through it adds (sequential
// keep-alive requests, median), against `tokens api` for the same call, its start against a warm
// `get`, and its peak RSS (VmHWM) after 200 concurrent clients and 1 GiB bodies down and up.

/** `tokens serve` started; resolves once its ready lines are out, with its URLs and pid. */
function startServe(env, args = []) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(NODE, [BIN, 'serve', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const m = /^export TOKENS_SERVE_URL='([^']*)'$/m.exec(out);
      if (!m) return;
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      const api = /^export CHARTMETRIC_API_URL='([^']*)'$/m.exec(out)?.[1];
      resolve({
        ms,
        api,
        pid: child.pid,
        stop: () => new Promise((done) => (child.once('exit', done), child.kill('SIGTERM'))),
      });
    });
    child.on('exit', (code) => reject(new Error(`tokens serve exited (${code}) before it was ready: ${err.trim()}`)));
  });
}

/** One GET with a keep-alive agent; resolves with the wall ms once the body is read. */
async function timedGet(http, agent, url, headers = {}) {
  const start = process.hrtime.bigint();
  await new Promise((resolve, reject) => {
    http
      .get(url, { agent, headers }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`GET ${new URL(url).pathname}: ${res.statusCode}`));
        res.resume();
        res.on('end', resolve);
      })
      .on('error', reject);
  });
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Median ms of `n` sequential keep-alive GETs of `url`. */
async function sequentialMedian(http, url, headers = {}, n = 200) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const times = [];
    for (let i = 0; i < n; i++) times.push(await timedGet(http, agent, url, headers));
    return stats(times).median;
  } finally {
    agent.destroy();
  }
}

function peakRssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)[1]) / 1024;
}

/** `tokens serve --background` started; resolves once it has printed its lines, with its URL and the server's pid. */
async function startBackgroundServe(env, args) {
  const r = await runAsync(['serve', '--background', ...args], env);
  const api = /^export CHARTMETRIC_API_URL='([^']*)'$/m.exec(r.stdout)?.[1];
  const pid = Number(/^export TOKENS_SERVE_PID='?(\d+)'?$/m.exec(r.stdout)?.[1]);
  if (r.code !== 0 || !api || !pid) throw new Error(`tokens serve --background failed (${r.code}): ${r.stderr}`);
  return {
    api,
    pid,
    stop: async () => {
      process.kill(pid, 'SIGTERM');
      while (existsSync(`/proc/${pid}`)) await new Promise((resolve) => setTimeout(resolve, 20));
    },
  };
}

/** 200 concurrent GETs, then 1 GiB down and 1 GiB up through a server; its peak RSS along the way. */
async function scale(http, served, path) {
  const statuses = await Promise.all(
    Array.from(
      { length: 200 },
      () =>
        new Promise((resolve, reject) => {
          http
            .get(`${served.api}${path}`, { agent: false }, (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode));
            })
            .on('error', reject);
        }),
    ),
  );
  const all200 = statuses.every((status) => status === 200);
  const afterClients = peakRssMiB(served.pid);
  const down = await new Promise((resolve, reject) => {
    http
      .get(`${served.api}/large?size=${GiB}`, { agent: false }, (res) => {
        let size = 0;
        res.on('data', (chunk) => (size += chunk.length));
        res.on('end', () => resolve(size));
      })
      .on('error', reject);
  });
  const afterDown = peakRssMiB(served.pid);
  const up = await new Promise((resolve, reject) => {
    const req = http.request(`${served.api}/echo`, { method: 'PUT', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => (text += d));
      res.on('end', () => resolve(JSON.parse(text).size));
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(1024 * 1024, 121);
    let sent = 0;
    const pump = () => {
      while (sent < 1024) {
        sent++;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
  return { all200, afterClients, afterDown, down, up, peak: peakRssMiB(served.pid) };
}

const GiB = 1024 ** 3;

function scaleRow(name, { all200, afterClients, afterDown, down, up, peak }) {
  const ok = all200 && down === GiB && up === GiB && peak < TARGETS.serveRssMiB;
  if (!ok) missed++;
  rows.push([
    name,
    `${peak.toFixed(1)} MiB (${afterClients.toFixed(1)} after the clients, ${afterDown.toFixed(1)} after 1 GiB down)`,
    '—',
    '—',
    '—',
    `< ${TARGETS.serveRssMiB} MiB`,
    ok ? 'pass' : 'FAIL',
  ]);
  process.stderr.write(`  ${rows.at(-1).join(' | ')}\n`);
  notes.push(
    `${name.split(':')[0]}: 200 concurrent clients ${all200 ? 'all answered 200' : 'NOT all 200'}; ${down} bytes down, ${up} bytes up through the server`,
  );
}

async function serveRows() {
  const http = await import('node:http');
  const { startFakeApis } = await loadSupport('servers');
  const apis = await startFakeApis(server);
  const { home, env: loggedIn } = await fileStoreHome('serve');
  const env = { ...loggedIn, ...apis.env() };
  const path = '/api/artist/206557';
  const direct = `${apis.env().TOKENS_CHARTMETRIC_API_URL}${path}`;
  const served = await startServe(env, ['--provider', 'chartmetric']);
  const through = `${served.api}${path}`;
  // The stand-in accepts the live token only: straight requests carry the one the server uses.
  const cached = JSON.parse(await readFile(cachePath(home, 'chartmetric'), 'utf8'));
  const bearer = { authorization: `Bearer ${cached.access_token}` };
  try {
    if (wanted('serve-overhead')) {
      process.stderr.write('measuring a request through tokens serve vs straight to the API stand-in …\n');
      const wall = await alternate(
        () => sequentialMedian(http, through),
        () => sequentialMedian(http, direct, bearer),
      );
      const added = wall.a.median - wall.b.median;
      const ok = added <= TARGETS.serveOverheadMs;
      if (!ok) missed++;
      rows.push([
        'serve: request through the server (median of 200 sequential, keep-alive)',
        fmt(wall.a, 'ms'),
        fmt(wall.b, 'ms'),
        'straight to the stand-in',
        `+${added.toFixed(3)} ms`,
        `≤ +${TARGETS.serveOverheadMs} ms`,
        ok ? 'pass' : 'FAIL',
      ]);
      process.stderr.write(`  ${rows.at(-1).join(' | ')}\n`);
    }
    if (wanted('serve-vs-api')) {
      process.stderr.write('measuring tokens api vs a request through tokens serve …\n');
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const wall = await alternate(
        () => wallRun(tokens(env, 'api', 'chartmetric', path)),
        () => timedGet(http, agent, through),
      );
      agent.destroy();
      const times = wall.a.median / wall.b.median;
      const ok = times >= TARGETS.serveVsApi;
      if (!ok) missed++;
      rows.push([
        'serve: request through the server vs tokens api',
        fmt(wall.b, 'ms'),
        fmt(wall.a, 'ms'),
        `tokens api chartmetric ${path}`,
        `${times.toFixed(0)}× cheaper`,
        `≥ ${TARGETS.serveVsApi}× cheaper`,
        ok ? 'pass' : 'FAIL',
      ]);
      process.stderr.write(`  ${rows.at(-1).join(' | ')}\n`);
    }
    if (wanted('serve-start')) {
      process.stderr.write('measuring tokens serve (to its ready line) vs a warm tokens get …\n');
      const wall = await alternate(
        async () => {
          const s = await startServe(env, ['--provider', 'chartmetric']);
          await s.stop();
          return s.ms;
        },
        () => wallRun(tokens(env, 'get', 'chartmetric')),
      );
      addRow('serve: start, until the ready line', wall.a, wall.b, 'warm get chartmetric', TARGETS.serveStart);
    }
    if (wanted('serve-scale')) {
      process.stderr.write('measuring tokens serve with 200 concurrent clients and 1 GiB bodies both ways …\n');
      scaleRow(
        'serve: peak RSS, 200 concurrent clients, then 1 GiB down and 1 GiB up',
        await scale(http, served, path),
      );
      // The server tokens starts itself (--background, as exec --serve's), under the same load.
      const background = await startBackgroundServe(env, ['--provider', 'chartmetric']);
      try {
        scaleRow(
          'serve --background (as exec --serve starts it): peak RSS, the same load',
          await scale(http, background, path),
        );
      } finally {
        await background.stop();
      }
    }
    if (apis.violations().length > 0) {
      missed++;
      notes.push(`the fake APIs recorded violations:\n  ${apis.violations().join('\n  ')}`);
    }
  } finally {
    await served.stop();
    await apis.close();
  }
}

try {
  await startupRows();
  if (['serve-overhead', 'serve-vs-api', 'serve-start', 'serve-scale'].some(wanted)) await serveRows();
  if (wanted('mask')) await maskRows();
  if (wanted('cold-file')) await coldFileRow();
  if (wanted('cold-keychain')) await coldKeychainRow();
  if (wanted('parallel')) await parallelRow();
  if (wanted('redis-fleet')) await fleetRow();
  if (server.violations.length > 0) {
    missed++;
    notes.push(`the fake server recorded violations:\n  ${server.violations.join('\n  ')}`);
  }
} finally {
  await server.close();
}

// ───────────────────────────── report ─────────────────────────────

const header = [
  'form',
  'tokens: median (min–max)',
  'baseline: median (min–max)',
  'baseline',
  'ratio',
  'target',
  'result',
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) =>
  cells.map((c, i) => (i === 0 || i === 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log(`Node ${process.version}`);
console.log(line(header));
console.log(widths.map((w) => '─'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
console.log('');
for (const note of notes) console.log(note);
const loadAtEnd = loadavg()[0];
console.log(
  `load average (1 min): ${loadAtStart.toFixed(2)} at the start, ${loadAtEnd.toFixed(2)} at the end${Math.max(loadAtStart, loadAtEnd) > cpus().length ? ' — a busy machine: the wall-time ratios are noisy' : ''}`,
);
console.log('');
if (missed > 0) {
  console.log(`${missed} target(s) missed${STRICT ? '' : ' (BENCH_STRICT=1 makes that a failure)'}`);
  process.exit(STRICT ? 1 : 0);
}
console.log('all targets met');
