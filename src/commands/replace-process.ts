// `tokens exec` becoming its command (execve), as aws-vault exec does: the command keeps our PID,
// gets every signal straight from whoever sends it, and no Node process waits beside it.
//
// process.execve is documented (Node 22.15+, 23.11+, not on Windows), but a failed call aborts the
// process on Node 22 and 24, where nothing can report it. So the command is looked up on PATH as
// execvp would, and replaced into only when everything the kernel will check can be seen to hold:
// a regular file we may execute whose format the kernel runs here (an ELF binary of our machine
// with its loader present, or a `#!` script whose interpreter passes the same test), and arguments
// and environment well within the system's limit. Anything else — not found, not runnable, or not
// certain — is the caller's to handle by starting the command as a child instead, which reports
// every failure itself.
import { accessSync, closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** What execvp would do with a command name. */
export type Resolution =
  /** Replace the process with this file: every check the kernel makes holds. */
  | { kind: 'replace'; path: string }
  /** Start it as a child: it may run, but a replacement could not be seen to be safe. */
  | { kind: 'spawn' }
  /** execvp would fail: ENOENT (127) or EACCES (126). */
  | { kind: 'fails'; code: 'ENOENT' | 'EACCES' };

/** The search path execvp uses when PATH is unset (glibc's confstr(_CS_PATH)). */
const DEFAULT_PATH = '/bin:/usr/bin';

/**
 * Well below the smallest limit Linux sets on argv + environ (ARG_MAX: a quarter of the stack
 * limit, never under 128 KiB), and on any one string (MAX_ARG_STRLEN, 128 KiB). Past these a
 * child reports E2BIG itself.
 */
const SAFE_TOTAL_BYTES = 64 * 1024;

/** ELF e_machine of the architectures Node runs on, by process.arch. */
const ELF_MACHINE: Partial<Record<string, number>> = { x64: 62, arm64: 183, ia32: 3, arm: 40, ppc64: 21, s390x: 22 };

/** The kernel follows at most this many nested `#!` interpreters. */
const MAX_INTERPRETER_DEPTH = 4;

/**
 * Where `process.execve` can replace this process at all: Linux (whose executable formats are
 * checked below), a Node that has it, and argv/environ that cannot reach the system's limits.
 */
export function canReplace(args: readonly string[], env: Readonly<Record<string, string>>): boolean {
  if (process.platform !== 'linux' || typeof process.execve !== 'function') return false;
  return withinExecLimits(args, env);
}

/** Whether argv and environ are well within the system's limits (and hold no NUL), anywhere. */
export function withinExecLimits(args: readonly string[], env: Readonly<Record<string, string>>): boolean {
  let total = 0;
  for (const text of [...args, ...Object.entries(env).map(([name, value]) => `${name}=${value}`)]) {
    if (text.includes('\0')) return false;
    total += Buffer.byteLength(text) + 1 + 8;
  }
  return total <= SAFE_TOTAL_BYTES;
}

/**
 * Whether stdin, stdout or stderr is non-blocking now (Linux: /proc/self/fdinfo). Node makes a pipe
 * non-blocking when it sets up the stream on it, and an open pipe's flags are shared by every
 * process that holds it: the command would inherit a non-blocking pipe it did not ask for (and fail
 * with EAGAIN where it expects a write to wait). Such a command is started as a child instead, where
 * the pipe is made blocking again for it.
 */
export function standardStreamsNonBlocking(): boolean {
  const O_NONBLOCK = 0o4000;
  for (const fd of [0, 1, 2]) {
    let text: string;
    try {
      text = readProcFile(`/proc/self/fdinfo/${fd}`);
    } catch {
      continue; // closed
    }
    const flags = /^flags:\s+([0-7]+)/m.exec(text)?.[1];
    if (flags === undefined || (Number.parseInt(flags, 8) & O_NONBLOCK) !== 0) return true;
  }
  return false;
}

/** A file of /proc, whose size reads as 0, to its end. */
export function readProcFile(path: string): string {
  const fd = openSync(path, constants.O_RDONLY);
  try {
    const buffer = Buffer.allocUnsafe(4096);
    let text = '';
    for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0; ) text += buffer.toString('latin1', 0, n);
    return text;
  } finally {
    closeSync(fd);
  }
}

/** Looks `file` up as execvp does (PATH from `path`, unset: the default) and checks what it finds. */
export function resolveCommand(file: string, path: string | undefined): Resolution {
  if (file === '') return { kind: 'fails', code: 'ENOENT' };
  if (file.includes('/')) {
    const found = check(file);
    return found === 'missing' ? { kind: 'fails', code: 'ENOENT' } : verdict(found, file);
  }
  let denied = false;
  for (const dir of (path ?? DEFAULT_PATH).split(':')) {
    // An empty entry is the current directory, as for execvp.
    const candidate = dir === '' ? file : `${dir.replace(/\/+$/, '')}/${file}`;
    const found = check(candidate);
    if (found === 'missing') continue;
    // execvp goes on past a file it may not execute, and reports EACCES only if nothing else runs.
    if (found === 'denied') {
      denied = true;
      continue;
    }
    return verdict(found, candidate);
  }
  return { kind: 'fails', code: denied ? 'EACCES' : 'ENOENT' };
}

function verdict(found: 'runs' | 'unsure' | 'denied', path: string): Resolution {
  if (found === 'runs') return { kind: 'replace', path };
  if (found === 'denied') return { kind: 'fails', code: 'EACCES' };
  return { kind: 'spawn' };
}

/**
 * What execve would make of `path`: 'runs', 'missing' (execvp tries the next directory), 'denied'
 * (not a regular file, or not executable by us), or 'unsure' (a format not checked here).
 */
function check(path: string, depth = 0): 'runs' | 'missing' | 'denied' | 'unsure' {
  let fd: number;
  try {
    accessSync(path, constants.X_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : code === 'EACCES' ? 'denied' : 'unsure';
  }
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch {
    // Executable but not readable: a binary still runs, a script does not; left to a child to find out.
    return 'unsure';
  }
  try {
    if (!fstatSync(fd).isFile()) return 'denied';
    const head = Buffer.alloc(4096);
    const length = readSync(fd, head, 0, head.length, 0);
    return format(fd, head.subarray(0, length), depth);
  } catch {
    return 'unsure';
  } finally {
    closeSync(fd);
  }
}

function format(fd: number, head: Buffer, depth: number): 'runs' | 'unsure' {
  if (head[0] === 0x23 && head[1] === 0x21) return interpreterRuns(head, depth) ? 'runs' : 'unsure';
  if (head.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) return elfRuns(fd, head) ? 'runs' : 'unsure';
  // No `#!` and no ELF: execvp would hand it to /bin/sh; a shell started as a child does the same.
  return 'unsure';
}

/** A `#!` line whose interpreter (absolute, as the kernel takes it) runs by the same test. */
function interpreterRuns(head: Buffer, depth: number): boolean {
  if (depth >= MAX_INTERPRETER_DEPTH) return false;
  const end = head.indexOf(0x0a);
  if (end < 0) return false;
  const interpreter = head.toString('latin1', 2, end).trim().split(/[ \t]/)[0] ?? '';
  return interpreter.startsWith('/') && check(interpreter, depth + 1) === 'runs';
}

/**
 * A little-endian 64-bit ELF executable for this machine, whose program interpreter (the dynamic
 * loader it names, if any) exists and may be executed.
 */
function elfRuns(fd: number, head: Buffer): boolean {
  const ELFCLASS64 = 2;
  const ELFDATA2LSB = 1;
  const PT_INTERP = 3;
  if (head.length < 64 || head[4] !== ELFCLASS64 || head[5] !== ELFDATA2LSB) return false;
  if (head.readUInt16LE(18) !== ELF_MACHINE[process.arch]) return false;
  const phoff = Number(head.readBigUInt64LE(32));
  const phentsize = head.readUInt16LE(54);
  const phnum = head.readUInt16LE(56);
  const table = Buffer.alloc(phentsize * phnum);
  if (readSync(fd, table, 0, table.length, phoff) !== table.length) return false;
  for (let i = 0; i < phnum; i++) {
    const entry = table.subarray(i * phentsize);
    if (entry.readUInt32LE(0) !== PT_INTERP) continue;
    const name = Buffer.alloc(Number(entry.readBigUInt64LE(32)));
    if (name.length === 0 || name.length > 4096) return false;
    if (readSync(fd, name, 0, name.length, Number(entry.readBigUInt64LE(8))) !== name.length) return false;
    const loader = name.toString('latin1').replace(/\0+$/, '');
    try {
      accessSync(loader, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  }
  // Statically linked: nothing else to find.
  return true;
}

/**
 * Becomes the command at `path` (argv[0] the name as given), or returns when Node refused after all
 * (Node 26 throws where 22 and 24 abort), with the error's code.
 *
 * Node ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored across execve, where a
 * command expects the default (`yes | head -1` ends by SIGPIPE). A handler, unlike an ignore, is
 * reset to the default by execve: a listener here installs one.
 */
export function replaceProcess(path: string, argv: readonly string[], env: Record<string, string>): string {
  for (const signal of ['SIGPIPE', 'SIGXFSZ'] as const) process.on(signal, () => undefined);
  try {
    process.execve!(path, [...argv], env);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? 'EACCES';
  }
  return 'EACCES';
}
