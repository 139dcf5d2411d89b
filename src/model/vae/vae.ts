// The Wan2.1 VAE on the graph executor: encode frames in [-1, 1] ([3, 1 + 4k, H, W]) to
// normalised latents ([zDim, 1 + k, H/8, W/8]) and decode them back (clamped to [-1, 1]).
// Both run chunk by chunk (encode 1, 4, 4, ... frames; decode one latent frame at a time)
// with the causal convs' frame caches carried between chunks, so GPU memory does not depend
// on the clip length. Optional spatial tiling bounds it in the frame size too.

import { WeightStore } from '../../graph/weights.ts';
import { readFp8Scales } from '../fp8-scales.ts';
import { defaultConvVariant, type ConvShapeSpec, type ConvVariant } from '../../kernels/conv/index.ts';
import type { EgoxDevice } from '../../runtime/device.ts';

import { spatialFactor, temporalFactor, type VaeConfig } from './config.ts';
import { openVaeCheckpoint } from './checkpoint.ts';
import { buildDecoderChunk, buildEncoderChunk, encoderChunkFrames, type ChunkGraphOptions } from './graphs.ts';
import { renameFor, type VaeLayout } from './names.ts';
import { runChunks, type ChunkGraphs, type ChunkTimings } from './runner.ts';
import { DEFAULT_TILE, runTiled, type HostTensor, type TileOptions } from './tiling.ts';
import { valueBytes, type Graph } from '../../graph/ir.ts';
import { InputError } from '../../runtime/errors.ts';
import type { ExecutorOptions } from '../../graph/executor.ts';
import { executorBudget, type NetworkLoadOptions } from '../load-options.ts';

export type { HostTensor, TileOptions } from './tiling.ts';
export { openVaeCheckpoint } from './checkpoint.ts';

export class VaeInputError extends InputError {}

export interface VaeOptions extends NetworkLoadOptions {
  /**
   * Spatial tiling. 'auto' (the default) tiles only when a tensor of the untiled run would not
   * fit one storage binding of the adapter (lavapipe: 128 MiB); false never tiles.
   */
  tile?: TileOptions | 'auto' | false;
  /** Conv kernel variant; default conv.ts's choice for the adapter and each conv. */
  variant?: ConvVariant;
  /** Time every node of every executor (graph/executor.ts). */
  profile?: boolean;
}

export interface VaeRunStats {
  /** Per-chunk timings of every tile run. */
  runs: ChunkTimings[];
  tiles: number;
}

export class WanVae {
  /** Timings of the last encode or decode. */
  lastStats: VaeRunStats = { runs: [], tiles: 0 };

  constructor(
    readonly dev: EgoxDevice,
    readonly config: VaeConfig,
    readonly weights: WeightStore,
    readonly layout: VaeLayout,
    readonly options: VaeOptions = {},
  ) {}

  /**
   * Opens a VAE: a diffusers model folder (with vae/), a vae folder (config.json +
   * diffusion_pytorch_model.safetensors) or a .safetensors file, in the diffusers or the
   * original Wan2.1 key layout.
   */
  static async load(dev: EgoxDevice, path: string, options: VaeOptions = {}): Promise<WanVae> {
    const { source, config, layout, where } = await openVaeCheckpoint(path);
    return new WanVae(dev, config, new WeightStore(source, where, renameFor(layout, config), await readFp8Scales(source, where)), layout, options);
  }

  /** Closes the checkpoint files (the weights are read again by every run). */
  async close(): Promise<void> {
    const src = this.weights.source as Partial<{ close: () => Promise<void> }>;
    await src.close?.();
  }

  private executorOptions(): ExecutorOptions {
    return { profile: this.options.profile, ...executorBudget('vae', this.options) };
  }

  private graphOptions(height: number, width: number, first: boolean): ChunkGraphOptions {
    const variant = this.options.variant ?? ((spec: ConvShapeSpec) => defaultConvVariant(this.dev, spec));
    return { height, width, first, weightDtype: this.options.weightDtype ?? 'f32', variant };
  }

  /** frames [3, F, H, W] in [-1, 1], F = 1 + 4k, H and W multiples of 8 -> normalised latents [zDim, 1 + k, H/8, W/8]. */
  async encode(frames: HostTensor): Promise<HostTensor> {
    const cfg = this.config;
    if (frames.shape.length !== 4) throw new VaeInputError(`frames have shape [${frames.shape.join(', ')}]; expected [3, F, H, W]`);
    const [c, f, h, w] = frames.shape;
    const s = spatialFactor(cfg);
    const t = temporalFactor(cfg);
    if (c !== 3) throw new VaeInputError(`frames have ${c} channels; the VAE encodes RGB frames [3, F, H, W]`);
    if ((f - 1) % t !== 0) throw new VaeInputError(`frames: ${f} frames; the VAE encodes 1 + ${t}k frames (e.g. ${1 + t * Math.floor((f - 1) / t)} or ${1 + t * Math.ceil((f - 1) / t)})`);
    if (h % s !== 0 || w % s !== 0) throw new VaeInputError(`frames are ${h}x${w}; height and width must be multiples of ${s}`);
    if (frames.data.length !== c * f * h * w) throw new VaeInputError(`frames: ${frames.data.length} values for shape [${frames.shape.join(', ')}]`);
    this.lastStats = { runs: [], tiles: 0 };
    const tile = this.tileFor('encode', h, w);
    return this.tiled(frames, [cfg.zDim, 1 + (f - 1) / t, h / s, w / s], 1 / s, tile, (x) => this.encodeTile(x));
  }

  /** Normalised latents [zDim, T, h, w] -> frames [3, 1 + 4(T-1), 8h, 8w] clamped to [-1, 1]. */
  async decode(latents: HostTensor): Promise<HostTensor> {
    const cfg = this.config;
    if (latents.shape.length !== 4) throw new VaeInputError(`latents have shape [${latents.shape.join(', ')}]; expected [${cfg.zDim}, T, h, w]`);
    const [z, t, h, w] = latents.shape;
    const s = spatialFactor(cfg);
    if (z !== cfg.zDim) throw new VaeInputError(`latents have ${z} channels; this VAE decodes [${cfg.zDim}, T, h, w]`);
    if (latents.data.length !== z * t * h * w) throw new VaeInputError(`latents: ${latents.data.length} values for shape [${latents.shape.join(', ')}]`);
    if (t < 1 || h < 1 || w < 1) throw new VaeInputError(`latents shape [${latents.shape.join(', ')}] is empty`);
    this.lastStats = { runs: [], tiles: 0 };
    const tile = this.tileFor('decode', h * s, w * s);
    return this.tiled(latents, [3, 1 + (t - 1) * temporalFactor(cfg), h * s, w * s], s, tile, (x) => this.decodeTile(x));
  }

  /**
   * The tiles a pass uses for frames of height x width pixels: the explicit option, or with
   * 'auto' none while every tensor of the chunk graph fits one binding, else the largest
   * fitting tile (256, 128, ... pixels with a quarter overlap).
   */
  tileFor(pass: 'encode' | 'decode', height: number, width: number): TileOptions | undefined {
    const opt = this.options.tile ?? 'auto';
    if (opt === false) return undefined;
    if (opt !== 'auto') return opt;
    const limit = this.dev.limits.maxStorageBufferBindingSize;
    const graphAt = (h: number, w: number): Graph =>
      (pass === 'encode' ? buildEncoderChunk : buildDecoderChunk)(this.config, this.graphOptions(h, w, false));
    const fits = (h: number, w: number) => Math.max(...graphAt(h, w).values.map(valueBytes)) <= limit;
    if (fits(height, width)) return undefined;
    const s = spatialFactor(this.config);
    for (let size = DEFAULT_TILE.size; size >= 4 * s; size /= 2) {
      if (fits(Math.min(size, height), Math.min(size, width))) return { size, overlap: Math.max(s, Math.floor(size / 4 / s) * s) };
    }
    throw new VaeInputError(`frames of ${height}x${width} do not fit this adapter's ${limit}-byte storage bindings even in ${4 * s}-pixel tiles`);
  }

  private async tiled(
    x: HostTensor,
    outShape: [number, number, number, number],
    scale: number,
    tile: TileOptions | undefined,
    run: (x: HostTensor) => Promise<HostTensor>,
  ): Promise<HostTensor> {
    const { out, tiles } = await runTiled(x, outShape, scale, tile, spatialFactor(this.config), run);
    this.lastStats.tiles = tiles;
    return out;
  }

  private async encodeTile(frames: HostTensor): Promise<HostTensor> {
    const cfg = this.config;
    const [, f, h, w] = frames.shape;
    const s = spatialFactor(cfg);
    const graphs: ChunkGraphs = {
      first: buildEncoderChunk(cfg, this.graphOptions(h, w, true)),
      next: buildEncoderChunk(cfg, this.graphOptions(h, w, false)),
    };
    const n = encoderChunkFrames(cfg, false);
    const count = 1 + (f - 1) / n;
    const lh = h / s;
    const lw = w / s;
    const plane = lh * lw;
    const out = new Float32Array(cfg.zDim * count * plane);
    const timings = await runChunks(
      this.dev,
      this.weights,
      graphs,
      count,
      (i) => frameRange(frames, i === 0 ? 0 : 1 + (i - 1) * n, i === 0 ? 1 : n),
      (i, data) => {
        // data: [2 * zDim, 1, lh, lw]; the first zDim channels are mu.
        for (let ch = 0; ch < cfg.zDim; ch++) {
          const mean = cfg.latentsMean[ch]!;
          const inv = 1 / cfg.latentsStd[ch]!;
          const src = ch * plane;
          const dst = (ch * count + i) * plane;
          for (let p = 0; p < plane; p++) out[dst + p] = (data[src + p]! - mean) * inv;
        }
      },
      this.executorOptions(),
    );
    this.lastStats.runs.push(timings);
    return { data: out, shape: [cfg.zDim, count, lh, lw] };
  }

  private async decodeTile(latents: HostTensor): Promise<HostTensor> {
    const cfg = this.config;
    const [z, t, lh, lw] = latents.shape;
    const s = spatialFactor(cfg);
    const n = temporalFactor(cfg);
    const h = lh * s;
    const w = lw * s;
    const graphs: ChunkGraphs = {
      first: buildDecoderChunk(cfg, this.graphOptions(h, w, true)),
      next: buildDecoderChunk(cfg, this.graphOptions(h, w, false)),
    };
    const frames = 1 + (t - 1) * n;
    const plane = h * w;
    const lplane = lh * lw;
    const out = new Float32Array(3 * frames * plane);
    const timings = await runChunks(
      this.dev,
      this.weights,
      graphs,
      t,
      (i) => {
        // De-normalise on the host: z * std + mean (post_quant_conv runs on the GPU).
        const x = new Float32Array(z * lplane);
        for (let ch = 0; ch < z; ch++) {
          const src = (ch * t + i) * lplane;
          const std = cfg.latentsStd[ch]!;
          const mean = cfg.latentsMean[ch]!;
          for (let p = 0; p < lplane; p++) x[ch * lplane + p] = latents.data[src + p]! * std + mean;
        }
        return x;
      },
      (i, data) => {
        const nf = i === 0 ? 1 : n;
        const f0 = i === 0 ? 0 : 1 + (i - 1) * n;
        for (let ch = 0; ch < 3; ch++) {
          for (let k = 0; k < nf; k++) {
            const src = (ch * nf + k) * plane;
            const dst = (ch * frames + f0 + k) * plane;
            for (let p = 0; p < plane; p++) {
              const v = data[src + p]!;
              out[dst + p] = v < -1 ? -1 : v > 1 ? 1 : v;
            }
          }
        }
      },
      this.executorOptions(),
    );
    this.lastStats.runs.push(timings);
    return { data: out, shape: [3, frames, h, w] };
  }
}

/** Frames [start, start + n) of [C, F, H, W] as a new [C, n, H, W] array. */
function frameRange(t: HostTensor, start: number, n: number): Float32Array {
  const [c, f, h, w] = t.shape;
  const plane = h * w;
  const out = new Float32Array(c * n * plane);
  for (let ch = 0; ch < c; ch++) out.set(t.data.subarray((ch * f + start) * plane, (ch * f + start + n) * plane), ch * n * plane);
  return out;
}
