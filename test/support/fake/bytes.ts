// Deterministic binary bodies for the fakes: every byte value, NULs, CRLFs and invalid UTF-8, generated
// in 64 KiB chunks so a large body streams without being held in memory. Each chunk carries its index
// in its first 4 bytes, so a body with chunks reordered, dropped or repeated has another digest.
import { createHash } from 'node:crypto';

export const CHUNK_SIZE = 64 * 1024;

const BLOCK: Buffer = (() => {
  const b = Buffer.alloc(CHUNK_SIZE);
  let x = 0x9e3779b9;
  for (let i = 0; i < CHUNK_SIZE; i++) {
    // xorshift32: not periodic within the block, covers every byte value.
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
})();

/** The generated body of `size` bytes, chunk by chunk (each a fresh Buffer the caller may keep). */
export function* generatedChunks(size: number): Generator<Buffer> {
  for (let index = 0, offset = 0; offset < size; index++, offset += CHUNK_SIZE) {
    const chunk = Buffer.from(BLOCK.subarray(0, Math.min(CHUNK_SIZE, size - offset)));
    const head = Buffer.alloc(4);
    head.writeUInt32BE(index >>> 0);
    head.copy(chunk, 0, 0, Math.min(4, chunk.length));
    yield chunk;
  }
}

/** The whole generated body of `size` bytes (for sizes a test can hold). */
export function generatedBytes(size: number): Buffer {
  return Buffer.concat([...generatedChunks(size)]);
}

/** SHA-256 (hex) of the generated body of `size` bytes, computed without holding it. */
export function generatedDigest(size: number): string {
  const h = createHash('sha256');
  for (const c of generatedChunks(size)) h.update(c);
  return h.digest('hex');
}
