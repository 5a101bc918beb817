import { writeSync } from 'node:fs';

/** Where a command writes text for people (stderr): all the program asks of it. */
export interface TextSink {
  write(text: string): unknown;
}

/**
 * Writes to fd 1 or 2 with writeSync, which is what process.stdout and process.stderr do on Linux for
 * a file, a pipe or a terminal, without setting the stream up: that costs a few milliseconds, and
 * for a pipe it turns on O_NONBLOCK, which the open pipe shares with every process holding it (the
 * command `exec` becomes among them). Whatever writeSync cannot finish (EAGAIN on a pipe already
 * non-blocking, EPIPE, …) goes to the stream after all, whose handling of it is Node's. Returns the
 * stream when it was used, for the caller to let it drain before exiting.
 */
export function writeOut(fd: 1 | 2, text: string | Uint8Array): NodeJS.WriteStream | undefined {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  let written = 0;
  try {
    while (written < bytes.length) written += writeSync(fd, bytes, written);
    return undefined;
  } catch {
    const stream = fd === 1 ? process.stdout : process.stderr;
    stream.write(bytes.subarray(written));
    return stream;
  }
}

/** stderr as a TextSink that writes synchronously (see writeOut). */
export const syncStderr: TextSink = { write: (text: string) => writeOut(2, text) };
