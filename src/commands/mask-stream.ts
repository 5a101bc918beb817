// The masker of `exec --mask`: a byte stream in, the same stream out with every occurrence of a
// secret replaced by `***`. Pure (no I/O): the relay (exec-child.ts) feeds it what the command writes.
//
// Bytes, never text: binary output passes unchanged but for the secrets, and the search is
// Buffer.indexOf per secret (native), with no loop over the bytes in JavaScript. Occurrences that
// overlap (of one secret or of several) are masked as one `***`, so no part of a longer secret
// survives next to a shorter one. Only the longest tail of what came in that could still be the
// beginning of a secret is held back for the next chunk; everything before it goes out at once.

/** What a masked stretch of bytes becomes. */
export const MASK = Buffer.from('***');

/**
 * The byte sequences to mask for these secrets: each, and its percent-encoded form (as in a URL or
 * a form body) when that differs. Empty secrets are ignored. Longest first, duplicates dropped.
 */
export function maskNeedles(secrets: readonly string[]): Buffer[] {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret === '') continue;
    forms.add(secret);
    forms.add(encodeURIComponent(secret));
  }
  return [...forms].map((form) => Buffer.from(form)).sort((a, b) => b.length - a.length);
}

/**
 * A secret that contains another (`Bearer TOKEN` holds `TOKEN`) can only occur where the other does:
 * it is looked for only there, so each chunk is scanned once per secret that contains no other.
 */
interface Needle {
  bytes: Buffer;
  /** The needle this one contains (an index into the list), and every offset it has inside this one. */
  inside?: { root: number; offsets: number[] };
}

function planNeedles(needles: Buffer[]): Needle[] {
  return needles.map((bytes, i) => {
    // The list is longest first: a contained needle comes later; the shortest is the best filter.
    for (let j = needles.length - 1; j > i; j--) {
      const root = needles[j]!;
      if (root.length === bytes.length || bytes.indexOf(root) < 0) continue;
      const offsets: number[] = [];
      for (let at = bytes.indexOf(root); at >= 0; at = bytes.indexOf(root, at + 1)) offsets.push(at);
      // The shortest needle inside this one contains no other needle itself: it is searched directly.
      return { bytes, inside: { root: j, offsets } };
    }
    return { bytes };
  });
}

export class StreamMasker {
  readonly #needles: Buffer[];
  readonly #plan: Needle[];
  /** The tail of the input held back: it could still begin a secret. */
  #held: Buffer = Buffer.alloc(0);
  /** How many bytes at the start of #held were inside a stretch already sent as `***`. */
  #covered = 0;
  #work: Buffer = Buffer.alloc(0);

  constructor(secrets: readonly string[]) {
    this.#needles = maskNeedles(secrets);
    this.#plan = planNeedles(this.#needles);
  }

  /** Whether there is anything to mask at all (else the relay may pass chunks straight on). */
  get active(): boolean {
    return this.#needles.length > 0;
  }

  /**
   * The next chunk of input; returns the output it releases (possibly empty), which may share memory
   * with the chunk or with the masker: valid until the next call.
   */
  push(chunk: Uint8Array): Buffer {
    const input = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#needles.length === 0 || input.length === 0) return input;
    const data = this.#held.length === 0 ? input : this.#joined(input);
    const keepFrom = this.#tailStart(data);
    return this.#release(data, keepFrom);
  }

  /**
   * The held tail and the chunk, one after the other, in a work buffer kept from call to call: a
   * fresh 64 KiB buffer per chunk (Buffer.concat) costs more than all the searching.
   */
  #joined(input: Buffer): Buffer {
    const length = this.#held.length + input.length;
    if (this.#work.length < length) this.#work = Buffer.allocUnsafe(Math.max(length, 128 * 1024));
    this.#held.copy(this.#work, 0);
    input.copy(this.#work, this.#held.length);
    return this.#work.subarray(0, length);
  }

  /** The end of the input: whatever is held back goes out. */
  flush(): Buffer {
    const data = this.#held;
    if (data.length === 0) return data;
    return this.#release(data, data.length);
  }

  /**
   * Sends data[0, keepFrom) (masked), and every masked stretch that begins before keepFrom as a
   * whole; holds data[keepFrom, end) with the part of it such a stretch covered marked as sent.
   */
  #release(data: Buffer, keepFrom: number): Buffer {
    const stretches = this.#stretches(data);
    const out: Buffer[] = [];
    let pos = 0;
    let coveredUntil = 0;
    for (const [start, end, sent] of stretches) {
      // A stretch wholly inside the held tail is found again with the next chunk (one already
      // sent, at the start, stays marked as sent).
      if (start >= keepFrom && !sent) break;
      if (start > pos) out.push(data.subarray(pos, start));
      if (!sent) out.push(MASK);
      pos = end;
      coveredUntil = end;
    }
    if (pos < keepFrom) out.push(data.subarray(pos, keepFrom));
    const held = data.subarray(keepFrom);
    // Copied: the chunk it came from may be reused by its reader.
    this.#held = held.length === 0 ? Buffer.alloc(0) : Buffer.from(held);
    this.#covered = Math.max(0, coveredUntil - keepFrom);
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /**
   * Every stretch of data covered by an occurrence of a secret, overlapping occurrences merged, in
   * order: [start, end, already sent]. The held bytes already sent as `***` count as a stretch.
   */
  #stretches(data: Buffer): Array<[number, number, boolean]> {
    const found: Array<[number, number]> = [];
    const at: number[][] = this.#plan.map(() => []);
    // Shortest first, so that each needle's root has been searched before it.
    for (let i = this.#plan.length - 1; i >= 0; i--) {
      const { bytes, inside } = this.#plan[i]!;
      const starts = at[i]!;
      if (!inside) {
        for (let p = data.indexOf(bytes); p >= 0; p = data.indexOf(bytes, p + 1)) starts.push(p);
      } else {
        const seen = new Set<number>();
        for (const p of at[inside.root]!) {
          for (const offset of inside.offsets) {
            const start = p - offset;
            if (start < 0 || start + bytes.length > data.length || seen.has(start)) continue;
            seen.add(start);
            if (data.compare(bytes, 0, bytes.length, start, start + bytes.length) === 0) starts.push(start);
          }
        }
      }
      for (const start of starts) found.push([start, start + bytes.length]);
    }
    const merged: Array<[number, number, boolean]> = this.#covered > 0 ? [[0, this.#covered, true]] : [];
    if (found.length === 0) return merged;
    found.sort((a, b) => a[0] - b[0]);
    for (const [start, end] of found) {
      const last = merged.at(-1);
      if (last && start < last[1]) last[1] = Math.max(last[1], end);
      else merged.push([start, end, false]);
    }
    return merged;
  }

  /**
   * Where the longest tail of data that is a proper beginning of some secret starts (data.length
   * when none is): it must wait for the next chunk to tell.
   */
  #tailStart(data: Buffer): number {
    let best = data.length;
    for (const needle of this.#needles) {
      const first = needle[0]!;
      // Only a tail shorter than the secret can be a proper beginning of it; longer tails first.
      let at = Math.max(0, data.length - needle.length + 1);
      for (; at < best; at++) {
        at = data.indexOf(first, at);
        if (at < 0 || at >= best) break;
        if (data.subarray(at).equals(needle.subarray(0, data.length - at))) {
          best = at;
          break;
        }
      }
    }
    return best;
  }
}
