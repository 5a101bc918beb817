// The one rule for files and directories of ours (src/files/file-judge.ts), as a table.
import { describe, expect, it } from 'vitest';
import { judgeEntry, type EntryFacts, type Judgement } from '../../src/files/file-judge.js';

const US = 1000;

function facts(type: 'file' | 'directory' | 'link' | 'fifo', mode: number, uid = US): EntryFacts {
  return {
    isFile: () => type === 'file',
    isDirectory: () => type === 'directory',
    isSymbolicLink: () => type === 'link',
    uid,
    mode,
  };
}

const trusted: Judgement = { kind: 'trusted' };
const refused = (reason: string): Judgement => ({ kind: 'refused', reason });
const WRITABLE = 'it is writable by group or others, so its contents cannot be trusted';

describe('judgeEntry', () => {
  it.each<[string, EntryFacts, 'file' | 'directory', boolean, Judgement]>([
    ['private file', facts('file', 0o600), 'file', false, trusted],
    ['read-only private file', facts('file', 0o400), 'file', false, trusted],
    ['file others may read', facts('file', 0o644), 'file', false, { kind: 'tighten', mode: 0o600 }],
    ['file the group may read', facts('file', 0o640), 'file', false, { kind: 'tighten', mode: 0o600 }],
    ['file others may write', facts('file', 0o602), 'file', false, refused(WRITABLE)],
    ['file the group may write', facts('file', 0o620), 'file', false, refused(WRITABLE)],
    ['file anyone may write', facts('file', 0o666), 'file', false, refused(WRITABLE)],
    [
      "another user's file",
      facts('file', 0o600, 4242),
      'file',
      false,
      refused('it is owned by another user (uid 4242)'),
    ],
    ['a link', facts('link', 0o777), 'file', false, refused('it is a symbolic link')],
    ['a FIFO', facts('fifo', 0o600), 'file', false, refused('it is not a regular file')],
    ['a directory where a file belongs', facts('directory', 0o700), 'file', false, refused('it is not a regular file')],
    ['private directory', facts('directory', 0o700), 'directory', false, trusted],
    ['directory others may enter', facts('directory', 0o755), 'directory', false, { kind: 'tighten', mode: 0o700 }],
    // Every file inside is judged by itself, so a looser directory of ours is tightened, not refused.
    ['directory the group may write', facts('directory', 0o770), 'directory', false, { kind: 'tighten', mode: 0o700 }],
    ['a file where a directory belongs', facts('file', 0o700), 'directory', false, refused('it is not a directory')],
    ['a link to a directory', facts('link', 0o777), 'directory', false, refused('it is a symbolic link')],
    [
      "another user's directory",
      facts('directory', 0o700, 0),
      'directory',
      false,
      refused('it is owned by another user (uid 0)'),
    ],
    ['private secret', facts('file', 0o600), 'file', true, trusted],
    [
      'secret others may read',
      facts('file', 0o604),
      'file',
      true,
      refused('group or others have access to it (mode 0604)'),
    ],
    [
      'secret the group may read',
      facts('file', 0o640),
      'file',
      true,
      refused('group or others have access to it (mode 0640)'),
    ],
    ['secret others may write', facts('file', 0o622), 'file', true, refused(WRITABLE)],
  ])('%s', (_name, entry, expected, secret, judgement) => {
    expect(judgeEntry(entry, expected, { uid: US, secret })).toEqual(judgement);
  });

  it('skips the owner check where the platform has no uids', () => {
    expect(judgeEntry(facts('file', 0o600, 4242), 'file', { uid: undefined })).toEqual(trusted);
  });

  it('a secret is never tightened: trusted or refused, whatever its mode', () => {
    for (let mode = 0; mode <= 0o777; mode++) {
      expect(judgeEntry(facts('file', mode), 'file', { uid: US, secret: true }).kind).not.toBe('tighten');
    }
  });
});
