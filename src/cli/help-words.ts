// How help is asked for: Commander's help option and help command as cli/program.ts sets them up.
// Here, with no imports, so the fast path (src/fast-help.ts) knows them without loading Commander.

/** The help option of the program and of every command, in the order the help shows them. */
export const HELP_FLAGS = ['-h', '--help'] as const;

/** The help command: `help` and `help CMD`. */
export const HELP_COMMAND = 'help';
