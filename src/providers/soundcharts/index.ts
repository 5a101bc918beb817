import type { ProviderDescriptor } from '../../model/model.js';

export const soundcharts = {
  id: 'soundcharts',
  title: 'Soundcharts',
  envPrefix: 'SOUNDCHARTS',
  staticEnvNames: ['SOUNDCHARTS_APP_ID', 'SOUNDCHARTS_API_KEY'],
  authScheme: 'Bearer',
  modes: ['client_credentials', 'legacy'],
  endpoints: {
    token: { env: 'TOKENS_SOUNDCHARTS_TOKEN_URL', default: 'https://account.soundcharts.com/oauth/token' },
    api: { env: 'TOKENS_SOUNDCHARTS_API_URL', default: 'https://customer.api.soundcharts.com' },
  },
  secrets: [
    { name: 'client_secret', env: 'TOKENS_SOUNDCHARTS_CLIENT_SECRET', label: 'Soundcharts client secret' },
    { name: 'api_key', env: 'TOKENS_SOUNDCHARTS_API_KEY', label: 'Soundcharts API key' },
  ],
  loadAdapter: async () => (await import('./adapter.js')).soundchartsAdapter,
  loadPagination: async () => (await import('./pagination.js')).pagination,
} as const satisfies ProviderDescriptor;
