// Every provider, one line each. Descriptors are plain data; their code loads on demand.
import { chartmetric } from './chartmetric/index.js';
import { soundcharts } from './soundcharts/index.js';
import { soundcloud } from './soundcloud/index.js';
import type { ProviderDescriptor } from '../core/model.js';

export const PROVIDERS: readonly ProviderDescriptor[] = [soundcloud, chartmetric, soundcharts];

export const PROVIDER_IDS = PROVIDERS.map((p) => p.id);

export function findProvider(name: string): ProviderDescriptor | undefined {
  return PROVIDERS.find((p) => p.id === name);
}
