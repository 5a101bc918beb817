// Help on the fast path: `tokens --help`, `-h`, `help`, and `CMD --help`, `CMD -h`, `help CMD`,
// answered from dist/help.json: the full program's own answers, recorded by scripts/build.mjs (with
// stdout and stderr piped) for every form helpForms in cli/program.ts lists. Commander's help
// depends only on the width it wraps to, 80 columns whenever stdout is not a terminal; in a terminal
// it is the terminal's width, so there the full program answers. So it does for any form not
// recorded, and for a help.json missing or not as the build writes it.
import { readFileSync } from 'node:fs';
import { isatty } from 'node:tty';
import { HELP_COMMAND, HELP_FLAGS } from './help-words.js';

/** Written by scripts/build.mjs next to dist/fast.cjs. */
export const HELP_FILE = 'help.json';

/** One recorded run of the full program. */
export interface RecordedHelp {
  argv: string[];
  stdout: string;
  stderr: string;
  code: number;
}

const isHelpFlag = (arg: string) => (HELP_FLAGS as readonly string[]).includes(arg);

/**
 * Whether argv is shaped like a help form: `--help`, `-h`, `help`, `WORD --help`, `WORD -h` or
 * `help WORD`. Which of these are help forms the recording says.
 */
export function isHelpForm(argv: readonly string[]): boolean {
  const [first = '', second = ''] = argv;
  if (argv.length === 1) return isHelpFlag(first) || first === HELP_COMMAND;
  if (argv.length !== 2 || first.startsWith('-')) return false;
  return first === HELP_COMMAND ? !second.startsWith('-') : isHelpFlag(second);
}

function isRecordedHelp(value: unknown): value is RecordedHelp {
  const r = value as Partial<RecordedHelp> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    Array.isArray(r.argv) &&
    typeof r.stdout === 'string' &&
    typeof r.stderr === 'string' &&
    Number.isInteger(r.code)
  );
}

/**
 * The full program's answer to argv as recorded in `dir`/help.json, with only the streams it wrote
 * to. Undefined when argv was not recorded, when the file is missing or not as the build writes it,
 * or when stdout is a terminal.
 */
export function recordedHelp(
  argv: readonly string[],
  dir: string,
): { stdout?: string; stderr?: string; code: number } | undefined {
  let recorded: unknown;
  try {
    recorded = JSON.parse(readFileSync(`${dir}/${HELP_FILE}`, 'utf8'));
  } catch {
    return undefined;
  }
  const forms: unknown = (recorded as { forms?: unknown } | null)?.forms;
  if (!Array.isArray(forms)) return undefined;
  const found: unknown = forms.find(
    (form) => isRecordedHelp(form) && form.argv.length === argv.length && form.argv.every((arg, i) => arg === argv[i]),
  );
  if (!isRecordedHelp(found) || isatty(1)) return undefined;
  // A stream the full program did not write to is left alone: setting up process.stderr costs a few ms.
  return {
    ...(found.stdout ? { stdout: found.stdout } : {}),
    ...(found.stderr ? { stderr: found.stderr } : {}),
    code: found.code,
  };
}
