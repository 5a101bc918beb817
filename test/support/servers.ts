// The fake provider servers for tests. The code lives in ./fake/ (a shared harness, one module per
// provider); this module is the one place tests import them from.
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
export type { EndpointKind, Fault, FaultTarget, MintRecord, RecordedRequest } from './fake/token-endpoint.js';
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
