import { describe, expect, it } from 'vitest';
import { colourPainter, describeExpiry, renderStatusTable } from '../../src/commands/status-table.js';
import type { StatusEntry } from '../../src/commands/status-table.js';

const NOW = Date.UTC(2026, 10, 23, 12);
const at = (ms: number) => new Date(NOW + ms).toISOString();

describe('describeExpiry', () => {
  it.each([
    [null, 'no cached token'],
    [at(-1000), 'expired'],
    [at(0), 'expired'],
    [at(30_000), 'expires in 30 s'],
    [at(42 * 60_000 + 5000), 'expires in 42 min'],
    [at(5 * 3600_000), 'expires in 5 h'],
  ])('%s → %s', (expiresAt, text) => expect(describeExpiry(expiresAt, NOW)).toBe(text));
});

describe('renderStatusTable', () => {
  const entry = (over: Partial<StatusEntry>): StatusEntry => ({
    provider: 'chartmetric',
    profile: 'default',
    configured: true,
    mode: 'refresh_token',
    store: 'keychain',
    client_id: null,
    token_expires_at: at(42 * 60_000),
    token_expired: false,
    refresh_token: true,
    needs_login: false,
    ...over,
  });

  it('lines up columns, without colour codes when colour is off', () => {
    const text = renderStatusTable(
      [
        entry({}),
        entry({ provider: 'soundcloud', mode: 'authorization_code', token_expires_at: at(-5), refresh_token: null }),
      ],
      { now: NOW, profile: 'default' },
    );
    expect(text).toBe(
      [
        'PROVIDER     PROFILE  MODE                STORE     TOKEN              REFRESH TOKEN',
        'chartmetric  default  refresh_token       keychain  expires in 42 min  yes',
        'soundcloud   default  authorization_code  keychain  expired            unknown',
        '',
      ].join('\n'),
    );
    expect(text).not.toMatch(/\u001b\[/);
  });

  it('colours expiry when colour is on', async () => {
    const text = renderStatusTable([entry({ token_expires_at: at(-5) })], {
      now: NOW,
      profile: 'default',
      paint: await colourPainter(),
    });
    expect(text).toContain('\u001b[31mexpired');
  });

  it('says what to do when nothing is configured', () => {
    expect(renderStatusTable([entry({ configured: false })], { now: NOW, profile: 'staging' })).toContain(
      'tokens login PROVIDER',
    );
  });

  it('legacy mode shows a static key, not an expiry', () => {
    expect(
      renderStatusTable(
        [entry({ provider: 'soundcharts', mode: 'legacy', token_expires_at: null, refresh_token: false })],
        { now: NOW, profile: 'default' },
      ),
    ).toContain('static API key');
  });
});
