// The fake provider servers for tests; this module is the one place tests import them from. The code
// lives in ./fake/: harness.ts (what every fake shares), the auth endpoints (provider-server.ts serving
// chartmetric.ts, soundcharts.ts, soundcloud.ts) and the APIs of `tokens api` (apis.ts starting
// soundcloud-api.ts, chartmetric-api.ts, soundcharts-api.ts on api-base.ts, and the CDN, cdn.ts).
export {
  MALFORMED_MARKER,
  PROVIDERS,
  type DelayFault,
  type FaultKind,
  type HangFault,
  type MalformedFault,
  type MissingFault,
  type ProviderName,
  type RedirectFault,
  type ResetFault,
  type StatusFault,
} from './fake/harness.js';
export type {
  AccessTokenInfo,
  EndpointKind,
  Fault,
  FaultTarget,
  MintRecord,
  RecordedRequest,
} from './fake/token-endpoint.js';
export type { ChartmetricControl } from './fake/chartmetric.js';
export type { SoundchartsClient, SoundchartsControl } from './fake/soundcharts.js';
export type { AuthorizeMode, IssuedTokens, SoundcloudClient, SoundcloudControl } from './fake/soundcloud.js';
export { basicAuth, followAuthorization, makePkce, s256 } from './fake/client-helpers.js';
export {
  startProviderServer,
  type ProviderEnv,
  type ProviderServer,
  type ProviderServerOptions,
  type ProviderUrls,
} from './fake/provider-server.js';

// The fake provider APIs (`tokens api`), each under a path prefix on its own origin, and the CDN.
export { startFakeApis, type ApiEnv, type FakeApis, type FakeApisOptions } from './fake/apis.js';
export {
  BINARY_SIZE,
  LARGE_SIZE,
  type ApiFault,
  type ApiRequest,
  type TokenAuthority,
} from './fake/api-base.js';
export { generatedBytes, generatedChunks, generatedDigest } from './fake/bytes.js';
export { MEDIA_SIZE, type CdnRequest, type FakeCdn } from './fake/cdn.js';
export type { MultipartPart } from './fake/multipart.js';
export {
  SOUNDCLOUD_API_PREFIX,
  SOUNDCLOUD_ME_ID,
  SOUNDCLOUD_USERS,
  soundcloudTrack,
  type SoundcloudApi,
  type SoundcloudUpload,
} from './fake/soundcloud-api.js';
export { CHARTMETRIC_API_PREFIX, CHARTMETRIC_ARTISTS, type ChartmetricApi } from './fake/chartmetric-api.js';
export {
  SOUNDCHARTS_API_PREFIX,
  SOUNDCHARTS_ARTIST,
  soundchartsSong,
  type SoundchartsApi,
} from './fake/soundcharts-api.js';
export { soundcloudResetTime } from './fake/harness.js';
