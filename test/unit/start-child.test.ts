// src/commands/start-child.ts: the binding starter and node:child_process's spawn, case for case.
// Real children (node, sh); what a child sees it writes to a file, since its stdio is ours.
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  existsSync,
  chmodSync,
  fstatSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  childStarter,
  publicStarter,
  type ChildEnd,
  type ChildStarter,
  type StartOptions,
} from '../../src/commands/start-child.js';

const work = mkdtempSync(join(tmpdir(), 'tokens-start-child-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const viaBinding = childStarter();
const STARTERS: Array<[string, ChildStarter]> = [
  ['the process_wrap binding', viaBinding],
  ['node:child_process', publicStarter],
];

let files = 0;
const freshFile = () => join(work, `out-${++files}`);

/** Starts a child and resolves with how it ended, and the child while it runs. */
function run(
  start: ChildStarter,
  file: string,
  args: string[],
  options: Partial<Omit<StartOptions, 'onEnd'>> = {},
  whileRunning?: (child: ReturnType<ChildStarter>) => void,
): Promise<ChildEnd> {
  return new Promise((resolve) => {
    const child = start(file, args, {
      env: options.env ?? { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: options.stdio ?? 'inherit',
      onEnd: resolve,
    });
    whileRunning?.(child);
  });
}

/** A node child running `script`, with the output file as process.argv[1]. */
const node = (script: string, out: string, ...more: string[]): [string, string[]] => [
  process.execPath,
  ['-e', script, out, ...more],
];

async function waitFor(path: string): Promise<void> {
  for (let i = 0; i < 500 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 10));
  expect(existsSync(path), `${path} appeared`).toBe(true);
}

it('this Node has the binding as expected, so the first starter is not the public one', () => {
  expect(viaBinding).not.toBe(publicStarter);
});

it.each([
  ['no process.binding', {}],
  ['--pending-deprecation’s warning wrapper', { binding: function deprecated() {} }],
  [
    'a binding that throws',
    {
      binding: function binding() {
        throw new Error('No such module: process_wrap');
      },
    },
  ],
  [
    'a binding without Process',
    {
      binding: function binding() {
        return {};
      },
    },
  ],
])('falls back to node:child_process with %s', (_, proc) => {
  expect(childStarter(proc)).toBe(publicStarter);
});

describe.each(STARTERS)('through %s', (_, start) => {
  it('gives the exit code, and 128 + N for a signal', async () => {
    expect(await run(start, 'sh', ['-c', 'exit 3'])).toEqual({ kind: 'exited', status: 3 });
    expect(await run(start, 'sh', ['-c', 'exit 0'])).toEqual({ kind: 'exited', status: 0 });
    expect(await run(start, 'sh', ['-c', 'kill -TERM $$'])).toEqual({ kind: 'exited', status: 143 });
    expect(await run(start, 'sh', ['-c', 'kill -KILL $$'])).toEqual({ kind: 'exited', status: 137 });
  });

  it('reports a command that cannot be started by its error code, after returning', async () => {
    expect(await run(start, 'no-such-command-for-tokens', [])).toEqual({ kind: 'not-started', code: 'ENOENT' });
    const notExecutable = join(work, 'not-executable');
    writeFileSync(notExecutable, '#!/bin/sh\n');
    chmodSync(notExecutable, 0o644);
    expect(await run(start, notExecutable, [])).toEqual({ kind: 'not-started', code: 'EACCES' });
    // onEnd is never called from inside the start.
    let ended = false;
    start('no-such-command-for-tokens', [], { env: {}, stdio: 'ignore', onEnd: () => (ended = true) });
    expect(ended).toBe(false);
  });

  it('throws, as spawn() does, for what cannot be passed (a NUL byte)', () => {
    const options = { env: {}, stdio: 'ignore' as const, onEnd: () => {} };
    expect(() => start('sh', ['-c', 'exit 0\0'], options)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() => start('sh', [], { ...options, env: { A: 'x\0y' } })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
  });

  it('passes the arguments and exactly the environment given, with argv[0] the file as given', async () => {
    const out = freshFile();
    const args = ['', 'two words', 'ünïcødé', '--', '$HOME', "it's"];
    const env = { PATH: '/usr/bin:/bin', ONE: '1', EMPTY: '', 'WITH=EQUALS': 'a=b' };
    const [file, nodeArgs] = node(
      "require('fs').writeFileSync(process.argv[1], JSON.stringify({ argv0: process.argv0, argv: process.argv.slice(2), env: process.env }))",
      out,
      ...args,
    );
    expect(await run(start, file, nodeArgs, { env })).toEqual({ kind: 'exited', status: 0 });
    const seen = JSON.parse(readFileSync(out, 'utf8')) as {
      argv0: string;
      argv: string[];
      env: Record<string, string>;
    };
    expect(seen.argv0).toBe(file);
    expect(seen.argv).toEqual(args);
    // Node reads WITH=EQUALS as WITH = EQUALS=a=b, as it would from any parent.
    expect(seen.env).toEqual({ PATH: '/usr/bin:/bin', ONE: '1', EMPTY: '', WITH: 'EQUALS=a=b' });
  });

  it('finds the command on the PATH it is given', async () => {
    const bin = join(work, `bin-${++files}`);
    const out = freshFile();
    mkdirSync(bin);
    writeFileSync(join(bin, 'only-here'), `#!/bin/sh\nprintf found > '${out}'\n`, { mode: 0o755 });
    expect(await run(start, 'only-here', [], { env: { PATH: `${bin}:/usr/bin:/bin` } })).toEqual({
      kind: 'exited',
      status: 0,
    });
    expect(readFileSync(out, 'utf8')).toBe('found');
  });

  it('inherits our stdio, or gives /dev/null', async () => {
    const script =
      "const fs = require('fs'); fs.writeFileSync(process.argv[1], JSON.stringify([0, 1, 2].map((fd) => { const s = fs.fstatSync(fd); return [s.dev, s.ino, s.rdev]; })))";
    const ours = [0, 1, 2].map((fd) => {
      const s = fstatSync(fd);
      return [s.dev, s.ino, s.rdev];
    });
    const inherited = freshFile();
    await run(start, ...node(script, inherited));
    expect(JSON.parse(readFileSync(inherited, 'utf8'))).toEqual(ours);

    const ignored = freshFile();
    await run(start, ...node(script, ignored), { stdio: 'ignore' });
    const devNull = statSync('/dev/null');
    expect(JSON.parse(readFileSync(ignored, 'utf8'))).toEqual(Array(3).fill([devNull.dev, devNull.ino, devNull.rdev]));
  });

  it('sends a signal to the running child; one already gone is no error', async () => {
    const ready = freshFile();
    const got = freshFile();
    const [file, args] = node(
      "const fs = require('fs'); process.on('SIGUSR2', () => { fs.writeFileSync(process.argv[2], 'SIGUSR2'); process.exit(7); }); fs.writeFileSync(process.argv[1], ''); setInterval(() => {}, 1000);",
      ready,
      got,
    );
    let child: ReturnType<ChildStarter> | undefined;
    const ended = run(start, file, args, {}, (c) => (child = c));
    await waitFor(ready);
    expect(child!.pid).toEqual(expect.any(Number));
    child!.kill('SIGUSR2');
    expect(await ended).toEqual({ kind: 'exited', status: 7 });
    expect(readFileSync(got, 'utf8')).toBe('SIGUSR2');
    expect(() => child!.kill('SIGTERM')).not.toThrow();
    expect(() => child!.unref()).not.toThrow();
  });
});
