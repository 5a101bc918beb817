// Only documented Node APIs: no internal binding, in our source or in anything bundled with it. An
// internal's shape can change in a patch release (process_wrap's spawn did, in 24.19 and 26.4, and
// made exec abort), and an abort cannot be caught.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, it } from 'vitest';
import { DIST, ROOT } from '../support/cli.js';

const INTERNALS = [
  /\bprocess\s*\.\s*binding\b/,
  /\bprocess\s*\[\s*['"`]binding['"`]\s*\]/,
  /Reflect\.get\([^)]*['"`]binding['"`]/,
  /\binternalBinding\b/,
  /\b_linkedBinding\b/,
  /expose[-_]internals/,
  /\bprocess_wrap\b|\bspawn_sync\b.*binding/,
];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return /\.(c?js|mjs|ts)$/.test(name) ? [path] : [];
  });
}

it.each([
  ['the bundles (dist/)', DIST],
  ['our source (src/)', join(ROOT, 'src')],
  ['bin/', join(ROOT, 'bin')],
])('no internal Node API in %s', (_, dir) => {
  const found = files(dir).flatMap((file) => {
    const text = readFileSync(file, 'utf8');
    return INTERNALS.filter((pattern) => pattern.test(text)).map((pattern) => `${relative(ROOT, file)}: ${pattern}`);
  });
  expect(files(dir).length).toBeGreaterThan(0);
  expect(found).toEqual([]);
});

it('the check finds what it looks for', () => {
  const samples = [
    "process.binding('process_wrap')",
    "Reflect.get(proc, 'binding')",
    "internalBinding('fs')",
    'node --expose-internals',
  ];
  for (const sample of samples)
    expect(
      INTERNALS.some((pattern) => pattern.test(sample)),
      sample,
    ).toBe(true);
});
