// The full program: the command line read by Commander (src/cli/program.ts), which prints help,
// --version and usage errors, then the command run with the real dependencies, every error turned
// into one line on stderr and the contract's exit code (src/cli/runner.ts, the one place for that).
import { buildProgram, helpForms as programHelpForms, type ParsedCommand } from './cli/program.js';
import { ExitCode } from './base/errors.js';
import { checkEnv, TOKENS_DEBUG } from './model/env.js';
import { allVariables } from './providers/registry.js';
import { processIO, realDeps, runReported, type Handover } from './cli/runner.js';
import type { Deps, IO } from './broker/deps.js';
import pkg from '../package.json' with { type: 'json' };

/** The argument lists that print help (cli/program.ts), for scripts/build.mjs to record for the fast path. */
export function helpForms(): string[][] {
  const silent = () => undefined;
  return programHelpForms(buildProgram({ writeOut: silent, writeErr: silent, env: {} }, silent, pkg.version));
}

/**
 * `env` is a copy: the browser opener removes the withheld variables from process.env (http/browser.ts).
 * `handover`: what the fast path passes on when it does not answer the call itself.
 */
export async function main(
  argv: string[],
  io: IO = processIO(),
  env: Deps['env'] = { ...process.env },
  handover?: Handover,
): Promise<number> {
  let parsed: ParsedCommand | undefined;
  let verbose = Boolean(env[TOKENS_DEBUG.name]);
  return runReported(
    async () => {
      const program = buildProgram(
        { writeOut: (t) => io.stdout.write(t), writeErr: (t) => io.stderr.write(t), env },
        (p) => (parsed = p),
        pkg.version,
      );
      if (argv.length === 0) {
        program.outputHelp({ error: true });
        return ExitCode.usage;
      }
      await program.parseAsync(argv, { from: 'user' });
      if (!parsed) return ExitCode.usage;
      verbose = parsed.verbose;
      // A bad TOKENS_* value is a usage error too, reported before anything is looked at.
      if (!parsed.lenient) checkEnv(env, allVariables());
      return await parsed.invocation(realDeps(io, env, verbose, handover));
    },
    io,
    () => verbose,
  );
}
