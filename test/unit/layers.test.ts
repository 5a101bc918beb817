// The layering of src/ (scripts/layers.mjs): imports only run down, nothing is outside a layer, no
// cycle; type-only and dynamic imports included.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module of the build scripts, without types
import { importGraph, LAYERS, layerOf, layerProblems } from '../../scripts/layers.mjs';

type Graph = Map<string, string[]>;
const check = layerProblems as (graph: Graph) => string[];

describe('layers of src/', () => {
  it('every import runs down a layer or stays in it, with no cycle', () => {
    const graph = (importGraph as (src: string) => Graph)(join(import.meta.dirname, '..', '..', 'src'));
    expect(graph.size).toBeGreaterThan(50);
    expect(check(graph)).toEqual([]);
  });

  it('type imports and import() are seen', () => {
    const graph = (importGraph as (src: string) => Graph)(join(import.meta.dirname, '..', '..', 'src'));
    // deps.ts imports Store as a type only; commands.ts loads each run function with import().
    expect(graph.get('broker/deps')).toContain('store/store');
    expect(graph.get('cli/commands')).toContain('commands/api');
  });

  it.each<[string, Graph, RegExp]>([
    [
      'an import up a layer',
      new Map([
        ['base/errors', ['broker/broker']],
        ['broker/broker', []],
      ]),
      /base\/errors .* imports broker\/broker .* a layer above/,
    ],
    [
      'a cycle in one layer',
      new Map([
        ['commands/a', ['commands/b']],
        ['commands/b', ['commands/a']],
      ]),
      /cycle: commands\/a → commands\/b → commands\/a/,
    ],
    ['a module in no layer', new Map([['elsewhere/x', []]]), /elsewhere\/x: in no layer/],
  ])('reports %s', (_name, graph, problem) => {
    expect(check(graph)).toEqual([expect.stringMatching(problem)]);
  });

  it('orders the layers as the README draws them: model below files below http below the broker below the CLI', () => {
    const order = [
      'model/model',
      'files/cache',
      'http/http',
      'oauth/grants',
      'store/redis',
      'broker/broker',
      'commands/get',
      'cli/program',
      'main',
    ].map((m) => (layerOf as (m: string) => number)(m));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(new Set(order).size).toBe(order.length);
    expect((LAYERS as unknown[]).length).toBeGreaterThanOrEqual(10);
  });
});
