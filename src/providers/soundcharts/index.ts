import type { ProviderDescriptor } from '../../core/model.js';

export const soundcharts: ProviderDescriptor = {
  id: 'soundcharts',
  title: 'Soundcharts',
  envPrefix: 'SOUNDCHARTS',
  authScheme: 'Bearer',
  endpoints: {
    token: { env: 'TOKENS_SOUNDCHARTS_TOKEN_URL', default: 'https://account.soundcharts.com/oauth/token' },
    api: { env: 'TOKENS_SOUNDCHARTS_API_URL', default: 'https://customer.api.soundcharts.com' },
  },
  secretEnv: ['TOKENS_SOUNDCHARTS_CLIENT_SECRET', 'TOKENS_SOUNDCHARTS_API_KEY'],
  loadAdapter: async () => (await import('./adapter.js')).soundchartsAdapter,
  loadPagination: async () => (await import('./pagination.js')).pagination,
};
