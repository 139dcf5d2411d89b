// Opening MoGe-2 weights and running the network. The weights come from any WeightSource
// (today the safetensors copy with its config.json beside it; model.pt through the PyTorch
// reader once it lands), the config is the checkpoint's model_config. One graph per (image
// size, token budget), built on first use and cached.

import { Executor } from '../../graph/executor.ts';
import { WeightStore, type WeightSource } from '../../graph/weights.ts';
import { Checkpoint } from '../../io/checkpoint.ts';
import { mogeFiles, readJsonFile } from '../../io/model-layout.ts';
import { PytorchCheckpoint } from '../../io/pytorch/index.ts';
import { defaultConvVariant, type ConvShapeSpec } from '../../kernels/conv/index.ts';
import type { EgoxDevice } from '../../runtime/device.ts';
import { MogeModelError, mogeConfig, tokenGrid, tokensForLevel, type MogeConfig } from './config.ts';
import { MOGE_IO, buildMogeGraph } from './graph.ts';
import { mogeGeometry, type MogeGeometry } from './postprocess.ts';

export interface MogeOptions {
  weightDtype?: 'f32' | 'bf16' | 'f16';
  gpuMemoryBytes?: number;
}

export interface MogeOutputs {
  /** [H, W, 3] (remapped), present with a points head. */
  points?: Float32Array;
  /** [H, W, 3] unit vectors, present with a normal head. */
  normal?: Float32Array;
  /** [H, W] in 0..1, present with a mask head. */
  mask?: Float32Array;
  metricScale?: number;
  grid: { rows: number; cols: number };
}

/** The token budget's feature maps exceed a storage binding; `fitTokens` is a budget that fits. */
export class MogeBindingLimitError extends MogeModelError {
  constructor(message: string, readonly fitTokens: number) {
    super(message);
  }
}

export class MogeModel {
  private readonly graphs = new Map<string, Executor>();

  private constructor(
    private readonly dev: EgoxDevice,
    readonly config: MogeConfig,
    private readonly store: WeightStore,
    private readonly opts: MogeOptions,
    private readonly onClose: () => Promise<void>,
  ) {}

  /** From a weight source and the checkpoint's model_config object. */
  static fromSource(dev: EgoxDevice, source: WeightSource, sourceName: string, modelConfig: unknown, opts: MogeOptions = {}, onClose: () => Promise<void> = async () => {}): MogeModel {
    if (opts.weightDtype === 'f16' && !dev.has('shader-f16')) throw new MogeModelError('weight dtype f16 needs the shader-f16 feature, which this adapter lacks; use bf16');
    const config = mogeConfig(modelConfig, source.tensors, sourceName);
    return new MogeModel(dev, config, new WeightStore(source, sourceName), opts, onClose);
  }

  /** A safetensors file of the state dict with its model_config as JSON (configPath). */
  static async openSafetensors(dev: EgoxDevice, weightsPath: string, configPath: string, opts: MogeOptions = {}): Promise<MogeModel> {
    const { json: raw, error } = readJsonFile(configPath);
    if (!raw) throw new MogeModelError(`${configPath}: cannot read the model_config JSON (${error})`);
    const ckpt = await Checkpoint.open(weightsPath);
    try {
      return MogeModel.fromSource(dev, ckpt, weightsPath, raw, opts, () => ckpt.close());
    } catch (e) {
      await ckpt.close();
      throw e;
    }
  }

  /** The published model.pt: a PyTorch checkpoint holding `model_config` and the state dict `model`. */
  static async openPytorch(dev: EgoxDevice, path: string, opts: MogeOptions = {}): Promise<MogeModel> {
    const ckpt = await PytorchCheckpoint.open(path);
    try {
      const config = ckpt.entries['model_config'];
      if (config === undefined) throw new MogeModelError(`${path}: no 'model_config' entry; is this a MoGe-2 model.pt?`);
      return MogeModel.fromSource(dev, ckpt, path, config, opts, () => ckpt.close());
    } catch (e) {
      await ckpt.close();
      throw e;
    }
  }

  /**
   * A MoGe-2 model by path: the published model.pt (or a folder holding it), or a folder /
   * .safetensors file of the state dict with its model_config as config.json beside it (or at
   * configPath).
   */
  static async open(dev: EgoxDevice, path: string, opts: MogeOptions & { configPath?: string } = {}): Promise<MogeModel> {
    const files = mogeFiles(path, opts.configPath);
    if ('problem' in files) throw new MogeModelError(files.problem);
    if ('pytorch' in files) return MogeModel.openPytorch(dev, files.pytorch, opts);
    return MogeModel.openSafetensors(dev, files.safetensors, files.configJson, opts);
  }

  /** The official default token budget (resolution_level 9 = the most tokens). */
  defaultTokens(resolutionLevel = 9): number {
    return tokensForLevel(this.config, resolutionLevel);
  }

  /** image planar [3, H, W] in 0..1 -> the network's outputs (MoGeModel.forward, batch 1). */
  async forward(image: Float32Array, height: number, width: number, numTokens = this.defaultTokens()): Promise<MogeOutputs> {
    if (!(Number.isInteger(height) && height > 0 && Number.isInteger(width) && width > 0) || image.length !== 3 * height * width) {
      throw new MogeModelError(`image has ${image.length} values; a ${width}x${height} RGB image needs [3, ${height}, ${width}] = ${3 * height * width}`);
    }
    if (!(Number.isInteger(numTokens) && numTokens > 0)) throw new MogeModelError(`num_tokens must be a positive integer, got ${numTokens}`);
    const grid = tokenGrid(height, width, numTokens);
    const key = `${width}x${height}:${grid.rows}x${grid.cols}`;
    let exec = this.graphs.get(key);
    if (!exec) {
      const variant = (spec: ConvShapeSpec) => defaultConvVariant(this.dev, spec);
      const graph = buildMogeGraph(this.config, { height, width, ...grid, weightDtype: this.opts.weightDtype, variant, bindingLimit: this.dev.limits.maxStorageBufferBindingSize });
      exec = await this.createExecutor(graph, numTokens);
      this.graphs.set(key, exec);
    }
    await exec.run({ [MOGE_IO.image]: image });
    const has = (k: keyof MogeConfig['heads']) => this.config.heads[k] !== undefined;
    return {
      points: has('points_head') ? await exec.read(MOGE_IO.points) : undefined,
      normal: has('normal_head') ? await exec.read(MOGE_IO.normal) : undefined,
      mask: has('mask_head') ? await exec.read(MOGE_IO.mask) : undefined,
      metricScale: this.config.scaleDims ? (await exec.read(MOGE_IO.metricScale))[0] : undefined,
      grid,
    };
  }

  /** forward, then the official infer's post-processing: depth and normalised intrinsics (fovX: a known horizontal FoV in degrees). */
  async infer(image: Float32Array, height: number, width: number, numTokens = this.defaultTokens(), fovX?: number): Promise<MogeOutputs & { geometry: MogeGeometry }> {
    if (fovX !== undefined && !(fovX > 0 && fovX < 180)) throw new MogeModelError(`fov_x ${fovX}: give the horizontal field of view in degrees, between 0 and 180`);
    const out = await this.forward(image, height, width, numTokens);
    if (!out.points) throw new MogeModelError('this checkpoint has no points head; depth and intrinsics need one');
    return { ...out, geometry: mogeGeometry(out.points, out.mask, out.metricScale, height, width, fovX) };
  }

  /**
   * The feature maps grow with the token budget (the last neck levels hold 256x the grid):
   * past the adapter's storage binding limit (128 MiB on lavapipe) the planner refuses a
   * binding; say which budget fits instead.
   */
  private async createExecutor(graph: ReturnType<typeof buildMogeGraph>, numTokens: number): Promise<Executor> {
    try {
      return await Executor.create(this.dev, graph, this.store, { gpuMemoryBytes: this.opts.gpuMemoryBytes });
    } catch (e) {
      const m = /a (\d+)-byte binding exceeds this adapter's maxStorageBufferBindingSize \((\d+)\)/.exec((e as Error).message);
      if (!m) throw e;
      const fit = Math.floor((numTokens * Number(m[2])) / Number(m[1]) * 0.95);
      throw new MogeBindingLimitError(`MoGe-2 at ${numTokens} tokens needs a ${(Number(m[1]) / 2 ** 20).toFixed(0)} MiB buffer binding; this adapter allows ${(Number(m[2]) / 2 ** 20).toFixed(0)} MiB: use --num-tokens ${fit} or fewer`, fit);
    }
  }

  async close(): Promise<void> {
    for (const e of this.graphs.values()) e.destroy();
    this.graphs.clear();
    await this.onClose();
  }
}
