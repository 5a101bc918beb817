import type { ProviderDescriptor } from '../../model/model.js';

export const soundcloud = {
  id: 'soundcloud',
  title: 'SoundCloud',
  envPrefix: 'SOUNDCLOUD',
  authScheme: 'OAuth',
  modes: ['authorization_code', 'client_credentials'],
  endpoints: {
    authorize: { env: 'TOKENS_SOUNDCLOUD_AUTHORIZE_URL', default: 'https://secure.soundcloud.com/authorize' },
    token: { env: 'TOKENS_SOUNDCLOUD_TOKEN_URL', default: 'https://secure.soundcloud.com/oauth/token' },
    signout: { env: 'TOKENS_SOUNDCLOUD_SIGNOUT_URL', default: 'https://secure.soundcloud.com/sign-out' },
    api: { env: 'TOKENS_SOUNDCLOUD_API_URL', default: 'https://api.soundcloud.com' },
  },
  secrets: [{ name: 'client_secret', env: 'TOKENS_SOUNDCLOUD_CLIENT_SECRET', label: 'SoundCloud client secret' }],
  loadAdapter: async () => (await import('./adapter.js')).soundcloudAdapter,
  loadPagination: async () => (await import('./pagination.js')).pagination,
} as const satisfies ProviderDescriptor;
