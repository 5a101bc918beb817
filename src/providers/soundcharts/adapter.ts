// Soundcharts: client credentials over HTTP Basic with an optional team_id in the form body;
// or the deprecated x-app-id / x-api-key header pair, which has no access token at all.
import { clientCredentialsGrantRequest, processClientCredentialsResponse } from '../../oauth/grants.js';
import { loginCommand, loginHint } from '../../model/hints.js';
import { accessToken, refuseFlags, requireFlag } from '../common.js';
import type { ProviderAdapter, ProviderContext, Secrets } from '../../model/model.js';

export const LEGACY_WARNING =
  'Soundcharts API keys (x-app-id / x-api-key) are deprecated; prefer `tokens login soundcharts --client-id ID` with API client credentials.';

async function mint(ctx: ProviderContext, secrets: Secrets) {
  const clientId = ctx.settings.client_id;
  const clientSecret = secrets.client_secret;
  if (ctx.settings.mode !== 'client_credentials' || !clientId || !clientSecret) {
    throw new Error('soundcharts mint called without client credentials');
  }
  const endpoint = {
    providerTitle: 'Soundcharts',
    url: ctx.endpoint('token'),
    loginHint: loginHint('soundcharts', ctx.profile),
    loginCommand: loginCommand('soundcharts', ctx.profile),
  };
  const client = { id: clientId, secret: clientSecret, authentication: 'basic' } as const;
  const response = await clientCredentialsGrantRequest(ctx.deps, endpoint, client, { team_id: ctx.settings.team_id });
  // Soundcharts documents token_type "bearer" on every answer.
  const answer = processClientCredentialsResponse(response, endpoint, { tokenType: 'bearer' });
  return { token: accessToken(answer, ctx.deps.now(), 'Soundcharts') };
}

export const soundchartsAdapter: ProviderAdapter = {
  planLogin(flags, previous) {
    if (flags.legacy) {
      refuseFlags(flags, ['legacy', 'appId'], 'soundcharts --legacy');
      const appId = requireFlag(
        flags.appId ?? (previous?.mode === 'legacy' ? previous.app_id : undefined),
        '--app-id ID',
        'tokens login soundcharts --legacy',
      );
      return {
        settings: { mode: 'legacy', app_id: appId },
        secrets: ['api_key'],
        warnings: [LEGACY_WARNING],
      };
    }
    refuseFlags(flags, ['clientId', 'teamId'], 'soundcharts (--app-id needs --legacy)');
    const reuse = previous?.mode === 'client_credentials' ? previous : undefined;
    const clientId = requireFlag(flags.clientId ?? reuse?.client_id, '--client-id ID', 'tokens login soundcharts');
    const teamId = flags.teamId ?? (flags.clientId ? undefined : reuse?.team_id);
    return {
      settings: { mode: 'client_credentials', client_id: clientId, ...(teamId ? { team_id: teamId } : {}) },
      secrets: ['client_secret'],
    };
  },
  async completeLogin(ctx, secrets) {
    if (ctx.settings.mode === 'legacy') return { secrets };
    const result = await mint(ctx, secrets);
    return { secrets, token: result.token };
  },
  mint,
  staticCredentials(settings, secrets) {
    if (settings.mode !== 'legacy') return undefined;
    const appId = settings.app_id ?? '';
    const apiKey = secrets.api_key ?? '';
    return {
      headers: [
        ['x-app-id', appId],
        ['x-api-key', apiKey],
      ],
      env: [
        ['SOUNDCHARTS_APP_ID', appId],
        ['SOUNDCHARTS_API_KEY', apiKey],
      ],
      json: { mode: 'legacy', app_id: appId, api_key: apiKey },
      secrets: [apiKey],
    };
  },
};
