import type { ProviderDescriptor } from '../../model/model.js';

export const chartmetric = {
  id: 'chartmetric',
  title: 'Chartmetric',
  envPrefix: 'CHARTMETRIC',
  authScheme: 'Bearer',
  modes: ['refresh_token'],
  endpoints: {
    token: { env: 'TOKENS_CHARTMETRIC_TOKEN_URL', default: 'https://api.chartmetric.com/api/token' },
    api: { env: 'TOKENS_CHARTMETRIC_API_URL', default: 'https://api.chartmetric.com' },
  },
  secrets: [{ name: 'refresh_token', env: 'TOKENS_CHARTMETRIC_REFRESH_TOKEN', label: 'Chartmetric refresh token' }],
  loadAdapter: async () => (await import('./adapter.js')).chartmetricAdapter,
} as const satisfies ProviderDescriptor;
