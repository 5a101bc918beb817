// exec's stay path (src/commands/stay.ts) as a unit: the companions (exec --serve's server) get
// SIGTERM once the command has ended, and not before.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { runAsChild } from '../../src/commands/stay.js';

describe('runAsChild companions', () => {
  it('each companion gets SIGTERM once the command has ended, after it ran to its end', async () => {
    const companion = spawn('sleep', ['60'], { stdio: 'ignore' });
    const ended = new Promise<NodeJS.Signals | null>((resolve) => companion.on('exit', (_, signal) => resolve(signal)));
    const status = await runAsChild(
      'sh',
      ['-c', `kill -0 ${companion.pid} && exit 4`],
      { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      { write: () => undefined },
      { companions: [companion.pid!] },
    );
    // The command saw its companion alive (exit 4, not 1).
    expect(status).toBe(4);
    expect(await ended).toBe('SIGTERM');
  });

  it('a companion already gone is no error', async () => {
    const status = await runAsChild(
      'true',
      [],
      { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      { write: () => undefined },
      {
        companions: [2 ** 22 + 17],
      },
    );
    expect(status).toBe(0);
  });
});
