// The files and directories tokens owns (config, cache, state, the default data directory), treated
// as hostile ground, the way OpenSSH treats ~/.ssh. Whether an entry may be used is file-judge.ts's
// one rule; this module applies it:
// - Directories: every one from the `tokens` directory under the XDG base down to the file's is
//   created 0700 and judged (the XDG base itself, ~/.cache and the like, is not ours and is left
//   as it is).
// - Writes: a temp file in the same directory, opened O_CREAT|O_EXCL|O_NOFOLLOW with mode 0600 (so
//   it is new, ours, and nothing planted at its name is followed), written, fsynced, then renamed
//   over the path. rename(2) replaces whatever entry is at the path, a symbolic link included,
//   without following it: a link planted at a path of ours is replaced, never written through, and
//   the file keeps our owner.
// - Reads: opened O_NOFOLLOW|O_NONBLOCK (a link is refused; a FIFO cannot block the open) and
//   judged by the fstat of that descriptor.
import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { StoreError } from '../base/errors.js';
import { judgeEntry } from './file-judge.js';

const NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const NONBLOCK = constants.O_NONBLOCK ?? 0;

/** Why a file or directory of ours was not used: exit 6, naming it. */
export class UnsafePathError extends StoreError {
  constructor(
    readonly path: string,
    why: string,
    hint = `Remove it (tokens recreates what it needs, mode 0700/0600), or point the XDG variable elsewhere.`,
  ) {
    super(`refusing to use ${path}: ${why}`, { hint });
  }
}

const ERRNO_TEXT: Record<string, string> = {
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a parent is not a directory',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ELOOP: 'a symbolic link',
  EISDIR: 'a directory',
};

export function errnoCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** "read-only file system (EROFS)", for messages. */
export function describeErrno(error: unknown): string {
  const code = errnoCode(error);
  if (!code) return 'unexpected error';
  return ERRNO_TEXT[code] ? `${ERRNO_TEXT[code]} (${code})` : code;
}

/** A directory of ours that cannot be created or used: exit 6, naming it. */
export function unusableDir(dir: string, error: unknown): StoreError {
  return new StoreError(`cannot use the directory ${dir}: ${describeErrno(error)}`, {
    hint: 'tokens needs it writable; fix its permissions or the file system, or point the XDG variable elsewhere.',
  });
}

/**
 * Makes `dir` (which is `root` or inside it) and every directory from `root` down to it exist,
 * mode 0700, ours, and not symbolic links. `root` is one of tokens' own directories (Paths).
 * With `create: false` (before a read) nothing is created: the check stops at the first missing one.
 */
export async function ensurePrivateDir(root: string, dir: string, { create = true } = {}): Promise<void> {
  const rel = relative(root, dir);
  if (rel.startsWith('..') || rel.startsWith(sep)) throw new Error(`internal error: ${dir} is not under ${root}`);
  const levels = [root];
  for (const part of rel === '' ? [] : rel.split(sep)) levels.push(join(levels.at(-1)!, part));
  for (const [i, level] of levels.entries()) {
    let info = await lstat(level).catch((error: unknown) => {
      if (errnoCode(error) === 'ENOENT') return undefined;
      throw unusableDir(level, error);
    });
    if (!info && !create) return;
    if (!info) {
      try {
        // The XDG base above our root is created too when missing (0700, as the spec asks).
        await mkdir(level, { recursive: i === 0, mode: 0o700 });
      } catch (error) {
        if (errnoCode(error) !== 'EEXIST') throw unusableDir(level, error);
      }
      info = await lstat(level).catch((error: unknown) => {
        throw unusableDir(level, error);
      });
    }
    const judgement = judgeEntry(info, 'directory');
    if (judgement.kind === 'refused') throw new UnsafePathError(level, judgement.reason);
    if (judgement.kind === 'tighten') {
      await chmod(level, judgement.mode).catch((error: unknown) => {
        throw unusableDir(level, error);
      });
    }
  }
}

/**
 * Writes `contents` to `path` (under `root`, see ensurePrivateDir), atomically, mode 0600.
 * `durable: false` skips the fsyncs, for files that may be lost in a crash (the token cache, which
 * is then refreshed; the notes of what is stored, which are then asked of the store): the rename
 * still makes the replacement atomic, and the fsyncs cost milliseconds on every write.
 */
export async function writePrivateFile(
  root: string,
  path: string,
  contents: string | Uint8Array,
  { durable = true } = {},
): Promise<void> {
  await ensurePrivateDir(root, dirname(path));
  try {
    await replaceFile(path, contents, { durable });
  } catch (error) {
    throw new StoreError(`cannot write ${path}: ${describeErrno(error)}`, { cause: error });
  }
}

/**
 * The atomic replacement alone (the caller vouches for the directory): temp file O_EXCL|O_NOFOLLOW
 * 0600 beside `path`, fsync, rename over `path` (replacing a link there, never following it), then
 * fsync of the directory so the rename survives a crash. Errors are the system's (errno codes).
 */
export async function replaceFile(path: string, contents: string | Uint8Array, { durable = true } = {}): Promise<void> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW;
  let temp = '';
  let handle: FileHandle | undefined;
  for (let attempt = 0; !handle; attempt++) {
    temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`;
    try {
      handle = await open(temp, flags, 0o600);
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST' || attempt >= 5) throw error;
    }
  }
  try {
    try {
      await handle.writeFile(contents);
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  if (durable) await syncDir(dirname(path));
}

async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(dir, constants.O_RDONLY).catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close().catch(() => undefined);
}

/**
 * Reads a file of ours: undefined when it does not exist; UnsafePathError when it is a link, not a
 * regular file (a FIFO, a directory), owned by another user, writable by group or others, or
 * larger than maxBytes. A file of ours readable by others is tightened to 0600 first.
 */
export async function readPrivateFile(path: string, maxBytes: number): Promise<Buffer | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | NOFOLLOW | NONBLOCK);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new UnsafePathError(path, 'it is a symbolic link');
    throw new StoreError(`cannot read ${path}: ${describeErrno(error)}`);
  }
  try {
    const info = await handle.stat();
    const judgement = judgeEntry(info, 'file');
    if (judgement.kind === 'refused') throw new UnsafePathError(path, judgement.reason);
    if (judgement.kind === 'tighten') await handle.chmod(judgement.mode);
    if (info.size > maxBytes) throw new UnsafePathError(path, `it is larger than ${maxBytes} bytes`);
    const buffer = Buffer.alloc(Math.min(info.size + 1, maxBytes + 1));
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > maxBytes) throw new UnsafePathError(path, `it is larger than ${maxBytes} bytes`);
    }
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}
