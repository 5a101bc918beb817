// src/commands/replace-process.ts: the command is looked up as execvp would, and replaced into only
// when execve cannot fail. Real files in a temporary directory; nothing is executed here (the CLI
// tests in test/cli/exec*.test.ts run commands both ways).
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canReplace, resolveCommand } from '../../src/commands/replace-process.js';

const work = mkdtempSync(join(tmpdir(), 'tokens-replace-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const dir = (name: string) => {
  const path = join(work, name);
  mkdirSync(path, { recursive: true });
  return path;
};
const file = (path: string, content: string | Buffer, mode: number) => {
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
};

const bin = dir('bin');
const other = dir('other');
const ELF = readFileSync('/bin/true');
file(join(bin, 'binary'), ELF, 0o755);
file(join(bin, 'script'), '#!/bin/sh\necho hi\n', 0o755);
file(join(bin, 'script-env'), '#! /usr/bin/env sh\necho hi\n', 0o755);
file(join(bin, 'bad-interpreter'), '#!/no/such/interpreter\n', 0o755);
file(join(bin, 'relative-interpreter'), '#!sh\n', 0o755);
file(join(bin, 'no-shebang'), 'echo hi\n', 0o755);
file(join(bin, 'not-executable'), ELF, 0o644);
file(join(bin, 'unreadable-script'), '#!/bin/sh\n', 0o111);
mkdirSync(join(bin, 'a-directory'));
file(join(other, 'not-executable'), ELF, 0o755);
file(join(other, 'a-directory'), ELF, 0o755);
symlinkSync(join(bin, 'binary'), join(bin, 'link-to-binary'));
symlinkSync(join(work, 'nowhere'), join(bin, 'dangling-link'));
// The same ELF binary for another machine, and one whose dynamic loader does not exist.
const foreign = Buffer.from(ELF);
foreign.writeUInt16LE(process.arch === 'arm64' ? 62 : 183, 18);
file(join(bin, 'foreign-elf'), foreign, 0o755);
const interpreter = ELF.indexOf('/lib');
const noLoader = Buffer.from(ELF);
noLoader.write('/no', interpreter, 'latin1');
file(join(bin, 'missing-loader'), noLoader, 0o755);

const root = process.getuid?.() === 0;

describe('resolveCommand: PATH as execvp searches it', () => {
  const path = `${bin}:${other}`;
  it.each([
    ['an ELF binary of this machine', 'binary', { kind: 'replace', path: join(bin, 'binary') }],
    ['a symlink to one', 'link-to-binary', { kind: 'replace', path: join(bin, 'link-to-binary') }],
    ['a #! script whose interpreter runs', 'script', { kind: 'replace', path: join(bin, 'script') }],
    ['#! with a space and an argument', 'script-env', { kind: 'replace', path: join(bin, 'script-env') }],
    ['#! naming a missing interpreter: a child reports it', 'bad-interpreter', { kind: 'spawn' }],
    ['#! with a relative interpreter', 'relative-interpreter', { kind: 'spawn' }],
    ['no #! (execvp hands it to sh)', 'no-shebang', { kind: 'spawn' }],
    ['an ELF binary for another machine', 'foreign-elf', { kind: 'spawn' }],
    ['an ELF binary whose loader is missing', 'missing-loader', { kind: 'spawn' }],
    [
      'a file not executable here, executable further on',
      'not-executable',
      { kind: 'replace', path: join(other, 'not-executable') },
    ],
    ['a directory here, a binary further on', 'a-directory', { kind: 'replace', path: join(other, 'a-directory') }],
    ['nothing by that name', 'no-such-command', { kind: 'fails', code: 'ENOENT' }],
    ['a dangling symlink', 'dangling-link', { kind: 'fails', code: 'ENOENT' }],
    ['an empty name', '', { kind: 'fails', code: 'ENOENT' }],
  ])('%s', (_, name, expected) => {
    expect(resolveCommand(name, path)).toEqual(expected);
  });

  it('a file found only without permission is EACCES (126), not "not found"', () => {
    expect(resolveCommand('not-executable', bin)).toEqual({ kind: 'fails', code: 'EACCES' });
    expect(resolveCommand('a-directory', bin)).toEqual({ kind: 'fails', code: 'EACCES' });
  });

  it('an executable script we cannot read is left to a child (root reads everything)', () => {
    expect(resolveCommand('unreadable-script', bin)).toEqual(
      root ? { kind: 'replace', path: join(bin, 'unreadable-script') } : { kind: 'spawn' },
    );
  });

  it('an empty PATH entry is the current directory; an unset PATH is /bin:/usr/bin', () => {
    const cwd = process.cwd();
    process.chdir(bin);
    try {
      expect(resolveCommand('binary', `${other}::`)).toEqual({ kind: 'replace', path: 'binary' });
    } finally {
      process.chdir(cwd);
    }
    expect(resolveCommand('sh', undefined)).toEqual({ kind: 'replace', path: '/bin/sh' });
    expect(resolveCommand('binary', undefined)).toEqual({ kind: 'fails', code: 'ENOENT' });
  });

  it('a name with a slash is not searched for', () => {
    expect(resolveCommand(join(bin, 'binary'), '')).toEqual({ kind: 'replace', path: join(bin, 'binary') });
    expect(resolveCommand('./binary', bin)).toEqual({ kind: 'fails', code: 'ENOENT' });
    expect(resolveCommand(join(bin, 'not-executable'), '')).toEqual({ kind: 'fails', code: 'EACCES' });
    expect(resolveCommand(join(bin, 'a-directory'), '')).toEqual({ kind: 'fails', code: 'EACCES' });
  });

  it('a copy of a binary works the same (nothing depends on its name)', () => {
    copyFileSync('/bin/true', join(other, 'copied'));
    chmodSync(join(other, 'copied'), 0o755);
    expect(resolveCommand('copied', other)).toEqual({ kind: 'replace', path: join(other, 'copied') });
  });
});

describe('canReplace: only where execve cannot fail for the sizes', () => {
  const supported = process.platform === 'linux' && typeof process.execve === 'function';
  it('an ordinary command and environment', () => {
    expect(canReplace(['sh', '-c', 'true'], { PATH: '/usr/bin:/bin', HOME: '/root' })).toBe(supported);
  });
  it.each([
    ['an argument of 128 KiB (over MAX_ARG_STRLEN)', ['echo', 'x'.repeat(128 * 1024)], {}],
    [
      'an environment of 1 MiB',
      ['true'],
      Object.fromEntries([...Array(1024)].map((_, i) => [`V${i}`, 'x'.repeat(1024)])),
    ],
    ['a NUL byte', ['echo', 'a\0b'], {}],
  ])('not with %s: a child reports what the kernel says', (_, args, env) => {
    expect(canReplace(args, env)).toBe(false);
  });
});
