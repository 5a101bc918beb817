// `tokens exec --mask`: what the command prints into pipes and files reaches them with every token
// tokens handed it replaced by `***`; a terminal is left alone; the bytes, the streams, the exit
// status and `| head -1` are as without tokens. And the clean parent (issue 22): while the command
// runs, its parent process holds no withheld secret in its environment or arguments.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, Sandbox } from '../support/cli.js';
import { ANSWERING_PTY } from '../support/pty.js';
import { RedisServer } from '../support/redis.js';
import { startFakeApis, type FakeApis } from '../support/servers.js';
import { login, secretsSeen, useWorlds } from '../support/worlds.js';

const PASSPHRASE = 'exec mask passphrase 3f9a';
const { loggedIn, world } = useWorlds({ passphrase: PASSPHRASE });

/** A token long enough to be recognised anywhere, with characters that percent-encoding changes. */
const TOKEN = 'cm_tok_8d1f0b7e+a/9c2e44f1==';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await Sandbox.create();
  const dir = join(sandbox.home, '.cache/tokens/default');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(
    join(dir, 'chartmetric.json'),
    JSON.stringify({ access_token: TOKEN, token_type: 'bearer', expires_at: Date.now() + 3600_000 }),
    { mode: 0o600 },
  );
});
afterAll(async () => sandbox.dispose());

/** Every captured output holds none of these values, in any of the forms a masker covers. */
function expectClean(outputs: string[], secrets: string[]): void {
  for (const output of outputs) {
    for (const secret of secrets) {
      for (const form of [secret, encodeURIComponent(secret)]) {
        expect(output.includes(form), `an output holds ${form.slice(0, 8)}…`).toBe(false);
      }
    }
  }
}

const exec = (args: string[]) => [BIN, 'exec', '--provider', 'chartmetric', ...args];

/** Runs `node BIN exec --provider chartmetric ARGS` with stdin, stdout and stderr on pipes. */
function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: Buffer; stderr: Buffer }> {
  const child = spawn(process.execPath, exec(args), { env: { ...sandbox.baseEnv(), ...env } });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => err.push(d));
  child.stdin.end();
  return new Promise((resolve) =>
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err) })),
  );
}

describe('exec --mask', () => {
  it('under CI=true, a `set -x` script calling curl: the log shows *** where the token was, and the API got it', {
    timeout: 120_000,
  }, async () => {
    const w = await loggedIn('chartmetric');
    const apis: FakeApis = await startFakeApis(w.server);
    try {
      const script = join(w.sandbox.home, 'job.sh');
      await writeFile(
        script,
        [
          '#!/bin/bash',
          'set -x',
          'curl -sS -H "Authorization: $CHARTMETRIC_AUTHORIZATION" "$TOKENS_CHARTMETRIC_API_URL/api/artist/206557"',
          'echo',
          'token="$CHARTMETRIC_ACCESS_TOKEN"',
          'env | grep ^CHARTMETRIC_',
          'exit 3',
          '',
        ].join('\n'),
      );
      await chmod(script, 0o755);
      const result = await w.run(['exec', '--provider', 'chartmetric', '--', script], {
        env: { ...apis.env(), CI: 'true' },
      });
      expect(result.code, result.stderr).toBe(3);
      // The API was called with the live token, so the script did have it.
      const used = apis.chartmetric.requests.map((r) => r.token).filter((t): t is string => Boolean(t));
      expect(used.length).toBeGreaterThan(0);
      expect(result.stdout).toContain('Fake Artist');
      expect(result.stderr).toMatch(/\+ curl -sS -H 'Authorization: \*\*\*'/);
      expect(result.stdout).toContain('CHARTMETRIC_ACCESS_TOKEN=***');
      expectClean([result.stdout, result.stderr], [...used, ...secretsSeen(w)]);
      // Every output of the world (login's included); the token cache is the one file meant to hold them.
      expectClean(w.sandbox.outputs, [...used, ...secretsSeen(w)]);
      expect(await w.sandbox.findSecrets(secretsSeen(w))).toEqual([]);
    } finally {
      await apis.close();
    }
  });

  it('a token written one byte at a time with pauses is masked; other output is not held back', {
    timeout: 60_000,
  }, async () => {
    // The child writes a prompt, waits for a line on stdin (which arrives only once the prompt has
    // been relayed: no buffering), then writes the token byte by byte.
    const child = spawn(
      process.execPath,
      exec([
        '--mask',
        '--',
        process.execPath,
        '-e',
        `const fs = require('node:fs');
         fs.writeSync(1, 'prompt> ');
         process.stdin.once('data', async () => {
           const t = process.env.CHARTMETRIC_ACCESS_TOKEN;
           fs.writeSync(1, 'got: [');
           for (const c of t) { fs.writeSync(1, c); await new Promise((r) => setTimeout(r, 15)); }
           fs.writeSync(1, '] cm_tok_ end\\n');
           process.exit(0);
         });`,
      ]),
      { env: sandbox.baseEnv() },
    );
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      if (stdout === 'prompt> ') child.stdin.write('go\n');
    });
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: 'prompt> got: [***] cm_tok_ end\n', stderr: '' });
  });

  it('a token straddling a 64 KiB chunk boundary, and its percent-encoded form, are masked', async () => {
    const at = 65536 - 7;
    const { code, stdout, stderr } = await run(
      [
        '--mask',
        '--',
        process.execPath,
        '-e',
        `const t = process.env.CHARTMETRIC_ACCESS_TOKEN;
         const b = Buffer.alloc(3 * 65536, 'x');
         b.write(t, ${at});
         b.write(encodeURIComponent(t), 2 * 65536 - 3);
         require('node:fs').writeSync(1, b);`,
      ],
      {},
    );
    expect(code, stderr.toString()).toBe(0);
    const expected = Buffer.alloc(3 * 65536, 'x');
    expected.write(TOKEN, at);
    expected.write(encodeURIComponent(TOKEN), 2 * 65536 - 3);
    const masked = Buffer.from(
      expected.toString('latin1').replace(TOKEN, '***').replace(encodeURIComponent(TOKEN), '***'),
      'latin1',
    );
    expect(stdout.equals(masked)).toBe(true);
    expectClean([stdout.toString('latin1')], [TOKEN]);
  });

  it('stdout and stderr stay separate streams, each masked; exit code as the command', async () => {
    const { code, stdout, stderr } = await run(
      [
        '--',
        'sh',
        '-c',
        'echo "out $CHARTMETRIC_ACCESS_TOKEN"; echo "err $CHARTMETRIC_AUTHORIZATION" >&2; echo out2; exit 5',
      ],
      { CI: 'true' },
    );
    expect({ code, stdout: stdout.toString(), stderr: stderr.toString() }).toEqual({
      code: 5,
      stdout: 'out ***\nout2\n',
      stderr: 'err ***\n',
    });
  });

  it('nothing to relay (stdout and stderr /dev/null): tokens becomes the command; one pipe: it stays the parent and masks it', async () => {
    // The command writes its own PID (and its parent's) to a file; tokens' PID is the spawned one's.
    const pidFile = join(sandbox.home, 'pids.txt');
    const script = `echo "$$ $PPID" > "${pidFile}"; echo "err $CHARTMETRIC_ACCESS_TOKEN" >&2`;
    const started = (stdio: Array<'ignore' | 'pipe'>) => {
      const child = spawn(process.execPath, exec(['--mask', '--', 'sh', '-c', script]), {
        env: sandbox.baseEnv(),
        stdio: ['ignore', ...stdio],
      });
      const err: Buffer[] = [];
      child.stderr?.on('data', (d: Buffer) => err.push(d));
      return new Promise<{ pid: number; code: number | null; stderr: string; pids: number[] }>((resolve) =>
        child.on('close', async (code) =>
          resolve({
            pid: child.pid!,
            code,
            stderr: Buffer.concat(err).toString(),
            pids: (await readFile(pidFile, 'utf8')).trim().split(' ').map(Number),
          }),
        ),
      );
    };
    const quiet = await started(['ignore', 'ignore']);
    expect(quiet.code).toBe(0);
    expect(quiet.pids[0], 'the command is the process tokens was').toBe(quiet.pid);
    const relayed = await started(['ignore', 'pipe']);
    expect({ code: relayed.code, stderr: relayed.stderr }).toEqual({ code: 0, stderr: 'err ***\n' });
    expect(relayed.pids[0], 'the command is a child').not.toBe(relayed.pid);
    expect(relayed.pids[1], 'of tokens').toBe(relayed.pid);
  });

  it('the relayed streams are pipes, made with no temporary file: /dev/stdout and /dev/stderr open (tee), masked', async () => {
    // A TMPDIR that does not exist: named pipes could not be made there, and a socket (Node's own
    // 'pipe') cannot be opened through /dev/stdout.
    const { code, stdout, stderr } = await run(
      [
        '--',
        'sh',
        '-c',
        'echo "$CHARTMETRIC_ACCESS_TOKEN" | tee /dev/stderr > /dev/stdout && readlink /proc/self/fd/1 /proc/self/fd/2',
      ],
      { CI: 'true', TMPDIR: join(sandbox.home, 'no-such-dir') },
    );
    expect({ code, stderr: stderr.toString() }).toEqual({ code: 0, stderr: '***\n' });
    expect(stdout.toString()).toMatch(/^\*\*\*\npipe:\[\d+\]\npipe:\[\d+\]\n$/);
  });

  it("the group witness, tokens' other child while the command runs, holds none of the command's tokens", async () => {
    // The command copies the environment and arguments of each other child of its parent (tokens).
    const out = join(sandbox.home, 'sibling');
    const script = `for s in /proc/[0-9]*/status; do
      d=\${s%/status}; p=\${d#/proc/}
      [ "$p" = "$$" ] && continue
      [ "$(sed -n 's/^PPid:[[:space:]]*//p' "$s" 2>/dev/null)" = "$PPID" ] || continue
      tr '\\0' ' ' < "$d/cmdline" > "${out}.$p.cmdline"; cat "$d/environ" > "${out}.$p.environ"
    done; echo "$CHARTMETRIC_ACCESS_TOKEN"`;
    const { code, stdout, stderr } = await run(['--mask', '--', 'sh', '-c', script]);
    expect({ code, stdout: stdout.toString(), stderr: stderr.toString() }).toEqual({
      code: 0,
      stdout: '***\n',
      stderr: '',
    });
    const siblings = (await readdir(sandbox.home)).filter((f) => f.startsWith('sibling.') && f.endsWith('.cmdline'));
    expect(siblings).toHaveLength(1);
    const pid = siblings[0]!.split('.')[1];
    expect(await readFile(`${out}.${pid}.cmdline`, 'utf8')).toMatch(/^\/bin\/sh -c trap : INT /);
    const environ = await readFile(`${out}.${pid}.environ`, 'latin1');
    expectClean([environ], [TOKEN]);
  });

  it('--no-mask, TOKENS_MASK=0, CI=false: no masking (the token reaches the pipe); TOKENS_MASK=1 masks; a bad TOKENS_MASK is exit 2', async () => {
    const print = ['--', 'sh', '-c', 'printf %s "$CHARTMETRIC_ACCESS_TOKEN"'];
    expect((await run(['--no-mask', ...print], { CI: 'true' })).stdout.toString()).toBe(TOKEN);
    expect((await run(print, { CI: 'true', TOKENS_MASK: '0' })).stdout.toString()).toBe(TOKEN);
    expect((await run(print, { CI: 'false' })).stdout.toString()).toBe(TOKEN);
    expect((await run(print, {})).stdout.toString()).toBe(TOKEN);
    expect((await run(print, { TOKENS_MASK: '1' })).stdout.toString()).toBe('***');
    expect((await run(print, { CI: '1' })).stdout.toString()).toBe('***');
    const bad = await run(print, { TOKENS_MASK: 'yes' });
    expect(bad.code).toBe(2);
    expect(bad.stderr.toString()).toMatch(/^tokens: TOKENS_MASK must be 1 or 0/);
  });

  it('a terminal is left alone: isatty and colours intact on the pty, the piped stderr masked', {
    timeout: 60_000,
  }, async () => {
    const errFile = join(sandbox.home, 'stderr.txt');
    const child = `const tty = require('node:tty');
      process.stdout.write('isatty ' + tty.isatty(1) + ' ' + tty.isatty(2) + '\\n');
      process.stdout.write('\\x1b[31mred\\x1b[0m ' + process.env.CHARTMETRIC_ACCESS_TOKEN + '\\n');
      process.stderr.write('err ' + process.env.CHARTMETRIC_ACCESS_TOKEN + '\\n');`;
    const result = spawnSync(
      'python3',
      [
        '-c',
        ANSWERING_PTY,
        '',
        'never-shown',
        'sh',
        '-c',
        'exec "$@" 2>"$ERR_FILE"',
        'sh',
        process.execPath,
        ...exec(['--mask', '--', process.execPath, '-e', child]),
      ],
      { env: { ...sandbox.baseEnv(), ERR_FILE: errFile, TERM: 'xterm' }, encoding: 'latin1', timeout: 60_000 },
    );
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('isatty true false');
    // The terminal is the user's own screen: it gets the command's bytes as they are.
    expect(result.stdout).toContain(`\x1b[31mred\x1b[0m ${TOKEN}`);
    expect(await readFile(errFile, 'utf8')).toBe('err ***\n');
  });

  it('`tokens exec --mask -- yes | head -1` ends as without tokens (SIGPIPE: 141); a command that ignores SIGPIPE sees EPIPE', {
    timeout: 60_000,
  }, async () => {
    const env = { ...sandbox.baseEnv(), NODE: process.execPath, BIN };
    const yes = spawnSync(
      'bash',
      ['-c', '"$NODE" "$BIN" exec --mask --provider chartmetric -- yes | head -1; echo "${PIPESTATUS[0]}"'],
      { env, encoding: 'utf8', timeout: 30_000 },
    );
    expect({ stdout: yes.stdout, stderr: yes.stderr }).toEqual({ stdout: 'y\n141\n', stderr: '' });
    // Python ignores SIGPIPE: it must see EPIPE (BrokenPipeError), not a reset connection.
    const py = `import sys
try:
    while True:
        sys.stdout.write("x" * 1000 + "\\n")
except BaseException as e:
    sys.stderr.write(type(e).__name__ + "\\n")
    sys.exit(7)`;
    const without = spawnSync('bash', ['-c', 'python3 -c "$PY" | head -c 10 >/dev/null; echo "${PIPESTATUS[0]}"'], {
      env: { ...env, PY: py },
      encoding: 'utf8',
      timeout: 30_000,
    });
    const within = spawnSync(
      'bash',
      [
        '-c',
        '"$NODE" "$BIN" exec --mask --provider chartmetric -- python3 -c "$PY" | head -c 10 >/dev/null; echo "${PIPESTATUS[0]}"',
      ],
      { env: { ...env, PY: py }, encoding: 'utf8', timeout: 30_000 },
    );
    expect(without.stdout).toBe('7\n');
    expect(within.stderr.split('\n')[0]).toBe(without.stderr.split('\n')[0]);
    expect(within.stdout).toBe(without.stdout);
  });

  it('1 GiB of binary output passes unchanged but for the planted tokens (hashes compared)', {
    timeout: 600_000,
  }, async () => {
    // Deterministic bytes (a 1 MiB block of SHA-256 output, shifted per block) with the token planted
    // across block boundaries; MASKED=1 writes *** in its place: the expected stream.
    const generator = join(sandbox.home, 'gen.js');
    await writeFile(
      generator,
      `const { createHash } = require('node:crypto');
const { writeSync } = require('node:fs');
const MiB = 1 << 20;
const base = Buffer.alloc(2 * MiB);
for (let i = 0; i * 32 < base.length; i++) createHash('sha256').update(String(i)).digest().copy(base, i * 32);
const plant = process.env.MASKED === '1' ? Buffer.from('***') : Buffer.from(process.env.CHARTMETRIC_ACCESS_TOKEN);
const write = (b) => { for (let o = 0; o < b.length; ) o += writeSync(1, b, o); };
for (let i = 0; i < 1024; i++) {
  const block = base.subarray(i % 997, (i % 997) + MiB);
  if (i % 64 === 5) { write(block.subarray(0, MiB - 9)); write(plant); write(block.subarray(MiB - 9)); }
  else write(block);
}
`,
    );
    const digest = (argv: string[], env: Record<string, string>) =>
      new Promise<{ hash: string; bytes: number; code: number | null; stderr: string }>((resolve) => {
        const child = spawn(argv[0]!, argv.slice(1), { env: { ...sandbox.baseEnv(), ...env } });
        const hash = createHash('sha256');
        let bytes = 0;
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => {
          hash.update(d);
          bytes += d.length;
        });
        child.stderr.on('data', (d: Buffer) => (stderr += d));
        child.on('close', (code) => resolve({ hash: hash.digest('hex'), bytes, code, stderr }));
      });
    const expected = await digest([process.execPath, generator], { MASKED: '1' });
    const through = await digest([process.execPath, ...exec(['--mask', '--', process.execPath, generator])], {});
    expect(through.code, through.stderr).toBe(0);
    expect(through.bytes).toBe(expected.bytes);
    expect(expected.bytes).toBe(1024 * 1024 * 1024 + 16 * 3);
    expect(through.hash).toBe(expected.hash);
  });
});

/** What the command reads of its parent: /proc/$PPID/environ and /proc/$PPID/cmdline, into a file. */
const READ_PARENT = 'cat /proc/$PPID/environ > "$OUT.environ"; cat /proc/$PPID/cmdline > "$OUT.cmdline"; echo done';

const PARENT_MODES: Array<[string, Record<string, string>]> = [
  ['--mask (CI=true)', { CI: 'true' }],
  ['TOKENS_EXEC_STAY', { TOKENS_EXEC_STAY: '1' }],
];

describe('the clean parent (issue 22 item 1): the command cannot read the withheld secrets from its parent', () => {
  it.each(PARENT_MODES)('file store, TOKENS_PASSPHRASE set: %s', { timeout: 120_000 }, async (_, modeEnv) => {
    const w = await loggedIn('chartmetric');
    const out = join(w.sandbox.home, 'parent');
    const result = await w.run(['exec', '--provider', 'chartmetric', '--', 'sh', '-c', READ_PARENT], {
      env: { ...modeEnv, OUT: out, TOKENS_CHARTMETRIC_REFRESH_TOKEN: w.secrets[0]! },
    });
    expect(result.code, result.stderr).toBe(0);
    const environ = await readFile(`${out}.environ`, 'latin1');
    const cmdline = await readFile(`${out}.cmdline`, 'latin1');
    // It could read its parent (the same user): the test would see a secret there.
    expect(environ).toContain(`OUT=${out}`);
    expect(cmdline).not.toBe('');
    expect(environ).not.toMatch(/TOKENS_PASSPHRASE=|TOKENS_CHARTMETRIC_REFRESH_TOKEN=/);
    expectClean([environ, cmdline, result.stdout, result.stderr], [PASSPHRASE, w.secrets[0]!]);
  });

  describe('Redis store, TOKENS_REDIS_URL with a password', () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await RedisServer.start();
    });
    afterAll(async () => redis?.dispose());
    it.each(PARENT_MODES)('%s', { timeout: 120_000 }, async (_, modeEnv) => {
      const w = await world('chartmetric');
      const env = {
        ...w.env,
        TOKENS_STORE: 'redis',
        TOKENS_REDIS_URL: redis.url,
        TOKENS_REDIS_PREFIX: `mask${Date.now()}:`,
      };
      Object.assign(w.env, env);
      await login(w);
      const out = join(w.sandbox.home, 'parent');
      const result = await w.run(['exec', '--provider', 'chartmetric', '--', 'sh', '-c', READ_PARENT], {
        env: { ...modeEnv, OUT: out },
      });
      expect(result.code, result.stderr).toBe(0);
      const environ = await readFile(`${out}.environ`, 'latin1');
      const cmdline = await readFile(`${out}.cmdline`, 'latin1');
      expect(environ).toContain(`OUT=${out}`);
      expect(environ).not.toMatch(/TOKENS_PASSPHRASE=|TOKENS_REDIS_URL=/);
      expectClean([environ, cmdline, result.stdout, result.stderr], [redis.password, redis.url, PASSPHRASE]);
    });
  });
});
