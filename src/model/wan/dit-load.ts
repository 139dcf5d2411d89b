// The Wan DiT on the GPU for one latent shape: its graph built with the network load options
// every model takes (weight dtype, memory budget) and an executor over the checkpoint's weights.

import { Executor, type ExecutorOptions } from '../../graph/executor.ts';
import type { WeightStore } from '../../graph/weights.ts';
import type { EgoxDevice } from '../../runtime/device.ts';
import { executorBudget, type NetworkLoadOptions } from '../load-options.ts';
import type { WanConfig } from './config.ts';
import { WanDit, type DitGraphOptions } from './dit.ts';

export interface LoadedDit {
  dit: WanDit;
  exec: Executor;
}

export async function loadDit(
  dev: EgoxDevice,
  config: WanConfig,
  store: WeightStore,
  shape: Omit<DitGraphOptions, 'weightDtype'>,
  load: NetworkLoadOptions = {},
  run: Pick<ExecutorOptions, 'profile' | 'weightTransforms'> = {},
): Promise<LoadedDit> {
  const dit = new WanDit(config, { ...shape, weightDtype: load.weightDtype });
  const exec = await Executor.create(dev, dit.build(), store, { ...run, ...executorBudget('dit', load) });
  return { dit, exec };
}
