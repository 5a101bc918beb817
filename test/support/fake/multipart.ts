// A streaming multipart/form-data parser (RFC 7578) for the fake APIs: fed chunk by chunk, it keeps of
// each part its headers, size and SHA-256, and the value of small parts without a filename, so a
// 500 MB upload is checked without holding it. Strict: anything malformed is an error, not a guess.
import { createHash, type Hash } from 'node:crypto';

export interface MultipartPart {
  /** The form field name, from Content-Disposition. */
  name: string;
  /** The file name, for file parts. */
  filename?: string;
  contentType?: string;
  size: number;
  /** SHA-256 of the part's content, hex. */
  sha256: string;
  /** The content as UTF-8, for parts without a filename of at most VALUE_LIMIT bytes. */
  value?: string;
}

const VALUE_LIMIT = 64 * 1024;
const HEADER_LIMIT = 16 * 1024;

/** The boundary of a multipart/form-data Content-Type, or undefined when it is not one. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/form-data\s*(;|$)/i.test(contentType.trim())) return undefined;
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m?.[1] ?? m?.[2];
}

interface OpenPart {
  name: string;
  filename?: string;
  contentType?: string;
  size: number;
  hash: Hash;
  kept: Buffer[];
  keptSize: number;
}

type State = 'preamble' | 'headers' | 'body' | 'after-boundary' | 'done';

export class MultipartParser {
  readonly parts: MultipartPart[] = [];
  /** The first problem found; parsing stops there. */
  error: string | undefined;

  private state: State = 'preamble';
  private pending: Buffer = Buffer.alloc(0);
  private part: OpenPart | undefined;
  /** `--boundary`, as it opens the body. */
  private readonly first: Buffer;
  /** `\r\n--boundary`, as it ends every part. */
  private readonly delimiter: Buffer;

  constructor(boundary: string) {
    if (boundary.length < 1 || boundary.length > 70) this.error = 'boundary must be 1 to 70 characters';
    this.first = Buffer.from(`--${boundary}`, 'latin1');
    this.delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  }

  write(chunk: Buffer): void {
    if (this.error || this.state === 'done') return;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    this.run();
  }

  /** Call when the body has ended: an unfinished body is an error. */
  end(): void {
    if (!this.error && this.state !== 'done') this.error = 'the body ended before the closing boundary';
  }

  private fail(message: string): void {
    this.error = message;
    this.pending = Buffer.alloc(0);
  }

  private run(): void {
    for (;;) {
      if (this.error) return;
      switch (this.state) {
        case 'preamble': {
          const i = this.pending.indexOf(this.first);
          if (i < 0) {
            // Keep what could be the start of the boundary, and the CRLF before it.
            const keep = this.first.length + 2;
            if (this.pending.length > keep) this.pending = this.pending.subarray(this.pending.length - keep);
            return;
          }
          if (i > 0 && !(i >= 2 && this.pending[i - 2] === 0x0d && this.pending[i - 1] === 0x0a)) {
            this.fail('the first boundary does not start a line');
            return;
          }
          this.pending = this.pending.subarray(i + this.first.length);
          this.state = 'after-boundary';
          break;
        }
        case 'after-boundary': {
          if (this.pending.length < 2) return;
          const two = this.pending.subarray(0, 2).toString('latin1');
          if (two === '--') {
            this.state = 'done';
            this.pending = Buffer.alloc(0);
            return;
          }
          if (two !== '\r\n') {
            this.fail('a boundary is not followed by CRLF or --');
            return;
          }
          this.pending = this.pending.subarray(2);
          this.state = 'headers';
          break;
        }
        case 'headers': {
          const end = this.pending.indexOf('\r\n\r\n', 0, 'latin1');
          if (end < 0) {
            if (this.pending.length > HEADER_LIMIT) this.fail('part headers too long');
            return;
          }
          const opened = this.openPart(this.pending.subarray(0, end).toString('utf8'));
          if (!opened) return;
          this.pending = this.pending.subarray(end + 4);
          this.state = 'body';
          break;
        }
        case 'body': {
          const i = this.pending.indexOf(this.delimiter);
          if (i < 0) {
            const safe = this.pending.length - (this.delimiter.length - 1);
            if (safe > 0) {
              this.feed(this.pending.subarray(0, safe));
              this.pending = this.pending.subarray(safe);
            }
            return;
          }
          const after = i + this.delimiter.length;
          if (this.pending.length < after + 2) {
            // Whether it ends the part depends on the next two bytes.
            this.feed(this.pending.subarray(0, i));
            this.pending = this.pending.subarray(i);
            return;
          }
          const next = this.pending.subarray(after, after + 2).toString('latin1');
          if (next !== '--' && next !== '\r\n') {
            // Not a delimiter line, only content that looks like one.
            this.feed(this.pending.subarray(0, after));
            this.pending = this.pending.subarray(after);
            break;
          }
          this.feed(this.pending.subarray(0, i));
          this.closePart();
          this.pending = this.pending.subarray(after);
          this.state = 'after-boundary';
          break;
        }
        case 'done':
          return;
      }
    }
  }

  private openPart(headerText: string): boolean {
    const headers: Record<string, string> = {};
    for (const line of headerText.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) {
        this.fail(`malformed part header line ${JSON.stringify(line.slice(0, 80))}`);
        return false;
      }
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const disposition = headers['content-disposition'];
    if (!disposition || !/^form-data\s*(;|$)/i.test(disposition)) {
      this.fail('a part without Content-Disposition: form-data');
      return false;
    }
    const param = (key: string): string | undefined => {
      const m =
        new RegExp(`;\\s*${key}="((?:[^"\\\\]|\\\\.)*)"`, 'i').exec(disposition) ??
        new RegExp(`;\\s*${key}=([^;\\s]+)`, 'i').exec(disposition);
      return m?.[1]?.replace(/\\(.)/g, '$1');
    };
    const name = param('name');
    if (name === undefined) {
      this.fail('a part without a name');
      return false;
    }
    this.part = {
      name,
      filename: param('filename'),
      contentType: headers['content-type'],
      size: 0,
      hash: createHash('sha256'),
      kept: [],
      keptSize: 0,
    };
    return true;
  }

  private feed(data: Buffer): void {
    const p = this.part;
    if (!p || data.length === 0) return;
    p.size += data.length;
    p.hash.update(data);
    if (p.filename === undefined && p.keptSize <= VALUE_LIMIT) {
      p.kept.push(Buffer.from(data));
      p.keptSize += data.length;
    }
  }

  private closePart(): void {
    const p = this.part;
    if (!p) return;
    const part: MultipartPart = { name: p.name, size: p.size, sha256: p.hash.digest('hex') };
    if (p.filename !== undefined) part.filename = p.filename;
    if (p.contentType !== undefined) part.contentType = p.contentType;
    if (p.filename === undefined && p.keptSize <= VALUE_LIMIT) part.value = Buffer.concat(p.kept).toString('utf8');
    this.parts.push(part);
    this.part = undefined;
  }
}
