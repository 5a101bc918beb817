// Files tokens writes itself: mode 0600 inside directories mode 0700, replaced atomically.
import { chmod, mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await stat(dir);
  // mkdir leaves an existing directory as it was; tighten a loose one we own.
  if ((info.mode & 0o077) !== 0 && info.uid === process.getuid?.()) await chmod(dir, 0o700);
}

/**
 * Atomic write-and-rename (write-file-atomic: temp file, fsync, rename), mode 0600. `fsync: false`
 * for files that may be lost in a crash (the token cache, which is rebuilt, and the notes that say
 * what is stored): the rename still makes the change atomic, and one fsync costs milliseconds.
 */
export async function writePrivateFile(path: string, contents: string, { fsync = true } = {}): Promise<void> {
  await ensurePrivateDir(dirname(path));
  const { default: writeFileAtomic } = await import('write-file-atomic');
  await writeFileAtomic(path, contents, { mode: 0o600, fsync });
}
