// A preload (`node --import FILE`) that appends the URL of every ES module the run loads to the file
// named by an environment variable: through module.registerHooks where Node has it (in the loading
// thread; module.register is deprecated from Node 26 and warns on stderr), else module.register.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Writes the preload (and its off-thread hooks) into `dir`; returns the preload's path. */
export async function writeEsmTracer(dir: string, fileVariable: string): Promise<string> {
  await writeFile(
    join(dir, 'esm-trace-hooks.mjs'),
    [
      "import { appendFileSync } from 'node:fs';",
      'let file;',
      'export function initialize(data) { file = data.file; }',
      'export async function load(url, context, next) { appendFileSync(file, `${url}\\n`); return next(url, context); }',
    ].join('\n'),
  );
  const preload = join(dir, 'esm-trace.mjs');
  await writeFile(
    preload,
    [
      "import * as mod from 'node:module';",
      "import { appendFileSync } from 'node:fs';",
      `const file = process.env[${JSON.stringify(fileVariable)}];`,
      "if (typeof mod.registerHooks === 'function') {",
      '  mod.registerHooks({',
      '    load(url, context, next) {',
      '      const loaded = next(url, context);',
      // registerHooks sees require() too: only what the ES module loader loads counts here.
      "      if (loaded.format === 'module') appendFileSync(file, `${url}\\n`);",
      '      return loaded;',
      '    },',
      '  });',
      '} else {',
      "  mod.register('./esm-trace-hooks.mjs', import.meta.url, { data: { file } });",
      '}',
    ].join('\n'),
  );
  return preload;
}
