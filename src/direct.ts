// The direct run: a command run without Commander, for a line the fast path's scanner is sure of
// (src/cli/scan.ts) when the command's spec allows it (CommandSpec.direct). The full program's
// entry, dist/main.js, holds Commander and every command's help and takes ~35 ms to load (Node 26);
// this one holds the scanner, the one command spec asked for and the runner (src/cli/runner.ts),
// and loads the command's own code as main does. Same options (test/cli/fast-path.test.ts checks
// the scanner against Commander for every line it is sure of), same dependencies, same errors.
// The fast path hands a call here when its warm answer, if any, declined (src/fast.ts); anything
// the scanner doubts, help and usage errors included, stays the full program's.
import { commandSpec } from './cli/commands.js';
import { processIO, realDeps, runReported, type Handover } from './cli/runner.js';
import { scanCommandLine } from './cli/scan.js';
import { checkEnv } from './model/env.js';
import { allVariables, PROVIDERS } from './providers/registry.js';
import type { AnyCommandSpec, Parsed } from './cli/spec.js';
import type { Deps, IO } from './broker/deps.js';
import type { Env } from './model/paths.js';
import type { Handler } from './serve/listener.js';
import type { Listening } from './serve/rules.js';
import type { ServedConfig } from './warm/context.js';

/**
 * The command and its options when this line may run directly; undefined for the full program: a
 * line the scanner doubts, a command that does not allow it, a bad TOKENS_* value or option value
 * (the full program's usage errors).
 */
export function directRun(
  argv: readonly string[],
  env: Env,
  specOf: (name: string) => AnyCommandSpec | undefined = (name) => commandSpec(name, PROVIDERS),
): { spec: AnyCommandSpec; options: unknown; parsed: Parsed } | undefined {
  try {
    checkEnv(env, allVariables());
    const scanned = scanCommandLine(argv, specOf, PROVIDERS, env);
    if (!scanned?.spec.direct) return undefined;
    return { spec: scanned.spec, options: scanned.spec.toOptions(scanned.parsed), parsed: scanned.parsed };
  } catch {
    return undefined;
  }
}

/** Runs the line directly, or resolves undefined (nothing done) when it is the full program's. */
export async function runDirect(
  argv: string[],
  io: IO = processIO(),
  env: Deps['env'] = { ...process.env },
  handover?: Handover,
): Promise<number | undefined> {
  const run = directRun(argv, env);
  if (!run) return undefined;
  const { verbose } = run.parsed;
  return runReported(
    () => run.spec.run(run.options, realDeps(io, env, verbose, handover)),
    io,
    () => verbose,
  );
}

/**
 * What answers the requests of a server the fast path started (src/warm/serve.ts), built here with
 * the real dependencies, as runServe builds it; the configuration's providers are this bundle's.
 */
export async function serveHandler(config: ServedConfig, listening: () => Listening): Promise<Handler> {
  const { providerIds, ...rest } = config;
  const providers = providerIds.map((id) => {
    const provider = PROVIDERS.find((p) => p.id === id);
    if (!provider) throw new Error(`internal error: no provider ${id}`);
    return provider;
  });
  const deps = realDeps(processIO(), { ...process.env }, config.verbose);
  return (await import('./serve/server.js')).serveHandler(deps, { ...rest, providers }, listening);
}
