// Shell completions driven through the real shells (bash with bash-completion, zsh under zpty,
// fish), the committed scripts checked against the generator, and help that teaches.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, Sandbox } from '../support/cli.js';
import { buildProgram } from '../../src/cli/program.js';
import { COMPLETE_COMMAND as GENERATOR_COMPLETE_COMMAND, completionScript } from '../../src/cli/completion-scripts.js';
import { COMPLETE_COMMAND } from '../../src/cli/program.js';

const FILES = { bash: 'completions/tokens.bash', zsh: 'completions/_tokens', fish: 'completions/tokens.fish' } as const;
type Shell = keyof typeof FILES;
const SHELLS = Object.keys(FILES) as Shell[];
const PROVIDERS = ['chartmetric', 'soundcharts', 'soundcloud'];
const FORMATS = ['env', 'header', 'json', 'token'];
const BASH_COMPLETION = '/usr/share/bash-completion/bash_completion';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The shells must be here: a missing one fails, naming the Debian package to install. */
function requireShell(shell: Shell): void {
  const probe = spawnSync(shell, ['-c', 'exit 0'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) throw new Error(`${shell} is not installed: apt-get install ${shell}`);
  if (shell === 'bash' && !existsSync(BASH_COMPLETION)) {
    throw new Error(`${BASH_COMPLETION} is missing: apt-get install bash-completion`);
  }
  if (shell === 'zsh' && spawnSync('zsh', ['-f', '-c', 'zmodload zsh/zpty'], { stdio: 'ignore' }).status !== 0) {
    throw new Error('the zsh/zpty module is missing: apt-get install zsh');
  }
}

const lines = (text: string) =>
  [
    ...new Set(
      text
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean),
    ),
  ].sort();

// bash: source bash-completion and the script, set COMP_* as readline would, call the function
// that `complete -p tokens` names, print COMPREPLY.
const BASH_DRIVER = `

line=$1 mode=$2
source ${BASH_COMPLETION}
if [[ $mode == source ]]; then
  source "$SCRIPT"
else
  # installed for bash-completion's on-demand loader (~/.local/share/bash-completion/completions)
  __load_completion tokens || { echo "bash-completion did not load tokens" >&2; exit 3; }
fi
spec=$(complete -p tokens) || exit 3
fn=\${spec##*-F }; fn=\${fn%% *}
COMP_LINE=$line
COMP_POINT=\${#line}
read -ra COMP_WORDS <<<"$line"
[[ $line == *' ' ]] && COMP_WORDS+=('')
COMP_CWORD=$((\${#COMP_WORDS[@]} - 1))
COMPREPLY=()
"$fn" tokens "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD - 1]}" 2>/dev/null
printf '%s\\n' "\${COMPREPLY[@]}"
`;

// zsh: an interactive zsh under zpty gets LINE and a TAB; inside the completion widget, compadd is
// wrapped so that every match zsh would offer is appended to a file.
const ZSH_DRIVER = `
zmodload zsh/zpty || { print -u2 'zsh/zpty is missing'; exit 3 }
local dir=$(mktemp -d)
export ZCAP_OUT=$dir/out ZCAP_DONE=$dir/done
: >| $ZCAP_OUT
cat >| $dir/setup.zsh <<'SETUP'
PS1='' PROMPT='' RPROMPT=''
unsetopt beep
[[ -n $ZCAP_FPATH ]] && fpath=($ZCAP_FPATH $fpath)
autoload -U compinit && compinit -u -D
[[ -n $ZCAP_SOURCE ]] && source $ZCAP_SOURCE
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' insert-tab false
compadd() {
  if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then
    builtin compadd "$@"
    return $?
  fi
  local -a __zcap_hits
  builtin compadd -A __zcap_hits "$@"
  (( $#__zcap_hits )) && print -rl -- $__zcap_hits >> $ZCAP_OUT
  builtin compadd "$@"
}
_zcap_done() { print done >> $ZCAP_DONE }
comppostfuncs=(_zcap_done)
bindkey '^I' complete-word
print ready >> $ZCAP_DONE.ready
SETUP
zpty z zsh -f -i
zpty -w z "source \${(q)dir}/setup.zsh"
local chunk i
for i in {1..800}; do
  [[ -e $ZCAP_DONE.ready ]] && break
  zpty -r -t z chunk 2>/dev/null
  sleep 0.025
done
zpty -w -n z "$1"$'\\t'
for i in {1..800}; do
  [[ -e $ZCAP_DONE ]] && break
  zpty -r -t z chunk 2>/dev/null
  sleep 0.025
done
zpty -d z
if [[ ! -e $ZCAP_DONE ]]; then
  print -u2 "zsh did not complete: $1"
  rm -rf $dir
  exit 4
fi
cat $ZCAP_OUT
rm -rf $dir
`;

let sandbox: Sandbox;
let env: Record<string, string>;
let driverDir: string;

beforeAll(async () => {
  sandbox = await Sandbox.create();
  // `tokens` on PATH is the real CLI: the scripts call it for profile names.
  driverDir = join(sandbox.home, 'driver');
  await mkdir(join(driverDir, 'bin'), { recursive: true });
  const wrapper = join(driverDir, 'bin', 'tokens');
  await writeFile(wrapper, `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
  await chmod(wrapper, 0o755);
  await writeFile(join(driverDir, 'complete.bash'), BASH_DRIVER);
  await writeFile(join(driverDir, 'complete.zsh'), ZSH_DRIVER);
  const configDir = join(sandbox.home, '.config', 'tokens');
  await mkdir(configDir, { recursive: true });
  await writeFile(
    join(configDir, 'config.json'),
    JSON.stringify({
      version: 1,
      profiles: {
        default: { chartmetric: { mode: 'refresh_token' } },
        staging: { chartmetric: { mode: 'refresh_token' } },
      },
    }),
  );
  const base = sandbox.baseEnv();
  env = { ...base, PATH: `${join(driverDir, 'bin')}:${base.PATH ?? '/usr/bin:/bin'}`, TERM: 'xterm' };
});

afterAll(async () => {
  await sandbox?.dispose();
});

async function complete(shell: Shell, line: string, mode: 'installed' | 'source' = 'installed'): Promise<string[]> {
  requireShell(shell);
  const script = join(ROOT, FILES[shell]);
  let result: Run;
  if (shell === 'bash') {
    if (mode === 'installed') {
      const dir = join(sandbox.home, '.local/share/bash-completion/completions');
      await mkdir(dir, { recursive: true });
      await copyFile(script, join(dir, 'tokens'));
    }
    result = await run('bash', ['--norc', '--noprofile', join(driverDir, 'complete.bash'), line, mode], {
      ...env,
      SCRIPT: script,
    });
  } else if (shell === 'zsh') {
    const where: Record<string, string> =
      mode === 'installed' ? { ZCAP_FPATH: join(ROOT, 'completions') } : { ZCAP_SOURCE: script };
    result = await run('zsh', ['-f', join(driverDir, 'complete.zsh'), line], { ...env, ...where });
  } else {
    if (mode === 'installed') {
      const dir = join(sandbox.home, '.config/fish/completions');
      await mkdir(dir, { recursive: true });
      await copyFile(script, join(dir, 'tokens.fish'));
    }
    // Installed: fish finds the file in ~/.config/fish/completions by itself (the sandbox HOME has
    // no other config). Sourced: no config at all.
    const args =
      mode === 'source'
        ? ['--no-config', '-c', `source ${script}; complete --do-complete $argv[1]`]
        : ['-c', 'complete --do-complete $argv[1]'];
    result = await run('fish', [...args, line], env);
    result.stdout = result.stdout.replace(/\t.*$/gm, '');
  }
  expect(result.code, `${shell} "${line}": ${result.stderr}`).toBe(0);
  return lines(result.stdout);
}

describe.each(SHELLS)('%s completion', (shell) => {
  it('is installed here', () => {
    requireShell(shell);
  });

  it('completes commands: tokens lo<TAB> → login, logout', async () => {
    expect(await complete(shell, 'tokens lo')).toEqual(['login', 'logout']);
  });

  it('completes commands the way the script is sourced too', async () => {
    expect(await complete(shell, 'tokens lo', 'source')).toEqual(['login', 'logout']);
  });

  it('completes providers: tokens get <TAB>', async () => {
    expect(await complete(shell, 'tokens get ')).toEqual(PROVIDERS);
  });

  it('completes --format values: tokens get soundcloud --format <TAB>', async () => {
    expect(await complete(shell, 'tokens get soundcloud --format ')).toEqual(FORMATS);
  });

  it('completes the configured profiles: tokens get chartmetric --profile <TAB>', async () => {
    expect(await complete(shell, 'tokens get chartmetric --profile ')).toEqual(['default', 'staging']);
  });

  it('completes exec --provider values, completion shells and flags', async () => {
    expect(await complete(shell, 'tokens exec --provider ')).toEqual(PROVIDERS);
    expect(await complete(shell, 'tokens completion ')).toEqual(['bash', 'fish', 'zsh']);
    expect(await complete(shell, 'tokens get chartmetric --f')).toEqual(['--force-refresh', '--format']);
  });

  it('completes tokens api: providers, methods and flags', async () => {
    expect(await complete(shell, 'tokens api ')).toEqual(PROVIDERS);
    expect(await complete(shell, 'tokens api soundcloud /me --method ')).toEqual([
      'DELETE',
      'GET',
      'HEAD',
      'OPTIONS',
      'PATCH',
      'POST',
      'PUT',
    ]);
    expect(await complete(shell, 'tokens api soundcloud /me --pa')).toEqual(['--paginate']);
    expect(await complete(shell, 'tokens api soundcloud /me --max')).toEqual(['--max-pages', '--max-wait']);
  });

  it('offers each provider its own login flags (issue 22, first hour 12)', async () => {
    const soundcloudOnly = ['--client-credentials', '--redirect-uri', '--scope', '--no-browser', '--timeout'];
    const soundchartsOnly = ['--team-id', '--legacy', '--app-id'];
    const soundcloud = await complete(shell, 'tokens login soundcloud --');
    expect(soundcloud).toEqual(expect.arrayContaining(['--client-id', '--profile', ...soundcloudOnly]));
    for (const flag of soundchartsOnly) expect(soundcloud).not.toContain(flag);
    const soundcharts = await complete(shell, 'tokens login soundcharts --');
    expect(soundcharts).toEqual(expect.arrayContaining(['--client-id', '--profile', ...soundchartsOnly]));
    for (const flag of soundcloudOnly) expect(soundcharts).not.toContain(flag);
    const chartmetric = await complete(shell, 'tokens login chartmetric --');
    expect(chartmetric).toContain('--profile');
    for (const flag of ['--client-id', ...soundcloudOnly, ...soundchartsOnly]) expect(chartmetric).not.toContain(flag);
    // Options before the provider: every flag still applies; the provider, once typed, decides.
    expect(await complete(shell, 'tokens login --t')).toEqual(['--team-id', '--timeout']);
    expect(await complete(shell, 'tokens login --client-id x soundcharts --t')).toEqual(['--team-id']);
  });

  it('hands the command line after exec -- to the shell (tokens itself, here)', async () => {
    expect(await complete(shell, 'tokens exec --provider soundcloud -- tokens get soundc')).toEqual([
      'soundcharts',
      'soundcloud',
    ]);
  });
});

describe('completion scripts', () => {
  it.each(SHELLS)('tokens completion %s prints exactly the committed file', async (shell) => {
    const result = await sandbox.run(['completion', shell]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(await readFile(join(ROOT, FILES[shell]), 'utf8'));
  });

  it.each(SHELLS)('the committed %s file is what the generator produces from the program now', async (shell) => {
    const program = buildProgram(
      { writeOut: () => undefined, writeErr: () => undefined, env: {} },
      () => undefined,
      '0.0.0',
    );
    const message = `${FILES[shell]} is stale: run npm run build && node scripts/completions.mjs`;
    expect(completionScript(shell, program), message).toBe(await readFile(join(ROOT, FILES[shell]), 'utf8'));
  });

  it('the generator and the program agree on the hidden command', () => {
    expect(GENERATOR_COMPLETE_COMMAND).toBe(COMPLETE_COMMAND);
  });

  it('scripts/completions.mjs --check agrees', async () => {
    const result = await run(process.execPath, ['scripts/completions.mjs', '--check'], sandbox.baseEnv());
    expect(result).toMatchObject({ code: 0, stderr: '' });
  });

  it('tokens completion tcsh is a usage error', async () => {
    const result = await sandbox.run(['completion', 'tcsh']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/bash, zsh or fish/);
  });
});

describe('tokens __complete profiles (hidden)', () => {
  it('prints the profile names from config.json, one a line, without touching the store', async () => {
    // A file store without a passphrase would fail (exit 6) if it were opened.
    const result = await sandbox.run([COMPLETE_COMMAND, 'profiles'], { env: { TOKENS_STORE: 'file' } });
    expect(result).toMatchObject({ code: 0, stdout: 'default\nstaging\n', stderr: '' });
  });

  it('prints nothing, and exits 0, without a config, with a broken one, or when asked something else', async () => {
    const empty = await Sandbox.create();
    try {
      expect(await empty.run([COMPLETE_COMMAND, 'profiles'])).toMatchObject({ code: 0, stdout: '', stderr: '' });
      await mkdir(join(empty.home, '.config/tokens'), { recursive: true });
      await writeFile(join(empty.home, '.config/tokens/config.json'), '{"version":1,"profiles":');
      expect(await empty.run([COMPLETE_COMMAND, 'profiles'])).toMatchObject({ code: 0, stdout: '', stderr: '' });
      expect(await empty.run([COMPLETE_COMMAND, 'nonsense', '--weird'])).toMatchObject({
        code: 0,
        stdout: '',
        stderr: '',
      });
      expect(await empty.run([COMPLETE_COMMAND])).toMatchObject({ code: 0, stdout: '', stderr: '' });
    } finally {
      await empty.dispose();
    }
  });

  it('follows XDG_CONFIG_HOME', async () => {
    const result = await sandbox.run([COMPLETE_COMMAND, 'profiles'], {
      env: { XDG_CONFIG_HOME: join(sandbox.home, 'nowhere') },
    });
    expect(result).toMatchObject({ code: 0, stdout: '' });
  });

  it('is not shown in help', async () => {
    const result = await sandbox.run(['--help']);
    expect(result.stdout).not.toContain(COMPLETE_COMMAND);
  });
});

describe('help that teaches', () => {
  const COMMANDS = ['login', 'get', 'exec', 'api', 'status', 'logout', 'completion'];

  it.each(COMMANDS)('tokens %s --help: exit 0, on stdout, with examples', async (command) => {
    const result = await sandbox.run([command, '--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain(`Usage: tokens ${command}`);
    expect(result.stdout).toMatch(/\nExamples:\n {2}\S/);
    expect(result.stdout).toMatch(new RegExp(`\\n {2}.*tokens ${command} `));
  });

  it('tokens help get is tokens get --help', async () => {
    const viaHelp = await sandbox.run(['help', 'get']);
    const viaFlag = await sandbox.run(['get', '--help']);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
  });

  it('the examples the scripts rely on are there', async () => {
    const get = (await sandbox.run(['get', '--help'])).stdout;
    expect(get).toContain('tokens get chartmetric --format header');
    expect(get).toContain('curl -H @<(tokens get soundcloud --format header) https://api.soundcloud.com/me');
    const exec = (await sandbox.run(['exec', '--help'])).stdout;
    expect(exec).toContain(
      `tokens exec --provider soundcloud -- sh -c 'curl -H "Authorization: $SOUNDCLOUD_AUTHORIZATION" https://api.soundcloud.com/me'`,
    );
    const login = (await sandbox.run(['login', '--help'])).stdout;
    expect(login).toContain('echo "$REFRESH" | tokens login chartmetric');
    expect(login).toContain('tokens login soundcloud --client-id ID');
    const api = (await sandbox.run(['api', '--help'])).stdout;
    expect(api).toContain("tokens api soundcloud /me/tracks --paginate | jq -r '.[].title'");
    expect(api).toContain(
      "tokens api soundcloud /tracks --form 'track[title]=Demo' --form 'track[asset_data]=@demo.wav'",
    );
    for (const variable of ['TOKENS_SOUNDCLOUD_API_URL', 'TOKENS_CHARTMETRIC_API_URL', 'TOKENS_SOUNDCHARTS_API_URL'])
      expect(api).toContain(variable);
    const status = (await sandbox.run(['status', '--help'])).stdout;
    expect(status).toContain('tokens status chartmetric >/dev/null || tokens login chartmetric');
  });

  it('tokens --help groups the commands and names the environment and exit codes', async () => {
    const result = await sandbox.run(['--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const out = result.stdout;
    const section = (heading: string) => {
      const start = out.indexOf(`\n${heading}\n`);
      expect(start, `no "${heading}" section in:\n${out}`).toBeGreaterThanOrEqual(0);
      const rest = out.slice(start + heading.length + 2);
      return rest.slice(0, rest.search(/\n\n|$/));
    };
    const names = (text: string) => [...text.matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]).sort();
    expect(names(section('Credentials:'))).toEqual(['login', 'logout', 'status']);
    expect(names(section('Tokens:'))).toEqual(['api', 'exec', 'get', 'serve']);
    expect(names(section('Shell:'))).toContain('completion');
    expect(out).toContain('Examples:');
    for (const variable of ['TOKENS_PROFILE', 'TOKENS_STORE', 'TOKENS_PASSPHRASE']) expect(out).toContain(variable);
    expect(out).toMatch(/Exit codes:/);
    for (const code of [
      '2 usage',
      '3 not configured',
      '6 secret store',
      '8 api: the API answered with an error status',
    ])
      expect(out).toContain(code);
  });
});
