// The layers of src/, lowest first, and the check that imports only run down them, with no cycle.
// Every import counts: static, `import type`, `export … from` and `import()`; TypeScript's own
// pre-processor finds them. test/unit/layers.test.ts runs the check in `npm test`;
// `node scripts/layers.mjs` prints what breaks it. The README's design notes draw the same picture.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** [layer, its modules (paths under src/ without .ts; a trailing / takes a whole folder)], lowest first. */
export const LAYERS = [
  ['basics: errors, schemas, untrusted text, profile names', ['base/']],
  [
    'model: the domain types and the process they run in (environment, paths, streams, the runtime injected)',
    ['model/'],
  ],
  ['files: our files, locks, config, refresh claims, the terminal', ['files/']],
  ['http: requests, proxies, bodies, the browser', ['http/']],
  ['oauth: grants and their answers', ['oauth/']],
  ['api: the request builder of `tokens api`', ['api/']],
  ['providers: data and adapters', ['providers/']],
  ['stores: secrets and coordination', ['store/']],
  ['broker: tokens from caches or one refresh', ['broker/']],
  ['serve: the server of `tokens serve` and its process', ['serve/']],
  ['commands: run functions', ['commands/']],
  ['warm answers: a command answered from files alone, for the fast path', ['warm/']],
  ["cli: the command specs, the program, the fast path's scanner, help, completion", ['cli/']],
  ['entries', ['main', 'direct', 'fast', 'supervise']],
];

/** The layer index of a module (path under src/ without .ts), or -1. */
export function layerOf(module) {
  return LAYERS.findIndex(([, members]) =>
    members.some((m) => (m.endsWith('/') ? module.startsWith(m) : module === m)),
  );
}

/** Every module under `src` and the modules each imports (relative imports only), as a Map. */
export function importGraph(src) {
  const graph = new Map();
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) {
        const module = relative(src, path).split(sep).join('/').replace(/\.ts$/, '');
        const found = ts.preProcessFile(readFileSync(path, 'utf8'), true, true).importedFiles;
        const targets = found
          .map((f) => f.fileName)
          .filter((name) => name.startsWith('.'))
          .map((name) =>
            relative(src, resolve(dirname(path), name))
              .split(sep)
              .join('/')
              .replace(/\.(js|ts)$/, ''),
          )
          .filter((target) => !target.startsWith('..'));
        graph.set(module, [...new Set(targets)]);
      }
    }
  };
  walk(src);
  return graph;
}

/** What breaks the layering: modules in no layer, imports that run up a layer, cycles. */
export function layerProblems(graph) {
  const problems = [];
  for (const [module, targets] of graph) {
    const from = layerOf(module);
    if (from < 0) {
      problems.push(`${module}: in no layer (add it to LAYERS in scripts/layers.mjs)`);
      continue;
    }
    for (const target of targets) {
      const to = layerOf(target);
      if (to > from)
        problems.push(
          `${module} (${LAYERS[from][0].split(':')[0]}) imports ${target} (${LAYERS[to][0].split(':')[0]}), a layer above`,
        );
    }
  }
  for (const cycle of cycles(graph)) problems.push(`cycle: ${cycle.join(' → ')} → ${cycle[0]}`);
  return problems;
}

/** The strongly connected components of more than one module (Tarjan), each as a list. */
function cycles(graph) {
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  let next = 0;
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) === index.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.reverse());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const problems = layerProblems(importGraph(join(dirname(fileURLToPath(import.meta.url)), '..', 'src')));
  for (const problem of problems) console.error(problem);
  console.error(
    problems.length === 0 ? 'layers: every import runs down, no cycle' : `layers: ${problems.length} problem(s)`,
  );
  process.exit(problems.length === 0 ? 0 : 1);
}
