// A private Secret Service for tests: its own D-Bus session bus and an unlocked gnome-keyring whose
// keyrings live under the test's temporary HOME. Works as root with no X display. Missing programs are
// an error naming the Debian package, never a skip.

import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

export interface SecretService {
  /** What a child process needs in its environment to reach this Secret Service. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

const KEYRING_PASSWORD = 'tokens-test-keyring';
const START_TIMEOUT_MS = 15_000;

export async function startSecretService(home: string): Promise<SecretService> {
  const dbusDaemon = await requireCommand('dbus-daemon', 'dbus');
  const dbusSend = await requireCommand('dbus-send', 'dbus-bin');
  const keyringDaemon = await requireCommand('gnome-keyring-daemon', 'gnome-keyring');

  const runtimeDir = join(home, '.run');
  const dataHome = join(home, '.local', 'share');
  await mkdir(runtimeDir, { recursive: true, mode: 0o700 });
  await mkdir(dataHome, { recursive: true, mode: 0o700 });

  const baseEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    XDG_RUNTIME_DIR: runtimeDir,
    XDG_DATA_HOME: dataHome,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    LANG: 'C.UTF-8',
  };

  const children: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(children.reverse().map(killAndWait));
  };

  try {
    // 1. The session bus. --nofork keeps it our child, so stop() can kill it.
    const bus = spawn(dbusDaemon, ['--session', '--nofork', '--nopidfile', '--print-address=1'], {
      env: baseEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(bus);
    const address = await firstLine(bus, 'dbus-daemon');
    const env = { ...baseEnv, DBUS_SESSION_BUS_ADDRESS: address };

    // 2. gnome-keyring with only the secrets component, its login keyring created/unlocked with a password
    //    read from stdin.
    const keyring = spawn(keyringDaemon, ['--foreground', '--unlock', '--components=secrets'], {
      env,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    children.push(keyring);
    const keyringErr = collect(keyring);
    keyring.stdin!.end(KEYRING_PASSWORD);

    // 3. Ready when it owns org.freedesktop.secrets on the bus.
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (keyring.exitCode !== null || keyring.signalCode !== null) {
        throw new Error(`gnome-keyring-daemon exited (${keyring.exitCode ?? keyring.signalCode}): ${keyringErr()}`);
      }
      if (await nameHasOwner(dbusSend, env, 'org.freedesktop.secrets')) break;
      if (Date.now() > deadline) {
        throw new Error(
          `gnome-keyring-daemon did not register org.freedesktop.secrets within ${START_TIMEOUT_MS} ms: ${keyringErr()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return { env, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The absolute path of a command on PATH, or a loud error naming the package that provides it. */
async function requireCommand(name: string, debianPackage: string): Promise<string> {
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  throw new Error(
    `${name} is not installed: the keychain tests need it (Debian: apt-get install ${debianPackage}). ` +
      'Run the tests with `npm test`, which installs the prerequisites when run as root.',
  );
}

function firstLine(child: ChildProcess, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(
      () => reject(new Error(`${what} printed no address within ${START_TIMEOUT_MS} ms: ${err}`)),
      START_TIMEOUT_MS,
    );
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl).trim());
      }
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? signal}) before printing its address: ${err}`));
    });
  });
}

function collect(child: ChildProcess): () => string {
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.on('error', (e) => (err += String(e)));
  return () => err.trim();
}

function nameHasOwner(dbusSend: string, env: Record<string, string>, name: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(
      dbusSend,
      [
        '--session',
        '--dest=org.freedesktop.DBus',
        '--type=method_call',
        '--print-reply',
        '/org/freedesktop/DBus',
        'org.freedesktop.DBus.NameHasOwner',
        `string:${name}`,
      ],
      { env, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', () => resolve(false));
    child.on('close', (code) => resolve(code === 0 && /boolean true/.test(out)));
  });
}

function killAndWait(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
