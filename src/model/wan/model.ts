// A Wan DiT ready to build and run: the checkpoint and, when asked for, a LoRA adapter attached
// to it (merged at load or fused at run time, model/lora) behind one weight store. Callers hand
// over the adapter request and get one model; they never pick stores or graph LoRA options.

import { Executor, type ExecutorOptions } from '../../graph/executor.ts';
import type { WeightStore } from '../../graph/weights.ts';
import type { EgoxDevice } from '../../runtime/device.ts';
import { executorBudget, type NetworkLoadOptions } from '../load-options.ts';
import { attachLoras, type AttachedLora, type LoraRequest } from '../lora/attach.ts';
import type { WanConfig } from './config.ts';
import { WanDit, type DitGraphOptions } from './dit.ts';
import { openWanCheckpoint, type WanCheckpoint } from './load.ts';
import { wanLoraModules } from './names.ts';

export interface WanModelOptions {
  /** Force a named config (or give one) instead of config.json / the tensor shapes. */
  config?: string | WanConfig;
  /** One adapter, or several stacked (their deltas summed). */
  lora?: LoraRequest | readonly LoraRequest[];
}

/** The DiT of one input shape on a device: its graph and the executor running it. */
export interface LoadedDit {
  dit: WanDit;
  exec: Executor;
}

export class WanModel {
  private constructor(
    readonly base: WanCheckpoint,
    readonly lora: AttachedLora | null,
  ) {}

  /** Opens the checkpoint (headers only) and attaches the adapter, its shapes checked. */
  static async open(path: string, options: WanModelOptions = {}): Promise<WanModel> {
    const base = await openWanCheckpoint(path, { config: options.config });
    if (!options.lora || (Array.isArray(options.lora) && options.lora.length === 0)) return new WanModel(base, null);
    try {
      const requests = Array.isArray(options.lora) ? options.lora : [options.lora as LoraRequest];
      const lora = await attachLoras({ checkpoint: base.checkpoint, store: base.store, modules: wanLoraModules(base.config) }, requests);
      return new WanModel(base, lora);
    } catch (e) {
      await base.checkpoint.close();
      throw e;
    }
  }

  get config(): WanConfig {
    return this.base.config;
  }

  /** The weights every executor of this model reads (with the adapter's, when one is attached). */
  get store(): WeightStore {
    return this.lora?.store ?? this.base.store;
  }

  /** The DiT graph for one input shape; `config` may override a run's text and image lengths. */
  graph(options: Omit<DitGraphOptions, 'runtimeLora'>, config: WanConfig = this.config): WanDit {
    return new WanDit(config, { ...options, runtimeLora: this.lora?.runtimeLora, quantizedWeights: this.base.quantizedWeights });
  }

  /** An executor of `dit` on `dev`; a merged adapter is added to each weight as it uploads. */
  executor(dev: EgoxDevice, dit: WanDit, options: Omit<ExecutorOptions, 'weightTransforms'> = {}): Promise<Executor> {
    return Executor.create(dev, dit.build(), this.store, { ...options, weightTransforms: this.lora?.weightTransforms });
  }

  /**
   * The DiT for one input shape on `dev`, loaded like every network (weight dtype, the memory
   * budget and its residency claim); `config` may override a run's text and image lengths.
   */
  async load(
    dev: EgoxDevice,
    shape: Omit<DitGraphOptions, 'weightDtype' | 'runtimeLora'>,
    load: NetworkLoadOptions = {},
    run: Pick<ExecutorOptions, 'profile'> = {},
    config: WanConfig = this.config,
  ): Promise<LoadedDit> {
    const dit = this.graph({ ...shape, weightDtype: load.weightDtype }, config);
    const exec = await this.executor(dev, dit, { ...run, ...executorBudget('dit', load) });
    return { dit, exec };
  }

  async close(): Promise<void> {
    try {
      await this.lora?.close();
    } finally {
      await this.base.checkpoint.close();
    }
  }
}
