// The human table of `tokens status`, coloured through chalk only when colour is wanted (chalk is
// loaded then only: the fast path prints the plain table).

/** One row of `status --json`; the field set is documented in the README and kept stable. */
export interface StatusEntry {
  provider: string;
  profile: string;
  configured: boolean;
  mode: string | null;
  store: string | null;
  client_id: string | null;
  token_expires_at: string | null;
  token_expired: boolean | null;
  refresh_token: boolean | null;
  /** The provider refused the stored login (exit 4 from a refresh): only `tokens login` helps. */
  needs_login: boolean | null;
}

/** How the table marks its header and the token's state; plain text unless colour is wanted. */
export interface Painter {
  bold(text: string): string;
  red(text: string): string;
  green(text: string): string;
}

const PLAIN: Painter = { bold: (t) => t, red: (t) => t, green: (t) => t };

/** ANSI colours (chalk, level 1), for a terminal or FORCE_COLOR. */
export async function colourPainter(): Promise<Painter> {
  const { Chalk } = await import('chalk');
  const chalk = new Chalk({ level: 1 });
  return { bold: (t) => chalk.bold(t), red: (t) => chalk.red(t), green: (t) => chalk.green(t) };
}

export function describeExpiry(expiresAt: string | null, now: number): string {
  if (!expiresAt) return 'no cached token';
  const ms = Date.parse(expiresAt) - now;
  if (ms <= 0) return 'expired';
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return `expires in ${Math.max(1, Math.floor(ms / 1000))} s`;
  if (minutes < 120) return `expires in ${minutes} min`;
  return `expires in ${Math.floor(minutes / 60)} h`;
}

export function renderStatusTable(
  entries: StatusEntry[],
  options: { now: number; profile: string; paint?: Painter; unreadable?: string },
): string {
  const colour = options.paint ?? PLAIN;
  const shown = entries.filter((e) => e.configured);
  // The shared settings could not be read: that is the news, not an empty profile (nor a new login).
  if (shown.length === 0 && options.unreadable !== undefined)
    return `The secret store could not be read (${options.unreadable}), so which providers it has configured for profile "${options.profile}" is unknown; this machine's own config has none.\n`;
  if (shown.length === 0)
    return `No provider is configured for profile "${options.profile}". Run \`tokens login PROVIDER\`.\n`;
  const header = ['PROVIDER', 'PROFILE', 'MODE', 'STORE', 'TOKEN', 'REFRESH TOKEN'];
  const rows = shown.map((e) => [
    e.provider,
    e.profile,
    e.mode ?? '',
    e.store ?? '',
    e.needs_login
      ? 'refused: log in again'
      : e.mode === 'legacy'
        ? 'static API key'
        : e.token_expired
          ? 'expired'
          : describeExpiry(e.token_expires_at, options.now),
    e.refresh_token === null ? 'unknown' : e.refresh_token ? 'yes' : 'no',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const pad = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const paint = (row: string[], line: string) => {
    const token = row[4]!;
    if (token === 'expired' || token.startsWith('refused')) return line.replace(token, colour.red(token));
    if (token.startsWith('expires')) return line.replace(token, colour.green(token));
    return line;
  };
  return `${[colour.bold(pad(header)), ...rows.map((r) => paint(r, pad(r)))].join('\n')}\n`;
}
