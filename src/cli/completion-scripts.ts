// Shell completion scripts for bash, zsh and fish, generated from the Commander program: its
// visible commands, their options and arguments, and the completion hints program.ts attaches to
// them. Pure functions of the program, so the files shipped under completions/ can be checked
// against them (scripts/completions.mjs writes them; a test compares).
//
// Only types are imported from program.ts: this module is loaded lazily by `tokens completion`,
// and a run-time import would pull program.ts out of the main bundle into a shared chunk.
import type { Argument, Command, Option } from 'commander';
import { COMPLETION_HINT, COMPLETION_ONLY_WITH, type CompletionHint } from './completion-hints.js';

import { COMPLETE_COMMAND } from './help-words.js';

export { COMPLETE_COMMAND };

export type Shell = 'bash' | 'zsh' | 'fish';

interface OptionModel {
  short?: string;
  long?: string;
  /** -v, --verbose */
  names: string[];
  description: string;
  takesValue: boolean;
  /** The value's name in the flags, e.g. `format` for `--format <format>`. */
  valueName: string;
  repeatable: boolean;
  hint?: CompletionHint;
  /** Offered only when the command's first argument is one of these (or not typed yet). */
  onlyWith?: readonly string[];
}

interface ArgumentModel {
  name: string;
  required: boolean;
  variadic: boolean;
  hint?: CompletionHint;
}

interface CommandModel {
  name: string;
  /** The name and its aliases: what the user may type. */
  names: string[];
  summary: string;
  options: OptionModel[];
  args: ArgumentModel[];
  /** This command runs another program: its arguments from `commandLineAt` on are a command line. */
  commandLineAt?: number;
}

interface ProgramModel {
  name: string;
  options: OptionModel[];
  commands: CommandModel[];
}

function hintOf(target: Option | Argument): CompletionHint | undefined {
  const hint = (target as unknown as Record<symbol, CompletionHint | undefined>)[COMPLETION_HINT];
  if (hint) return hint;
  if (target.argChoices && target.argChoices.length > 0) return { kind: 'values', values: target.argChoices };
  return undefined;
}

// Names and values go into scripts unquoted (or inside simple single quotes): keep them plain.
const WORD = /^[A-Za-z0-9][A-Za-z0-9_.+@%,/-]*$/;
function word(value: string, what: string): string {
  if (!WORD.test(value)) throw new Error(`completion: ${what} "${value}" is not a plain word`);
  return value;
}

function optionModel(option: Option): OptionModel {
  const names = [option.short, option.long].filter((n): n is string => Boolean(n));
  for (const name of names) word(name.replace(/^-+/, ''), 'option name');
  const hint = hintOf(option);
  if (hint?.kind === 'values') hint.values.forEach((v) => word(v, 'value'));
  const valueName = /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1]?.replace(/\.\.\.$/, '') ?? 'value';
  const onlyWith = (option as unknown as Record<symbol, readonly string[] | undefined>)[COMPLETION_ONLY_WITH];
  onlyWith?.forEach((v) => word(v, 'value'));
  return {
    ...(onlyWith ? { onlyWith } : {}),
    ...(option.short ? { short: option.short } : {}),
    ...(option.long ? { long: option.long } : {}),
    names,
    description: option.description,
    takesValue: option.required || option.optional,
    valueName,
    repeatable: option.variadic || Array.isArray(option.defaultValue),
    ...(hint ? { hint } : {}),
  };
}

function commandModel(command: Command, options: OptionModel[]): CommandModel {
  const args: ArgumentModel[] = command.registeredArguments.map((arg) => {
    const hint = hintOf(arg);
    if (hint?.kind === 'values') hint.values.forEach((v) => word(v, 'value'));
    return { name: arg.name(), required: arg.required, variadic: arg.variadic, ...(hint ? { hint } : {}) };
  });
  const commandLineAt = args.findIndex((a) => a.hint?.kind === 'command-line');
  if (commandLineAt > 0 || (commandLineAt === 0 && args.length > 1)) {
    throw new Error(`completion: ${command.name()}: a command-line argument must be the only argument`);
  }
  const names = [command.name(), ...command.aliases()].map((n) => word(n, 'command name'));
  return {
    name: command.name(),
    names,
    summary: command.summary() || command.description().split('\n')[0] || '',
    options,
    args,
    ...(commandLineAt === 0 ? { commandLineAt } : {}),
  };
}

/** The program as the scripts see it: visible commands (hidden ones left out) and visible options. */
export function completionModel(program: Command): ProgramModel {
  const help = program.createHelp();
  const options = (cmd: Command) => help.visibleOptions(cmd).map(optionModel);
  return {
    name: word(program.name(), 'program name'),
    options: options(program),
    commands: help.visibleCommands(program).map((cmd) => commandModel(cmd, options(cmd))),
  };
}

const valueOptionNames = (options: OptionModel[]) => options.filter((o) => o.takesValue).flatMap((o) => o.names);
const allOptionNames = (options: OptionModel[]) => options.flatMap((o) => o.names);
const commandNames = (m: ProgramModel) => m.commands.flatMap((c) => c.names);

/**
 * The first-argument values that rule the option out (it applies only with the others): the
 * scripts offer it unless one of them was typed (`login soundcloud --<TAB>` has no --team-id).
 */
function excludedBy(c: CommandModel, o: OptionModel): string[] {
  const first = c.args[0]?.hint;
  if (!o.onlyWith || first?.kind !== 'values') return [];
  return first.values.filter((v) => !o.onlyWith!.includes(v));
}
const hasExclusions = (c: CommandModel) => c.options.some((o) => excludedBy(c, o).length > 0);

// ---------------------------------------------------------------------------------------------
// bash

function bashValues(m: ProgramModel, hint: CompletionHint | undefined, indent: string): string[] {
  const reply = (words: string) => `${indent}COMPREPLY=($(compgen -W ${words} -- "$cur"))`;
  switch (hint?.kind) {
    case 'values':
      return [reply(`'${hint.values.join(' ')}'`)];
    case 'profiles':
      return [reply(`"$(_${m.name}_profiles)"`)];
    case 'commands':
      return [reply(`'${commandNames(m).join(' ')}'`)];
    default:
      return [];
  }
}

/** `case $prev in` for the options that take a value: complete the value, or nothing. */
function bashPrevCase(m: ProgramModel, options: OptionModel[], indent: string): string[] {
  const valued = options.filter((o) => o.takesValue);
  if (valued.length === 0) return [];
  const lines = [`${indent}case $prev in`];
  const free: string[] = [];
  for (const option of valued) {
    const body = bashValues(m, option.hint, '');
    if (body.length === 0) free.push(...option.names);
    else lines.push(`${indent}    ${option.names.join('|')}) ${body[0]!.trim()}; return 0 ;;`);
  }
  // Free values (ids, URIs, numbers): nothing to offer.
  if (free.length > 0) lines.push(`${indent}    ${free.join('|')}) return 0 ;;`);
  lines.push(`${indent}esac`);
  return lines;
}

function bashCommand(m: ProgramModel, c: CommandModel): string[] {
  const fn = `_${m.name}`;
  const i8 = '            ';
  const lines: string[] = [`        ${c.names.join('|')})`];
  const valued = valueOptionNames(c.options);
  const skipValue = valued.length > 0 ? [`${i8}        ${valued.join('|')}) ((i++)) ;;`] : [];
  const optionReply = hasExclusions(c)
    ? [
        `${i8}if [[ $cur == -* ]]; then`,
        `${i8}    local seen=" \${words[*]:at+1:cword-at-1} "`,
        `${i8}    local opts='${allOptionNames(c.options.filter((o) => excludedBy(c, o).length === 0)).join(' ')}'`,
        ...c.options
          .filter((o) => excludedBy(c, o).length > 0)
          .map(
            (o) =>
              `${i8}    [[ ${excludedBy(c, o)
                .map((v) => `$seen != *' ${v} '*`)
                .join(' && ')} ]] && opts+=' ${o.names.join(' ')}'`,
          ),
        `${i8}    COMPREPLY=($(compgen -W "$opts" -- "$cur"))`,
        `${i8}    return 0`,
        `${i8}fi`,
      ]
    : [
        `${i8}if [[ $cur == -* ]]; then`,
        `${i8}    COMPREPLY=($(compgen -W '${allOptionNames(c.options).join(' ')}' -- "$cur"))`,
        `${i8}    return 0`,
        `${i8}fi`,
      ];
  if (c.commandLineAt !== undefined) {
    // Options first; the first other word (or whatever follows --) starts the command line.
    lines.push(
      `${i8}local start=`,
      `${i8}for ((i = at + 1; i < cword; i++)); do`,
      `${i8}    case \${words[i]} in`,
      `${i8}        --) start=$((i + 1)); break ;;`,
      ...skipValue,
      `${i8}        -*) ;;`,
      `${i8}        *) start=$i; break ;;`,
      `${i8}    esac`,
      `${i8}done`,
      `${i8}if [[ -n $start ]]; then`,
      `${i8}    ${fn}_command_line "$start"`,
      `${i8}    return 0`,
      `${i8}fi`,
      ...bashPrevCase(m, c.options, i8),
      `${i8}$split && return 0`,
      ...optionReply,
      `${i8}${fn}_command_line "$cword"`,
      `${i8};;`,
    );
    return lines;
  }
  lines.push(
    `${i8}local n=0 dd=false`,
    `${i8}for ((i = at + 1; i < cword; i++)); do`,
    `${i8}    if $dd; then ((n++)); continue; fi`,
    `${i8}    case \${words[i]} in`,
    `${i8}        --) dd=true ;;`,
    ...skipValue,
    `${i8}        -*) ;;`,
    `${i8}        *) ((n++)) ;;`,
    `${i8}    esac`,
    `${i8}done`,
    `${i8}if ! $dd; then`,
    ...bashPrevCase(m, c.options, `${i8}    `),
    `${i8}    $split && return 0`,
    ...optionReply.map((l) => `    ${l}`),
    `${i8}fi`,
  );
  const positional: string[] = [];
  c.args.forEach((arg, index) => {
    const body = bashValues(m, arg.hint, '');
    if (body.length === 0) return;
    const pattern =
      arg.variadic && index === c.args.length - 1
        ? index === 0
          ? '*'
          : `${index}|[${index + 1}-9]|[1-9][0-9]*`
        : String(index);
    positional.push(`${i8}    ${pattern}) ${body[0]!.trim()} ;;`);
  });
  if (positional.length > 0) lines.push(`${i8}case $n in`, ...positional, `${i8}esac`);
  lines.push(`${i8};;`);
  return lines;
}

export function bashScript(program: Command): string {
  const m = completionModel(program);
  const fn = `_${m.name}`;
  const topValued = valueOptionNames(m.options);
  const lines = [
    `# bash completion for ${m.name}                                   -*- shell-script -*-`,
    `# Generated from the command definitions by \`${m.name} completion bash\`: do not edit.`,
    '# Install one of:',
    `#   ${m.name} completion bash > ~/.local/share/bash-completion/completions/${m.name}`,
    `#   echo 'source <(${m.name} completion bash)' >> ~/.bashrc`,
    '# Works best with the bash-completion package; plain bash is enough for the basics.',
    '',
    `# Profile names from config.json (quiet, no secret store access).`,
    `${fn}_profiles() {`,
    `    command ${m.name} ${COMPLETE_COMMAND} profiles 2>/dev/null`,
    '}',
    '',
    '# Complete the command line that starts at word $1 (exec runs another program).',
    `${fn}_command_line() {`,
    '    if declare -F _command_offset >/dev/null 2>&1; then',
    '        _command_offset $((COMP_CWORD - cword + $1))',
    '    elif (($1 == cword)); then',
    '        COMPREPLY=($(compgen -c -- "$cur"))',
    '    else',
    '        COMPREPLY=($(compgen -f -- "$cur"))',
    '    fi',
    '}',
    '',
    `${fn}() {`,
    '    local cur prev words cword split=false',
    '    if declare -F _init_completion >/dev/null 2>&1; then',
    '        _init_completion -s || return',
    '    else',
    '        # Without bash-completion: split the line at blanks, and --option=value by hand.',
    '        COMPREPLY=()',
    '        local line=${COMP_LINE:0:COMP_POINT}',
    '        read -ra words <<<"$line"',
    '        [[ -z $line || $line == *[[:blank:]] ]] && words+=("")',
    '        cword=$((${#words[@]} - 1))',
    '        cur=${words[cword]}',
    '        prev=${words[cword - 1]}',
    '        if [[ $cur == --?*=* ]]; then',
    '            prev=${cur%%=*}',
    '            cur=${cur#*=}',
    '            split=true',
    '        fi',
    '    fi',
    '',
    '    # The command is the first word that is neither an option nor the value of one.',
    '    local i cmd= at=0',
    '    for ((i = 1; i < cword; i++)); do',
    '        case ${words[i]} in',
    ...(topValued.length > 0 ? [`            ${topValued.join('|')}) ((i++)) ;;`] : []),
    '            -*) ;;',
    '            *) cmd=${words[i]} at=$i; break ;;',
    '        esac',
    '    done',
    '',
    '    if [[ -z $cmd ]]; then',
    ...bashPrevCase(m, m.options, '        '),
    '        $split && return 0',
    '        if [[ $cur == -* ]]; then',
    `            COMPREPLY=($(compgen -W '${allOptionNames(m.options).join(' ')}' -- "$cur"))`,
    '        else',
    `            COMPREPLY=($(compgen -W '${commandNames(m).join(' ')}' -- "$cur"))`,
    '        fi',
    '        return 0',
    '    fi',
    '',
    '    case $cmd in',
    ...m.commands.flatMap((c) => bashCommand(m, c)),
    '    esac',
    '    return 0',
    '}',
    '',
    `complete -F ${fn} ${m.name}`,
  ];
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// zsh

/** Single-quoted for zsh. */
const zq = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
/** Text inside an _arguments [explanation] or :message: field. */
const zspec = (text: string) => text.replace(/\\/g, '\\\\').replace(/([[\]:])/g, '\\$1');

function zshAction(m: ProgramModel, hint: CompletionHint | undefined): string {
  switch (hint?.kind) {
    case 'values':
      return `(${hint.values.join(' ')})`;
    case 'profiles':
      return `_${m.name}_profiles`;
    case 'commands':
      return `_${m.name}_commands`;
    case 'command-line':
      return `_${m.name}_command_line`;
    default:
      return ' ';
  }
}

function zshOptionSpecs(m: ProgramModel, options: OptionModel[], exclusive = false): string[] {
  return options.flatMap((o) => {
    const exclusion = exclusive ? '(- : *)' : o.repeatable || o.names.length < 2 ? '' : `(${o.names.join(' ')})`;
    const star = o.repeatable ? '*' : '';
    return o.names.map((name) => {
      const long = name.startsWith('--');
      const suffix = o.takesValue ? (long ? '=' : '+') : '';
      const value = o.takesValue ? `:${zspec(o.valueName)}:${zshAction(m, o.hint)}` : '';
      return zq(`${exclusion}${star}${name}${suffix}[${zspec(o.description)}]${value}`);
    });
  });
}

function zshArgumentSpecs(m: ProgramModel, c: CommandModel): string[] {
  return c.args.map((arg, index) => {
    const action = zshAction(m, arg.hint);
    if (arg.hint?.kind === 'command-line') return zq(`*::${zspec(arg.name)}:${action}`);
    if (arg.variadic) return zq(`*${arg.required ? ':' : '::'}${zspec(arg.name)}:${action}`);
    return zq(`${index + 1}${arg.required ? ':' : '::'}${zspec(arg.name)}:${action}`);
  });
}

function zshCommand(m: ProgramModel, c: CommandModel): string[] {
  // exec-style commands take options only before the command line.
  const flags = c.commandLineAt !== undefined ? "-S -A '-*'" : '-S';
  if (hasExclusions(c)) {
    // Options that apply only with some values of the first argument join unless another was typed.
    const always = c.options.filter((o) => excludedBy(c, o).length === 0);
    return [
      `        (${c.names.join('|')})`,
      '          local seen=" ${words[2,CURRENT-1]} "',
      '          local -a specs',
      '          specs=(',
      ...[...zshOptionSpecs(m, always), ...zshArgumentSpecs(m, c)].map((s) => `            ${s}`),
      '          )',
      ...c.options
        .filter((o) => excludedBy(c, o).length > 0)
        .map(
          (o) =>
            `          [[ ${excludedBy(c, o)
              .map((v) => `$seen != *' ${v} '*`)
              .join(' && ')} ]] && specs+=(${zshOptionSpecs(m, [o]).join(' ')})`,
        ),
      `          _arguments ${flags} $specs && ret=0`,
      '          ;;',
    ];
  }
  const specs = [...zshOptionSpecs(m, c.options), ...zshArgumentSpecs(m, c)];
  return [
    `        (${c.names.join('|')})`,
    `          _arguments ${flags} \\`,
    ...specs.map((s) => `            ${s} \\`),
    '            && ret=0',
    '          ;;',
  ];
}

export function zshScript(program: Command): string {
  const m = completionModel(program);
  const fn = `_${m.name}`;
  const describe = m.commands.flatMap((c) => c.names.map((n) => zq(`${n}:${c.summary}`)));
  const lines = [
    `#compdef ${m.name}`,
    `# zsh completion for ${m.name}. Generated from the command definitions by \`${m.name} completion zsh\`: do not edit.`,
    `# Install: save it as _${m.name} in a directory on $fpath before compinit runs, e.g.`,
    `#   mkdir -p ~/.zfunc && ${m.name} completion zsh > ~/.zfunc/_${m.name}`,
    '#   and in ~/.zshrc, before compinit:  fpath=(~/.zfunc $fpath)',
    `# Or, in ~/.zshrc after compinit:  source <(${m.name} completion zsh)`,
    '',
    `# Profile names from config.json (quiet, no secret store access).`,
    `${fn}_profiles() {`,
    '  local -a profiles',
    `  profiles=(\${(f)"$(_call_program profiles command ${m.name} ${COMPLETE_COMMAND} profiles 2>/dev/null)"})`,
    `  _wanted profiles expl profile compadd -a profiles`,
    '}',
    '',
    '# The command line exec runs: complete it as a command of its own (without a leading --).',
    `${fn}_command_line() {`,
    '  if [[ $words[1] == -- ]]; then',
    '    shift words',
    '    (( CURRENT-- ))',
    '  fi',
    '  _normal',
    '}',
    '',
    `${fn}_commands() {`,
    '  local -a commands',
    '  commands=(',
    ...describe.map((d) => `    ${d}`),
    '  )',
    `  _describe -t commands '${m.name} command' commands`,
    '}',
    '',
    `${fn}() {`,
    '  local curcontext=$curcontext state state_descr line ret=1',
    '  typeset -A opt_args',
    '  _arguments -C \\',
    ...zshOptionSpecs(m, m.options, true).map((s) => `    ${s} \\`),
    `    ${zq(`1: :${fn}_commands`)} \\`,
    `    ${zq('*:: :->command')} \\`,
    '    && ret=0',
    '  case $state in',
    '    (command)',
    `      curcontext=\${curcontext%:*:*}:${m.name}-$words[1]:`,
    '      case $words[1] in',
    ...m.commands.flatMap((c) => zshCommand(m, c)),
    '      esac',
    '      ;;',
    '  esac',
    '  return ret',
    '}',
    '',
    '# Autoloaded from $fpath, this file is the body of the function: complete now.',
    '# Sourced, it registers the function instead.',
    `if [[ $funcstack[1] == ${fn} ]]; then`,
    `  ${fn} "$@"`,
    'else',
    `  compdef ${fn} ${m.name}`,
    'fi',
  ];
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// fish

/** Single-quoted for fish. */
const fq = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function fishValues(m: ProgramModel, hint: CompletionHint | undefined): string {
  switch (hint?.kind) {
    case 'values':
      return ` -a ${fq(hint.values.join(' '))}`;
    case 'profiles':
      return ` -a '(__${m.name}_profiles)'`;
    case 'commands':
      return ` -a ${fq(commandNames(m).join(' '))}`;
    default:
      return '';
  }
}

function fishOption(m: ProgramModel, condition: string, o: OptionModel, excluded: string[] = []): string {
  if (excluded.length > 0) condition = `${condition}; and not __${m.name}_seen ${excluded.join(' ')}`;
  const short = o.short ? ` -s ${o.short.replace(/^-/, '')}` : '';
  const long = o.long ? ` -l ${o.long.replace(/^--/, '')}` : '';
  const value = o.takesValue ? ` -x${fishValues(m, o.hint)}` : '';
  return `complete -c ${m.name} -n ${fq(condition)}${short}${long}${value} -d ${fq(o.description)}`;
}

function fishCommand(m: ProgramModel, c: CommandModel): string[] {
  const at = (n?: number) => `__${m.name}_at ${c.name}${n === undefined ? '' : ` ${n}`}`;
  const lines = [`# ${c.name}`];
  const optionCondition = c.commandLineAt !== undefined ? at(0) : at();
  for (const o of c.options) lines.push(fishOption(m, optionCondition, o, excludedBy(c, o)));
  c.args.forEach((arg, index) => {
    if (arg.hint?.kind === 'command-line') {
      lines.push(
        `complete -c ${m.name} -n ${fq(`__${m.name}_in_command_line ${c.name}`)} -a '(__${m.name}_command_line)'`,
      );
      return;
    }
    const values = fishValues(m, arg.hint);
    if (!values) return;
    const condition =
      arg.variadic && index === c.args.length - 1 ? `${at()}; and test (__${m.name}_state)[2] -ge ${index}` : at(index);
    lines.push(`complete -c ${m.name} -n ${fq(condition)}${values} -d ${fq(arg.name)}`);
  });
  return lines;
}

export function fishScript(program: Command): string {
  const m = completionModel(program);
  const p = `__${m.name}`;
  const topValued = valueOptionNames(m.options);
  const valueCases = m.commands.flatMap((c) =>
    valueOptionNames(c.options).length > 0
      ? [
          `            case ${c.names.flatMap((n) => valueOptionNames(c.options).map((o) => fq(`${n} ${o}`))).join(' ')}`,
          '                set skip 1',
        ]
      : [],
  );
  const commandLineCases = m.commands
    .filter((c) => c.commandLineAt !== undefined)
    .flatMap((c) => [
      `            case ${c.names.map((n) => fq(`${n} --`)).join(' ')}`,
      '                set -e words[1..$i]',
      "                printf '%s\\n' $cmd 1 cmdline $words",
      '                return',
      `            case ${c.names.map((n) => fq(`${n} -*`)).join(' ')}`,
      `            case ${c.names.map((n) => fq(`${n} *`)).join(' ')}`,
      '                set -e words[1..(math $i - 1)]',
      "                printf '%s\\n' $cmd 1 cmdline $words",
      '                return',
    ]);
  const lines = [
    `# fish completion for ${m.name}. Generated from the command definitions by \`${m.name} completion fish\`: do not edit.`,
    `# Install: ${m.name} completion fish > ~/.config/fish/completions/${m.name}.fish`,
    '',
    `function ${p}_profiles --description 'Profile names from config.json (quiet, no secret store access)'`,
    `    command ${m.name} ${COMPLETE_COMMAND} profiles 2>/dev/null`,
    'end',
    '',
    '# Prints the command (an empty line when none yet), how many of its arguments precede the',
    '# cursor, and, once a command line to run has started (exec), "cmdline" and its words.',
    `function ${p}_state`,
    '    set -l words (commandline -opc)',
    '    set -e words[1]',
    "    set -l cmd ''",
    '    set -l n 0',
    '    set -l skip 0',
    '    set -l i 0',
    '    for w in $words',
    '        set i (math $i + 1)',
    '        if test $skip -eq 1',
    '            set skip 0',
    '            continue',
    '        end',
    '        if test -z "$cmd"',
    '            switch $w',
    ...(topValued.length > 0
      ? [`                case ${topValued.map(fq).join(' ')}`, '                    set skip 1']
      : []),
    "                case '-*'",
    "                case '*'",
    '                    set cmd $w',
    '            end',
    '            continue',
    '        end',
    '        switch "$cmd $w"',
    ...valueCases,
    ...commandLineCases,
    "            case '* -*'",
    "            case '*'",
    '                set n (math $n + 1)',
    '        end',
    '    end',
    "    printf '%s\\n' $cmd $n",
    'end',
    '',
    '# True when the command is $argv[1] ("" for none yet) and, if $argv[2] is given, that many of',
    '# its arguments precede the cursor.',
    `function ${p}_at`,
    `    set -l state (${p}_state)`,
    '    test "$state[1]" = "$argv[1]"; or return 1',
    '    set -q argv[2]; or return 0',
    '    test "$state[2]" = "$argv[2]"; and test "$state[3]" != cmdline',
    'end',
    '',
    '# True inside the command line that $argv[1] (exec) runs, or at its first word.',
    `function ${p}_in_command_line`,
    `    set -l state (${p}_state)`,
    '    test "$state[1]" = "$argv[1]"; or return 1',
    '    test "$state[3]" = cmdline; and return 0',
    "    not string match -q -- '-*' (commandline -ct)",
    'end',
    '',
    '# True when one of $argv was typed before the cursor (an option that applies only without it).',
    `function ${p}_seen`,
    '    set -l words (commandline -opc)',
    '    for w in $argv',
    '        contains -- $w $words; and return 0',
    '    end',
    '    return 1',
    'end',
    '',
    `function ${p}_command_line`,
    `    set -l state (${p}_state)`,
    '    set -l words',
    '    test "$state[3]" = cmdline; and set words $state[4..-1]',
    '    __fish_complete_subcommand --commandline $words (commandline -ct)',
    'end',
    '',
    `complete -c ${m.name} -f`,
    '',
    '# commands',
    ...m.options.map((o) => fishOption(m, `${p}_at ''`, o)),
    ...m.commands.flatMap((c) =>
      c.names.map((n) => `complete -c ${m.name} -n ${fq(`${p}_at ''`)} -a ${n} -d ${fq(c.summary)}`),
    ),
    ...m.commands.flatMap((c) => ['', ...fishCommand(m, c)]),
  ];
  return `${lines.join('\n')}\n`;
}

export function completionScript(shell: Shell, program: Command): string {
  switch (shell) {
    case 'bash':
      return bashScript(program);
    case 'zsh':
      return zshScript(program);
    case 'fish':
      return fishScript(program);
  }
}
