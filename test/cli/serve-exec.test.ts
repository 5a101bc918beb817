// `tokens exec --serve -- CMD` end to end: the server in its own process with a clean environment,
// CMD with the URLs and no token, the server gone once CMD ends; and a real Jupyter notebook
// (jupyter nbconvert --execute) calling the fake API across several token lifetimes.
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeApis, type FakeApis } from '../support/servers.js';
import { BIN } from '../support/cli.js';
import { PYTHON } from '../support/serve.js';
import { expireCache, secretsSeen, tokenRequests, useWorlds, type World } from '../support/worlds.js';

const PASSPHRASE = 'serve exec passphrase 5b02';
const { loggedIn } = useWorlds({ passphrase: PASSPHRASE });

let apis: FakeApis | undefined;
afterEach(async () => {
  if (!apis) return;
  const violations = apis.violations();
  await apis.close();
  apis = undefined;
  expect(violations).toEqual([]);
});

async function serveWorld(): Promise<World & { apis: FakeApis }> {
  const w = await loggedIn('chartmetric');
  apis = await startFakeApis(w.server);
  Object.assign(w.env, apis.env());
  return Object.assign(w, { apis });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

// The command's view: its environment, its sibling the server (another child of its parent), what
// that server's environment holds, and one API call through it.
const PROBE = `
import json, os, requests
me = os.getpid()
server = None
for d in os.listdir('/proc'):
    if not d.isdigit() or int(d) == me: continue
    try:
        status = open(f'/proc/{d}/status').read()
        cmdline = open(f'/proc/{d}/cmdline', 'rb').read()
    except OSError: continue
    if f"\\nPPid:\\t{os.getppid()}\\n" in status and b'--serve-role' in cmdline: server = int(d)
environ = open(f'/proc/{server}/environ', 'rb').read().decode('latin1')
r = requests.get(os.environ['CHARTMETRIC_API_URL'] + '/api/artist/206557')
print(json.dumps({
  'vars': sorted(k for k in os.environ if k.startswith(('SOUNDCLOUD_', 'CHARTMETRIC_', 'SOUNDCHARTS_', 'TOKENS_SERVE', 'TOKENS_PASSPHRASE', 'TOKENS_REDIS_URL', 'TOKENS_PROFILE'))),
  'server': server,
  'serverEnviron': environ,
  'status': r.status_code,
  'name': r.json()['obj']['name'],
}))
raise SystemExit(7)
`;

describe('tokens exec --serve', () => {
  it('--mask hides the key of its URLs in what CMD prints to a pipe', async () => {
    const w = await serveWorld();
    const key = 'exec_serve_mask_key_0123456789_abcdefghij';
    const r = await w.run(['exec', '--serve', '--mask', '--', 'sh', '-c', 'echo "$TOKENS_SERVE_URL"'], {
      env: { TOKENS_SERVE_KEY: key },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\*\*\*\n$/);
    expect(r.stdout + r.stderr).not.toContain(key);
  });

  it('gives CMD the URLs and no token, runs the server with a clean environment, and stops it when CMD ends', async () => {
    const w = await serveWorld();
    const r = await w.run(['exec', '--serve', '--', PYTHON, '-c', PROBE], {
      env: { TOKENS_SERVE_KEY: 'exec_serve_key_0123456789_abcdefghijklmnopq', CHARTMETRIC_ACCESS_TOKEN: 'outer' },
    });
    expect(r.code, r.stderr).toBe(7);
    const seen = JSON.parse(r.stdout) as {
      vars: string[];
      server: number;
      serverEnviron: string;
      status: number;
      name: string;
    };
    expect(seen.vars).toEqual(['CHARTMETRIC_API_URL', 'TOKENS_PROFILE', 'TOKENS_SERVE_URL']);
    expect(seen.status).toBe(200);
    expect(seen.name).toBe('Fake Artist');
    expect(seen.server).toBeGreaterThan(0);
    for (const secret of ['TOKENS_PASSPHRASE', PASSPHRASE, 'TOKENS_SERVE_KEY', 'exec_serve_key_0123456789'])
      expect(seen.serverEnviron).not.toContain(secret);
    // The server ends with the command (SIGTERM, then a drain with nothing in flight).
    for (let i = 0; i < 150 && alive(seen.server); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(alive(seen.server)).toBe(false);
    expect(r.stderr).toBe('');
    expect(await w.sandbox.findSecrets(secretsSeen(w))).toEqual([]);
  });

  it('keeps serving through a Ctrl-C to the whole process group, which is the command’s to act on', async () => {
    const w = await serveWorld();
    // The command catches SIGINT, then still calls the API through the server, as Jupyter does
    // when it asks whether to shut down.
    const script = [
      'import os, signal, sys, time, urllib.request',
      'got = []',
      'signal.signal(signal.SIGINT, lambda *a: got.append(1))',
      'print("ready", flush=True)',
      'while not got: time.sleep(0.05)',
      'time.sleep(0.5)',
      'r = urllib.request.urlopen(os.environ["CHARTMETRIC_API_URL"] + "/api/artist/206557")',
      'print("after", r.status, flush=True)',
    ].join('\n');
    // setsid: tokens leads a process group of its own, as in a terminal.
    const child = spawn('setsid', [process.execPath, BIN, 'exec', '--serve', '--', PYTHON, '-c', script], {
      env: { ...w.sandbox.baseEnv(), ...w.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    while (!out.includes('ready')) await new Promise((resolve) => setTimeout(resolve, 20));
    process.kill(-child.pid!, 'SIGINT');
    expect(await exited, err).toBe(0);
    expect(out).toBe('ready\nafter 200\n');
  });

  it('exits with the server’s code when it cannot start (not configured: 3), without running CMD', async () => {
    const w = await serveWorld();
    const r = await w.run(['exec', '--serve', '--provider', 'soundcloud', '--', 'sh', '-c', 'echo ran']);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n').length).toBe(1);
  });

  it('keeps a Jupyter notebook working across token lifetimes: every call 200, one refresh per lifetime', async () => {
    const w = await serveWorld();
    // 6 s tokens, used while half their lifetime is left: a new one about every 3 s.
    w.server.chartmetric.expiresIn = 6;
    await expireCache(w);
    const since = Date.now();
    const notebook = {
      cells: [
        {
          cell_type: 'code',
          execution_count: null,
          id: 'calls',
          metadata: {},
          outputs: [],
          source: [
            'import os, time, requests\n',
            "base = os.environ['CHARTMETRIC_API_URL']\n",
            'session = requests.Session()\n',
            'statuses = []\n',
            'for i in range(48):\n',
            "    statuses.append(session.get(base + '/api/artist/206557').status_code)\n",
            '    time.sleep(0.25)\n',
            'print(statuses)\n',
          ],
        },
      ],
      metadata: { kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' } },
      nbformat: 4,
      nbformat_minor: 5,
    };
    const input = join(w.sandbox.home, 'calls.ipynb');
    await writeFile(input, JSON.stringify(notebook));
    const r = await w.run(
      [
        'exec',
        '--serve',
        '--',
        '/usr/bin/jupyter-nbconvert',
        '--to',
        'notebook',
        '--execute',
        input,
        '--output',
        'ran.ipynb',
      ],
      { env: { PATH: `/usr/bin:${process.env.PATH}` } },
    );
    expect(r.code, r.stderr).toBe(0);
    const ran = JSON.parse(await readFile(join(w.sandbox.home, 'ran.ipynb'), 'utf8')) as {
      cells: Array<{ outputs: Array<{ text?: string[] }> }>;
    };
    const printed = ran.cells[0]!.outputs.flatMap((o) => o.text ?? []).join('');
    expect(printed.trim()).toBe(`[${Array(48).fill('200').join(', ')}]`);
    const calls = w.apis.chartmetric.requests.filter((q) => q.time >= since);
    expect(calls.length).toBe(48);
    expect(calls.every((q) => q.credential === 'token')).toBe(true);
    const used = [...new Set(calls.map((q) => q.token))];
    // More than one lifetime, and each refresh gave a token that was then used: none wasted.
    expect(used.length).toBeGreaterThanOrEqual(3);
    // The server's first token was minted at its start (a kernel takes seconds to come up); after
    // the first call, each refresh gave the token the next calls used.
    expect(tokenRequests(w, calls[0]!.time).length).toBe(used.length - 1);
    expect(tokenRequests(w, since).length).toBeLessThanOrEqual(used.length + 1);
  });
});
