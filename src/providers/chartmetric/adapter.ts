// Chartmetric: a long-lived refresh token, exchanged at POST /api/token with a JSON
// {"refreshtoken"} body. The answer may carry a new refresh token, which replaces the old one.
import * as z from '../../base/zod.js';
import { sendTokenRequest } from '../../http/http.js';
import { ExpiresIn, processTokenResponse } from '../../oauth/oauth.js';
import { loginHint } from '../../model/hints.js';
import { mintResult, refuseFlags } from '../common.js';
import type { ProviderAdapter, ProviderContext, Secrets } from '../../model/model.js';

const TokenAnswer = z.object({
  token: z.string().check(z.minLength(1)),
  expires_in: ExpiresIn,
  refresh_token: z.nullish(z.string().check(z.minLength(1))),
  scope: z.nullish(z.string()),
});

async function mint(ctx: ProviderContext, secrets: Secrets) {
  const refreshToken = secrets.refresh_token;
  if (!refreshToken) throw new Error('chartmetric secrets without a refresh_token');
  const response = await sendTokenRequest(ctx.deps, {
    providerTitle: 'Chartmetric',
    url: ctx.endpoint('token'),
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refreshtoken: refreshToken }),
    secrets: [refreshToken],
  });
  const answer = processTokenResponse(response, {
    providerTitle: 'Chartmetric',
    schema: TokenAnswer,
    loginHint: loginHint('chartmetric', ctx.profile),
  });
  const rotated = answer.refresh_token && answer.refresh_token !== refreshToken;
  const fields = {
    access_token: answer.token,
    token_type: 'bearer',
    expires_in: answer.expires_in,
    scope: answer.scope,
  };
  return mintResult(
    fields,
    ctx.deps.now(),
    'Chartmetric',
    rotated ? { refresh_token: answer.refresh_token! } : undefined,
  );
}

export const chartmetricAdapter: ProviderAdapter = {
  planLogin(flags) {
    refuseFlags(flags, [], 'chartmetric');
    return {
      settings: { mode: 'refresh_token' },
      secrets: ['refresh_token'],
    };
  },
  async completeLogin(ctx, secrets) {
    const result = await mint(ctx, secrets);
    return { secrets: result.secrets ?? secrets, token: result.token };
  },
  mint,
};
