// Signals in `tokens exec`, through a real pseudo-terminal (python3's pty module, as prompt.test.ts):
// one Ctrl-C is exactly one SIGINT in the child (the terminal signals the whole foreground process
// group, child included, and tokens must not add its own copy), a signal sent to tokens alone still
// reaches the child, SIGQUIT is passed on (tokens does not die leaving the child behind), and SIGUSR1
// is passed on instead of opening Node's inspector in a process that holds tokens.
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { BIN, Sandbox } from '../support/cli.js';
import { freePort } from '../support/worlds.js';

let sandbox: Sandbox;
beforeEach(async () => {
  sandbox = await Sandbox.create();
  const dir = join(sandbox.home, '.cache/tokens/default');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(
    join(dir, 'chartmetric.json'),
    JSON.stringify({ access_token: 'cm_tok', token_type: 'bearer', expires_at: Date.now() + 3600_000 }),
    { mode: 0o600 },
  );
});
afterEach(async () => sandbox.dispose());

/** The child: appends each signal it gets to MARKER, one line each; exits 3 on SIGTERM, or when orphaned. */
const CHILD = `
const fs = require('node:fs');
const marker = process.env.MARKER;
for (const s of ['SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2']) process.on(s, () => fs.appendFileSync(marker, s + '\\n'));
process.on('SIGTERM', () => { fs.appendFileSync(marker, 'SIGTERM\\n'); process.exit(3); });
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) process.exit(9); }, 100);
console.log('ready');
`;

/**
 * Runs argv in a pty and plays `steps`: 'tty:X' writes X to the terminal, 'kill:SIG' signals the pid
 * of the process in the pty (tokens) alone, once it has handled the signals before, 'lines:N' waits
 * until MARKER has N lines. Prints JSON:
 * the marker's lines and the exit code of tokens. Waits are bounded (20 s) so a missing signal ends
 * the run instead of hanging it; the test then fails on the lines.
 */
const PTY_DRIVER = `
import json, os, pty, select, signal, sys, time
marker, steps, argv = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
out = b''
def lines():
    try:
        return open(marker).read().split()
    except FileNotFoundError:
        return []
def state(p):
    try:
        with open(f'/proc/{p}/status') as f:
            fields = dict(line.split(':', 1) for line in f.read().splitlines() if ':' in line)
    except OSError:
        return None
    return fields['State'].split()[0], int(fields['SigPnd'], 16) | int(fields['ShdPnd'], 16)
def witnesses():
    found = []
    for entry in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{entry}/stat') as f:
                stat = f.read()
        except OSError:
            continue
        if stat[stat.index('(') + 1:stat.rindex(')')] == 'sh' and stat[stat.rindex(')') + 2:].split()[1] == str(pid):
            found.append(entry)
    return found
def settled():
    # tokens has taken every signal sent so far, and its group witness (src/commands/exec-child.ts) is
    # stopped again with none pending: a signal sent now is not merged with an earlier one.
    own = state(pid)
    return own is not None and own[1] == 0 and all(state(w) in (None, ('T', 0)) for w in witnesses())
def pump(done, seconds=20):
    global out
    end = time.time() + seconds
    while not done() and time.time() < end:
        ready, _, _ = select.select([fd], [], [], 0.02)
        if ready:
            try:
                out += os.read(fd, 4096)
            except OSError:
                time.sleep(0.02)
pump(lambda: b'ready' in out)
witness_env = []
for w in witnesses():
    with open(f'/proc/{w}/environ', 'rb') as f:
        witness_env.append(f.read().decode('utf-8', 'replace'))
for step in steps:
    kind, _, arg = step.partition(':')
    if kind == 'tty':
        os.write(fd, arg.encode().decode('unicode_escape').encode())
    elif kind == 'kill':
        # Sent at once, it could merge with the terminal's signal still pending in tokens (the kernel
        # keeps one of each): one delivery, taken for the group's, as on any Unix.
        pump(settled)
        try:
            os.kill(pid, getattr(signal, arg))
        except ProcessLookupError:
            pass
    elif kind == 'lines':
        pump(lambda: len(lines()) >= int(arg))
code = None
end = time.time() + 20
while time.time() < end:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        code = os.waitstatus_to_exitcode(status)
        break
    pump(lambda: False, 0.05)
if code is None:
    os.kill(pid, signal.SIGKILL)
print(json.dumps({'lines': lines(), 'code': code, 'witnessEnv': witness_env}))
`;

/** Secrets in the environment of tokens, which neither its child nor its group witness may see. */
const SECRETS = {
  TOKENS_PASSPHRASE: 'witness-must-not-see-this-passphrase',
  TOKENS_CHARTMETRIC_REFRESH_TOKEN: 'witness-must-not-see-this-refresh-token',
};

interface TerminalRun {
  lines: string[];
  code: number | null;
  /** The environment of each group witness of tokens (the shell in stay.ts), as /proc shows it. */
  witnessEnv: string[];
}

function inTerminal(steps: string[], modeEnv: Record<string, string>): Promise<TerminalRun> {
  const marker = join(sandbox.home, 'signals.txt');
  const args = [BIN, 'exec', '--provider', 'chartmetric', '--', process.execPath, '-e', CHILD];
  const env = { ...sandbox.baseEnv(), ...SECRETS, ...modeEnv, MARKER: marker, TERM: 'xterm' };
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', PTY_DRIVER, marker, JSON.stringify(steps), process.execPath, ...args], {
      env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', () => reject(new Error('python3 is needed for the terminal test (Debian: python3)')));
    child.on('close', () => {
      try {
        resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as TerminalRun);
      } catch {
        reject(new Error(`pty driver failed: ${stderr}`));
      }
    });
  });
}

/**
 * Whether tokens stays the command's parent in a terminal. Masking alone does not keep it there:
 * with stdout and stderr on the terminal there is nothing to relay, and tokens becomes the command.
 */
const staysInTerminal = (modeEnv: Record<string, string>) =>
  Object.keys(modeEnv).some((name) => name !== 'TOKENS_MASK') || typeof process.execve !== 'function';

/**
 * Every way exec runs its command: replacing tokens (where Node has execve), and as its child —
 * plain, relaying its output through the masker, and from the supervisor tokens becomes when its
 * environment holds a withheld secret (src/supervise.ts; the terminal test always has SECRETS).
 */
const MODES: Array<[string, Record<string, string>]> = [
  ['tokens becomes the command', {}],
  ['tokens stays as the parent', { TOKENS_EXEC_STAY: '1' }],
  // In a terminal nothing is relayed, so tokens becomes the command; with pipes it stays and relays.
  ['tokens masking', { TOKENS_MASK: '1' }],
  ['tokens stays as the parent, supervised', { TOKENS_EXEC_STAY: '1', TOKENS_PASSPHRASE: 'supervised passphrase 51c' }],
];

it.each(MODES)(
  '%s: one Ctrl-C or Ctrl-\\ is one signal in the command; kill -INT/-QUIT of tokens alone still reach it',
  {
    timeout: 120_000,
  },
  async (_, modeEnv) => {
    const { lines, code, witnessEnv } = await inTerminal(
      [
        'tty:\\x03', // Ctrl-C: the terminal signals the foreground group
        'lines:1',
        'kill:SIGINT', // tokens alone
        'lines:2',
        'tty:\\x1c', // Ctrl-\\
        'lines:3',
        'kill:SIGQUIT', // tokens alone: before, tokens died (131) leaving the child running
        'lines:4',
        'kill:SIGTERM',
        'lines:5',
      ],
      modeEnv,
    );
    // Had tokens forwarded the terminal's signals as well, each Ctrl-C or Ctrl-\ would show twice; the
    // kill that follows each is only written after that duplicate would have arrived.
    expect(lines).toEqual(['SIGINT', 'SIGINT', 'SIGQUIT', 'SIGQUIT', 'SIGTERM']);
    expect(code).toBe(3);
    // Where tokens stays, one witness, run with no environment at all (none of the command's tokens,
    // none of the withheld variables). Where tokens became the command, there is no witness.
    expect(witnessEnv).toEqual(staysInTerminal(modeEnv) ? [''] : []);
  },
);

/** The processes of session `sid` (one started with setsid), from /proc. */
async function sessionMembers(sid: number): Promise<number[]> {
  const found: number[] = [];
  for (const entry of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // After "pid (comm) ": state ppid pgrp session …
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[3]) === sid) found.push(Number(entry));
  }
  return found;
}

/** Nothing pending in any process of the session, and each stopped one (the witness) stopped again. */
async function settled(sid: number): Promise<boolean> {
  for (const pid of await sessionMembers(sid)) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const field = (name: string) => BigInt(`0x${new RegExp(`^${name}:\\s+([0-9a-f]+)`, 'm').exec(status)?.[1] ?? '0'}`);
    if (field('SigPnd') !== 0n || field('ShdPnd') !== 0n) return false;
  }
  return true;
}

async function until(condition: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end && !(await condition())) await new Promise((r) => setTimeout(r, 20));
}

it.each(MODES)(
  '%s, no terminal: a signal to the whole group, to tokens alone, or to every process reaches the command once',
  {
    timeout: 60_000,
  },
  async (_, modeEnv) => {
    const marker = join(sandbox.home, 'signals.txt');
    const lines = async () => (await readFile(marker, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    // setsid: its own session and process group, with no terminal (a CI job, a systemd unit).
    const child = spawn(
      'setsid',
      [process.execPath, BIN, 'exec', '--provider', 'chartmetric', '--', process.execPath, '-e', CHILD],
      {
        env: { ...sandbox.baseEnv(), ...modeEnv, MARKER: marker },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()),
    );
    const sid = child.pid!;
    const step = async (send: () => void, count: number) => {
      await until(() => settled(sid));
      send();
      await until(async () => (await lines()).length >= count);
      // Time for a second copy, had one been sent.
      await new Promise((r) => setTimeout(r, 300));
    };
    await step(() => process.kill(-sid, 'SIGINT'), 1); // kill -INT -- -PGID
    await step(() => process.kill(sid, 'SIGINT'), 2); // kill -INT <pid of tokens>
    await step(() => process.kill(-sid, 'SIGUSR2'), 3);
    // As systemd stops a unit: every process of it, one by one, tokens first.
    await until(() => settled(sid));
    for (const pid of await sessionMembers(sid)) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone already
      }
    }
    expect(await exited).toBe(3);
    expect(await lines()).toEqual(['SIGINT', 'SIGINT', 'SIGUSR2', 'SIGTERM']);
  },
);

it('SIGUSR1 to a running exec opens no inspector, and reaches the child', { timeout: 60_000 }, async () => {
  const marker = join(sandbox.home, 'usr1.txt');
  const port = await freePort();
  // Where the inspector would listen if SIGUSR1 started it (Node's default is 127.0.0.1:9229).
  const env = { ...sandbox.baseEnv(), MARKER: marker, NODE_OPTIONS: `--inspect-port=127.0.0.1:${port}` };
  const script = `trap 'echo USR1 >> "$MARKER"' USR1; echo ready; while :; do sleep 0.05; done`;
  const child = spawn(process.execPath, [BIN, 'exec', '--provider', 'chartmetric', '--', 'sh', '-c', script], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()),
  );
  child.kill('SIGUSR1');
  const until = Date.now() + 20_000;
  while (Date.now() < until && !(await readFile(marker, 'utf8').catch(() => '')).includes('USR1'))
    await new Promise((r) => setTimeout(r, 20));
  expect(await readFile(marker, 'utf8').catch(() => '')).toBe('USR1\n');
  const connected = await new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
  child.kill('SIGTERM');
  await new Promise((resolve) => child.on('close', resolve));
  expect(connected, 'something listens where the inspector would').toBe(false);
  expect(stderr).not.toContain('Debugger listening');
});
