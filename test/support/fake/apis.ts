// The three fake provider APIs and the CDN, started together against one fake auth server.
import { ChartmetricApi } from './chartmetric-api.js';
import { FakeCdn } from './cdn.js';
import type { TokenAuthority } from './api-base.js';
import { SoundchartsApi, type SoundchartsApiOptions } from './soundcharts-api.js';
import { SoundcloudApi, type SoundcloudApiOptions } from './soundcloud-api.js';

export interface ApiEnv {
  TOKENS_SOUNDCLOUD_API_URL: string;
  TOKENS_CHARTMETRIC_API_URL: string;
  TOKENS_SOUNDCHARTS_API_URL: string;
  [name: string]: string;
}

export interface FakeApisOptions {
  soundcloud?: SoundcloudApiOptions;
  soundcharts?: SoundchartsApiOptions;
}

export interface FakeApis {
  readonly soundcloud: SoundcloudApi;
  readonly chartmetric: ChartmetricApi;
  readonly soundcharts: SoundchartsApi;
  readonly cdn: FakeCdn;
  /** The TOKENS_*_API_URL variables: each API's base, path prefix included. */
  env(): ApiEnv;
  /** The violations of the three APIs and the CDN together. Should stay empty. */
  violations(): string[];
  /** Empty every request log and violation list. */
  resetLog(): void;
  close(): Promise<void>;
}

/** Start the fake APIs (each on its own 127.0.0.1 port) and the CDN. Call close() when done. */
export async function startFakeApis(tokens: TokenAuthority, options: FakeApisOptions = {}): Promise<FakeApis> {
  const cdn = new FakeCdn(tokens);
  const cdnUrl = () => cdn.url;
  const soundcloud = new SoundcloudApi(tokens, cdnUrl, options.soundcloud);
  const chartmetric = new ChartmetricApi(tokens, cdnUrl);
  const soundcharts = new SoundchartsApi(tokens, cdnUrl, options.soundcharts);
  const apis = [soundcloud, chartmetric, soundcharts];
  await Promise.all([cdn.listen(), ...apis.map((a) => a.listen())]);
  return {
    soundcloud,
    chartmetric,
    soundcharts,
    cdn,
    env: () => ({
      TOKENS_SOUNDCLOUD_API_URL: soundcloud.base,
      TOKENS_CHARTMETRIC_API_URL: chartmetric.base,
      TOKENS_SOUNDCHARTS_API_URL: soundcharts.base,
    }),
    violations: () => [...apis.flatMap((a) => a.violations), ...cdn.violations],
    resetLog: () => {
      for (const a of apis) a.resetLog();
      cdn.resetLog();
    },
    close: async () => {
      await Promise.all([cdn.close(), ...apis.map((a) => a.close())]);
    },
  };
}
