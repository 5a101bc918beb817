// One answer to "may tokens trust this file or directory of its own?", for every reader: the full
// program's private-files.ts, the fast path's synchronous readers, the passphrase file. The rule:
// - it is what it should be (a regular file, or a directory), not a symbolic link, and owned by us
//   (where there are uids);
// - a file that others may write is refused: its contents could be anyone's;
// - any other access by others (a file they may read, a directory they may enter or write) is
//   tightened to 0600 / 0700: every file inside a directory is judged by itself, so what others
//   could have put there is refused file by file;
// - a secret the user keeps for us (the passphrase file) that others may read is refused instead:
//   it may have been read already, as OpenSSH refuses a readable private key.
// A reader that must not change anything (the fast path deciding whether it can answer) treats
// "tighten" as "not mine to answer" and leaves the case to the full program.
// No imports: dist/fast.cjs loads this.

/** The facts of an fs.Stats the judgement needs. */
export interface EntryFacts {
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  uid: number;
  mode: number;
}

export type Judgement =
  | { kind: 'trusted' }
  /** Ours, but others have some access: use it after chmod to `mode`. */
  | { kind: 'tighten'; mode: number }
  /** Not to be used; `reason` completes "refusing to use PATH: …". */
  | { kind: 'refused'; reason: string };

export interface JudgeOptions {
  /** Our uid; undefined where there is none (Windows), and owner checks are skipped. */
  uid?: number | undefined;
  /** A secret the user keeps for us: others' read access is refused, not tightened. */
  secret?: boolean;
}

/** Our uid, or undefined where the platform has none. */
export function ourUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

export function judgeEntry(facts: EntryFacts, expected: 'file' | 'directory', options: JudgeOptions = {}): Judgement {
  const uid = 'uid' in options ? options.uid : ourUid();
  if (facts.isSymbolicLink()) return { kind: 'refused', reason: 'it is a symbolic link' };
  if (expected === 'file' && !facts.isFile()) return { kind: 'refused', reason: 'it is not a regular file' };
  if (expected === 'directory' && !facts.isDirectory()) return { kind: 'refused', reason: 'it is not a directory' };
  if (uid !== undefined && facts.uid !== uid)
    return { kind: 'refused', reason: `it is owned by another user (uid ${facts.uid})` };
  const others = facts.mode & 0o077;
  if (others === 0) return { kind: 'trusted' };
  if (expected === 'file' && (others & 0o022) !== 0)
    return { kind: 'refused', reason: 'it is writable by group or others, so its contents cannot be trusted' };
  if (options.secret)
    return { kind: 'refused', reason: `group or others have access to it (mode ${octal(facts.mode)})` };
  return { kind: 'tighten', mode: expected === 'file' ? 0o600 : 0o700 };
}

function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}
