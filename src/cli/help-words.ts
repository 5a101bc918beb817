// Words of the command line known without loading Commander or the command specs: how help is
// asked for (the help option and command as cli/program.ts sets them up, for src/cli/fast-help.ts) and
// the completion scripts' hidden helper command (for completion-scripts.ts, loaded lazily).

/** The help option of the program and of every command, in the order the help shows them. */
export const HELP_FLAGS = ['-h', '--help'] as const;

/** The help command: `help` and `help CMD`. */
export const HELP_COMMAND = 'help';

/** The hidden command the completion scripts call for dynamic values; never shown in help. */
export const COMPLETE_COMMAND = '__complete';
