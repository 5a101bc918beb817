// Request bodies for `tokens api`, each able to produce its bytes afresh for a repeated attempt
// (except stdin, which can be read once): JSON from fields, a file as is (--input), and
// multipart/form-data (--form) whose files are streamed from disk, never held in memory.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { UsageError } from '../base/errors.js';
import type { FormPart } from './request-fields.js';

export interface RequestBody {
  /** The bytes, a fresh stream for each attempt. */
  open(): AsyncIterable<Uint8Array> | Uint8Array;
  /** Content-Length, when known in advance (a file's size; the whole multipart message). */
  length?: number;
  /** False for a body read from stdin: it can be sent once only. */
  replayable: boolean;
  /** The Content-Type it implies, unless -H sets one. */
  contentType?: string;
}

export function jsonBody(value: unknown): RequestBody {
  const bytes = Buffer.from(JSON.stringify(value));
  return { open: () => bytes, length: bytes.length, replayable: true, contentType: 'application/json' };
}

/** A regular file's size, or a usage error naming the flag. */
async function fileSize(path: string, flag: string): Promise<number> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`${flag}: cannot read ${path} (${code === 'ENOENT' ? 'no such file' : (code ?? 'error')})`);
  }
  if (!info.isFile()) throw new UsageError(`${flag}: ${path} is not a regular file`);
  return info.size;
}

/** The file's bytes, checked against the size it had when the request was planned. */
async function* fileBytes(path: string, size: number): AsyncIterable<Uint8Array> {
  let sent = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) {
    sent += (chunk as Buffer).length;
    if (sent > size) break;
    yield chunk as Buffer;
  }
  if (sent !== size) throw new Error(`${path} changed size while it was being sent`);
}

export async function fileBody(path: string, flag = '--input'): Promise<RequestBody> {
  const size = await fileSize(path, flag);
  return { open: () => fileBytes(path, size), length: size, replayable: true, contentType: 'application/json' };
}

export function stdinBody(stdin: NodeJS.ReadableStream): RequestBody {
  return { open: () => stdin as AsyncIterable<Uint8Array>, replayable: false, contentType: 'application/json' };
}

const MEDIA_TYPES: Record<string, string> = {
  '.aac': 'audio/aac',
  '.aif': 'audio/aiff',
  '.aiff': 'audio/aiff',
  '.amr': 'audio/amr',
  '.flac': 'audio/flac',
  '.m4a': 'audio/mp4',
  '.mp2': 'audio/mpeg',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
  '.wav': 'audio/wav',
  '.wma': 'audio/x-ms-wma',
  '.gif': 'image/gif',
  '.jpeg': 'image/jpeg',
  '.jpg': 'image/jpeg',
  '.png': 'image/png',
  '.json': 'application/json',
  '.txt': 'text/plain',
};

/** A name or file name inside a Content-Disposition header, escaped as browsers do. */
function quoted(text: string): string {
  return `"${text.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A')}"`;
}

/**
 * multipart/form-data with a Content-Length worked out up front (the files' sizes plus the part
 * headers), so the upload streams at constant memory and a server can refuse a too-large one early.
 */
export async function multipartBody(parts: readonly FormPart[], boundary: string): Promise<RequestBody> {
  const pieces: Array<Buffer | { path: string; size: number }> = [];
  for (const part of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name=${quoted(part.name)}`;
    if (part.file !== undefined) {
      const size = await fileSize(part.file, '--form');
      const type = MEDIA_TYPES[extname(part.file).toLowerCase()] ?? 'application/octet-stream';
      head += `; filename=${quoted(basename(part.file))}\r\nContent-Type: ${type}\r\n\r\n`;
      pieces.push(Buffer.from(head), { path: part.file, size }, Buffer.from('\r\n'));
    } else {
      pieces.push(Buffer.from(`${head}\r\n\r\n${part.text ?? ''}\r\n`));
    }
  }
  pieces.push(Buffer.from(`--${boundary}--\r\n`));
  const length = pieces.reduce((sum, p) => sum + (Buffer.isBuffer(p) ? p.length : p.size), 0);
  async function* open(): AsyncIterable<Uint8Array> {
    for (const piece of pieces) {
      if (Buffer.isBuffer(piece)) yield piece;
      else yield* fileBytes(piece.path, piece.size);
    }
  }
  return { open, length, replayable: true, contentType: `multipart/form-data; boundary=${boundary}` };
}
