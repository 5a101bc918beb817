// The masker of `exec --mask` (src/commands/mask-stream.ts), fed the same input in every way a pipe
// could cut it: each output must equal the whole input masked at once, which a plain reference
// (every occurrence found in the whole input, overlaps merged) gives.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { maskNeedles, StreamMasker } from '../../src/commands/mask-stream.js';

/** The whole input masked in one go, by the plainest means: every occurrence by a byte-wise scan, overlaps merged. */
function reference(input: Buffer, secrets: string[]): Buffer {
  const found: Array<[number, number]> = [];
  for (const needle of maskNeedles(secrets)) {
    for (let i = 0; i + needle.length <= input.length; i++) {
      if (input.subarray(i, i + needle.length).equals(needle)) found.push([i, i + needle.length]);
    }
  }
  found.sort((a, b) => a[0] - b[0]);
  const out: Buffer[] = [];
  let pos = 0;
  let end = -1;
  for (const [s, e] of found) {
    if (s < end) {
      end = Math.max(end, e);
      continue;
    }
    if (end > pos) pos = end;
    out.push(input.subarray(pos, s), Buffer.from('***'));
    pos = s;
    end = e;
  }
  if (end > pos) pos = end;
  out.push(input.subarray(pos));
  return Buffer.concat(out);
}

function streamed(chunks: Buffer[], secrets: string[]): Buffer {
  const masker = new StreamMasker(secrets);
  const out: Buffer[] = chunks.map((chunk) => Buffer.from(masker.push(chunk)));
  out.push(masker.flush());
  return Buffer.concat(out);
}

const CASES: Array<{ name: string; input: string; secrets: string[]; expected: string }> = [
  { name: 'one secret', input: 'token=abc123; end', secrets: ['abc123'], expected: 'token=***; end' },
  { name: 'no secret in the input', input: 'nothing here ab12', secrets: ['abc123'], expected: 'nothing here ab12' },
  { name: 'the input ends in a partial secret', input: 'x abc12', secrets: ['abc123'], expected: 'x abc12' },
  { name: 'twice, side by side', input: 'abcabc', secrets: ['abc'], expected: '******' },
  {
    name: 'a longer secret beats a shorter inside it',
    input: 'Bearer tok!',
    secrets: ['tok', 'Bearer tok'],
    expected: '***!',
  },
  { name: 'overlapping secrets are one stretch', input: '1abcdef2', secrets: ['abcd', 'cdef'], expected: '1***2' },
  { name: 'overlapping occurrences of one secret', input: '-aaaa-', secrets: ['aaa'], expected: '-***-' },
  {
    name: 'percent-encoded too',
    input: 'url?t=a%2Fb%3Dc and a/b=c',
    secrets: ['a/b=c'],
    expected: 'url?t=*** and ***',
  },
  { name: 'empty secrets are ignored', input: 'abc', secrets: ['', 'b'], expected: 'a***c' },
  { name: 'a false start, then the secret', input: 'abababc', secrets: ['ababc'], expected: 'ab***' },
  { name: 'several secrets', input: 'k1=AAA k2=BBBB', secrets: ['AAA', 'BBBB'], expected: 'k1=*** k2=***' },
  { name: 'utf-8 secrets', input: 'é☃é', secrets: ['☃'], expected: 'é***é' },
];

describe('StreamMasker', () => {
  it.each(CASES)('$name: whole, split at every position, a byte at a time', ({ input, secrets, expected }) => {
    const bytes = Buffer.from(input);
    expect(reference(bytes, secrets).toString()).toBe(expected);
    expect(streamed([bytes], secrets).toString()).toBe(expected);
    for (let i = 0; i <= bytes.length; i++) {
      for (let j = i; j <= bytes.length; j++) {
        const parts = [bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)];
        expect(streamed(parts, secrets).toString(), `cut at ${i}, ${j}`).toBe(expected);
      }
    }
    const bytewise = [...bytes].map((b) => Buffer.from([b]));
    expect(streamed(bytewise, secrets).toString()).toBe(expected);
  });

  it('sends at once every byte that cannot begin a secret, and holds no more than could', () => {
    const masker = new StreamMasker(['secret-value']);
    expect(masker.push(Buffer.from('prompt> ')).toString()).toBe('prompt> ');
    expect(masker.push(Buffer.from('say secr')).toString()).toBe('say ');
    expect(masker.push(Buffer.from('ET')).toString()).toBe('secrET');
    expect(masker.push(Buffer.from('secret-val')).toString()).toBe('');
    expect(masker.push(Buffer.from('ue and')).toString()).toBe('*** and');
    expect(masker.push(Buffer.from(' s')).toString()).toBe(' ');
    expect(masker.flush().toString()).toBe('s');
  });

  it('a secret straddling a 64 KiB chunk boundary, at every offset across it', () => {
    const secret = 'tok_9f8e7d6c5b4a';
    const chunk = 64 * 1024;
    for (let offset = chunk - secret.length; offset <= chunk; offset++) {
      const input = Buffer.alloc(2 * chunk, 'x');
      input.write(secret, offset);
      const out = streamed([input.subarray(0, chunk), input.subarray(chunk)], [secret]);
      const expected = Buffer.concat([
        input.subarray(0, offset),
        Buffer.from('***'),
        input.subarray(offset + secret.length),
      ]);
      expect(out.equals(expected), `offset ${offset}`).toBe(true);
    }
  });

  it('random binary data: unchanged but for the planted secrets, in random chunks, against the reference', () => {
    const secrets = ['\u0000\u00ff\u0001secret', 'Bearer abc.def', 'abc.def'];
    for (let round = 0; round < 20; round++) {
      const pieces: Buffer[] = [];
      for (let i = 0; i < 30; i++) {
        pieces.push(randomBytes(Math.floor(Math.random() * 200)));
        const secret = secrets[i % secrets.length]!;
        // Sometimes whole, sometimes cut short (a false start).
        const bytes = Buffer.from(secret);
        pieces.push(i % 4 === 3 ? bytes.subarray(0, bytes.length - 1) : bytes);
      }
      const input = Buffer.concat(pieces);
      const chunks: Buffer[] = [];
      for (let at = 0; at < input.length; ) {
        const size = 1 + Math.floor(Math.random() * 40);
        chunks.push(input.subarray(at, at + size));
        at += size;
      }
      const expected = reference(input, secrets);
      expect(streamed(chunks, secrets).equals(expected)).toBe(true);
      expect(streamed([input], secrets).equals(expected)).toBe(true);
    }
  });

  it('big binary data with no secret passes through byte for byte', () => {
    const data = randomBytes(8 * 1024 * 1024);
    const masker = new StreamMasker(['a-secret-of-some-length', 'another one']);
    const hash = createHash('sha256');
    for (let at = 0; at < data.length; at += 65536) hash.update(masker.push(data.subarray(at, at + 65536)));
    hash.update(masker.flush());
    expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('with no secrets (all empty), nothing is held or changed', () => {
    const masker = new StreamMasker(['']);
    expect(masker.active).toBe(false);
    expect(masker.push(Buffer.from('abc')).toString()).toBe('abc');
    expect(masker.flush().length).toBe(0);
  });
});
