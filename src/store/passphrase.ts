// The passphrase of the encrypted stores (file, Redis), asked for only when a key is first needed,
// so a warm `get` never reads it. It comes from TOKENS_PASSPHRASE, else from the first line of the
// file TOKENS_PASSPHRASE_FILE names (ours, owner-only, not a link: like ssh with a private key),
// else from a hidden prompt when stdin is a terminal; otherwise exit 6 naming both variables.
// The passphrase itself is never written anywhere: not in a message, not in a warning.
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { IO } from '../model/runtime.js';
import { readEnv, TOKENS_PASSPHRASE, TOKENS_PASSPHRASE_FILE } from '../model/env.js';
import { StoreError } from '../base/errors.js';
import { InputReader } from '../files/input.js';
import type { Env } from '../model/paths.js';
import { describeErrno, errnoCode } from '../files/private-files.js';
import { judgeEntry } from '../files/file-judge.js';

/** Below this many characters a passphrase is accepted with a warning: it is easy to guess offline. */
export const SHORT_PASSPHRASE_CHARS = 12;
/** A passphrase file is one short line; anything larger is not one. */
const MAX_PASSPHRASE_FILE_BYTES = 4096;

/** Yields the passphrase, each source read at most once. */
export interface PassphraseSource {
  (): Promise<string>;
  /** The passphrase when it is known without asking anyone: what no message may show, even before it is used. */
  known: () => string | undefined;
}

/** What a store is given: a source, or (tests, callers that already hold it) the value itself. */
export type PassphraseOption = PassphraseSource | string | undefined;

/** Why a passphrase cannot be used at all, or undefined when it can. */
export function unusablePassphrase(passphrase: string): string | undefined {
  return passphrase.trim() === '' ? 'is empty or only blanks' : undefined;
}

/** The store's option as a source: a value is used as given, none is the missing-passphrase error. */
export function asPassphraseSource(option: PassphraseOption, storeName: string): PassphraseSource {
  if (typeof option === 'function') return option;
  if (option === undefined || option === '') return once(() => Promise.reject(missingPassphrase(storeName)));
  return once(
    () => Promise.resolve(option),
    () => option,
  );
}

/**
 * The passphrase as the environment gives it (see the head of this file). `storeName` (file,
 * redis) is for messages; `io` for the prompt on a terminal and the warning about a short one
 * (without it: no prompt, no warning).
 */
export function passphraseFromEnvironment(env: Env, storeName: string, io?: IO): PassphraseSource {
  const fromVariable = () => {
    try {
      return readEnv(env, TOKENS_PASSPHRASE);
    } catch {
      return undefined;
    }
  };
  return once(async () => {
    const fromVariable = readEnv(env, TOKENS_PASSPHRASE);
    const path = readEnv(env, TOKENS_PASSPHRASE_FILE);
    let passphrase: string;
    let origin: string;
    if (fromVariable !== undefined) {
      [passphrase, origin] = [fromVariable, TOKENS_PASSPHRASE.name];
    } else if (path !== undefined) {
      [passphrase, origin] = [await readPassphraseFile(path), `the file ${path}`];
    } else if (io?.stdinIsTTY) {
      const reader = new InputReader(io);
      passphrase = await reader.readHidden(`Passphrase of the ${storeName} store: `);
      origin = 'the prompt';
    } else {
      throw missingPassphrase(storeName);
    }
    const unusable = unusablePassphrase(passphrase);
    if (unusable) throw new StoreError(`the passphrase from ${origin} ${unusable}`);
    if ([...passphrase].length < SHORT_PASSPHRASE_CHARS)
      io?.stderr.write(
        `warning: the passphrase from ${origin} is shorter than ${SHORT_PASSPHRASE_CHARS} characters, so it is easy to guess\n`,
      );
    return passphrase;
  }, fromVariable);
}

function missingPassphrase(storeName: string): StoreError {
  return new StoreError(
    `TOKENS_STORE=${storeName} needs a passphrase: neither ${TOKENS_PASSPHRASE.name} nor ${TOKENS_PASSPHRASE_FILE.name} is set, and stdin is not a terminal to ask on`,
    {
      hint: `Set ${TOKENS_PASSPHRASE_FILE.name} to a file (mode 0600) holding the passphrase, or ${TOKENS_PASSPHRASE.name} to the passphrase.`,
    },
  );
}

/**
 * The first line of the passphrase file: a regular file of ours that no one else may read or
 * write, opened without following a link. One that others could read is refused, not tightened:
 * its passphrase may already be known.
 */
export async function readPassphraseFile(path: string): Promise<string> {
  const refuse = (why: string) =>
    new StoreError(`refusing the passphrase file ${path}: ${why}`, {
      hint: `Create it owner-only: (umask 077; printf '%s\\n' 'PASSPHRASE' > FILE), or chmod 600 it.`,
    });
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    if (errnoCode(error) === 'ELOOP') throw refuse('it is a symbolic link');
    throw new StoreError(`cannot read the passphrase file ${path}: ${describeErrno(error)}`, {
      hint: `Check ${TOKENS_PASSPHRASE_FILE.name}.`,
    });
  }
  try {
    const info = await handle.stat();
    // A secret is never "tightened": it is trusted or refused.
    const judgement = judgeEntry(info, 'file', { secret: true });
    if (judgement.kind === 'refused') throw refuse(judgement.reason);
    if (info.size > MAX_PASSPHRASE_FILE_BYTES) throw refuse(`it is larger than ${MAX_PASSPHRASE_FILE_BYTES} bytes`);
    const buffer = Buffer.alloc(MAX_PASSPHRASE_FILE_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const text = buffer.toString('utf8', 0, bytesRead);
    buffer.fill(0);
    return /^[^\r\n]*/.exec(text)?.[0] ?? '';
  } finally {
    await handle.close();
  }
}

/** The source asked once; a failure is not kept, so a later call asks again. */
function once(ask: () => Promise<string>, knownBefore: () => string | undefined = () => undefined): PassphraseSource {
  let pending: Promise<string> | undefined;
  let value: string | undefined;
  const source = () => {
    pending ??= ask().then((passphrase) => (value = passphrase));
    pending.catch(() => (pending = undefined));
    return pending;
  };
  return Object.assign(source, { known: () => value ?? knownBefore() });
}
