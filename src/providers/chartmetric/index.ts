import type { ProviderDescriptor } from '../../core/model.js';

export const chartmetric: ProviderDescriptor = {
  id: 'chartmetric',
  title: 'Chartmetric',
  envPrefix: 'CHARTMETRIC',
  authScheme: 'Bearer',
  endpoints: {
    token: { env: 'TOKENS_CHARTMETRIC_TOKEN_URL', default: 'https://api.chartmetric.com/api/token' },
    api: { env: 'TOKENS_CHARTMETRIC_API_URL', default: 'https://api.chartmetric.com' },
  },
  secretEnv: ['TOKENS_CHARTMETRIC_REFRESH_TOKEN'],
  loadAdapter: async () => (await import('./adapter.js')).chartmetricAdapter,
};
