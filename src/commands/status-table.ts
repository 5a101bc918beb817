// The human table of `tokens status`, coloured through chalk only when colour is wanted.
import { Chalk } from 'chalk';
import type { StatusEntry } from './status.js';

export function describeExpiry(expiresAt: string | null, now: number): string {
  if (!expiresAt) return 'no cached token';
  const ms = Date.parse(expiresAt) - now;
  if (ms <= 0) return 'expired';
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return `expires in ${Math.max(1, Math.floor(ms / 1000))} s`;
  if (minutes < 120) return `expires in ${minutes} min`;
  return `expires in ${Math.floor(minutes / 60)} h`;
}

export function renderStatusTable(entries: StatusEntry[], options: { now: number; color: boolean; profile: string }): string {
  const chalk = new Chalk({ level: options.color ? 1 : 0 });
  const shown = entries.filter((e) => e.configured);
  if (shown.length === 0) return `No provider is configured for profile "${options.profile}". Run \`tokens login PROVIDER\`.\n`;
  const header = ['PROVIDER', 'PROFILE', 'MODE', 'STORE', 'TOKEN', 'REFRESH TOKEN'];
  const rows = shown.map((e) => [
    e.provider,
    e.profile,
    e.mode ?? '',
    e.store ?? '',
    e.mode === 'legacy' ? 'static API key' : e.token_expired ? 'expired' : describeExpiry(e.token_expires_at, options.now),
    e.refresh_token === null ? 'unknown' : e.refresh_token ? 'yes' : 'no',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const pad = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const paint = (row: string[], line: string) => {
    const token = row[4]!;
    if (token === 'expired') return line.replace(token, chalk.red(token));
    if (token.startsWith('expires')) return line.replace(token, chalk.green(token));
    return line;
  };
  return [chalk.bold(pad(header)), ...rows.map((r) => paint(r, pad(r)))].join('\n') + '\n';
}
