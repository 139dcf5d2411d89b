// Opening CLIP vision from a model folder (image_encoder/ + image_processor/, or the
// image_encoder folder itself) and running it on an 8-bit RGB image or on pixel_values.
// A graph is built per input image size (the resize tables depend on it) and cached.

import { Executor } from '../../graph/executor.ts';
import { WeightStore } from '../../graph/weights.ts';
import { Checkpoint } from '../../io/checkpoint.ts';
import { findClipVision, readJsonFile, type ClipPaths } from '../../io/model-layout.ts';
import type { EgoxDevice } from '../../runtime/device.ts';
import { ClipModelError, clipConfigFromJson, preprocessConfigFromJson, type ClipPreprocessConfig, type ClipVisionConfig } from './config.ts';
import { CLIP_IO, buildClipGraph } from './graph.ts';
import { CLIP_NAMES } from './names.ts';
import { preprocessPlan, rgb8ToPlanar } from './preprocess.ts';
import { executorBudget, type NetworkLoadOptions } from '../load-options.ts';

export { findClipVision, type ClipPaths };

function readJson(path: string): Record<string, unknown> {
  const { json, error } = readJsonFile(path);
  if (!json) throw new ClipModelError(`${path}: invalid JSON (${error})`);
  return json;
}

/** The config must describe the weights (widths, patch, layer count) before a graph is built from it. */
function checkWeights(checkpoint: Checkpoint, config: ClipVisionConfig, paths: ClipPaths): void {
  const patch = checkpoint.tensors.get(CLIP_NAMES.patchEmbedding);
  if (!patch) throw new ClipModelError(`${paths.encoderDir}: no '${CLIP_NAMES.patchEmbedding}' tensor; is this a CLIP vision model?`);
  const want = [config.hiddenSize, config.channels, config.patchSize, config.patchSize];
  const lastFc1 = checkpoint.tensors.get(`${CLIP_NAMES.layer(config.numLayers - 1).fc1}.weight`);
  if (patch.shape.join() !== want.join() || !lastFc1 || lastFc1.shape.join() !== `${config.intermediateSize},${config.hiddenSize}`) {
    throw new ClipModelError(`${paths.configJson}: hidden_size ${config.hiddenSize}, patch_size ${config.patchSize}, intermediate_size ${config.intermediateSize}, num_hidden_layers ${config.numLayers} do not match the weights in ${paths.encoderDir}; use the config.json that came with them`);
  }
}

export class ClipVisionEncoder {
  private readonly graphs = new Map<string, Executor>();

  private constructor(
    private readonly dev: EgoxDevice,
    readonly config: ClipVisionConfig,
    readonly preprocess: ClipPreprocessConfig | undefined,
    readonly paths: ClipPaths,
    private readonly checkpoint: Checkpoint,
    private readonly store: WeightStore,
    private readonly opts: NetworkLoadOptions,
  ) {}

  /** The encoder's and the processor's configs read and checked without a device (before a run's slow stages). */
  static checkFiles(modelDir: string): void {
    ClipVisionEncoder.configs(modelDir);
  }

  private static configs(modelDir: string): { paths: ClipPaths; config: ClipVisionConfig; preprocess: ClipPreprocessConfig | undefined } {
    const paths = findClipVision(modelDir);
    if (!paths) throw new ClipModelError(`${modelDir}: no CLIP image encoder here (expected image_encoder/config.json with its safetensors, and image_processor/preprocessor_config.json)`);
    const config = clipConfigFromJson(readJson(paths.configJson), paths.configJson);
    const preprocess = paths.preprocessorJson ? preprocessConfigFromJson(readJson(paths.preprocessorJson), paths.preprocessorJson) : undefined;
    if (preprocess && (preprocess.cropHeight !== config.imageSize || preprocess.cropWidth !== config.imageSize)) {
      throw new ClipModelError(`${paths.preprocessorJson}: crop ${preprocess.cropWidth}x${preprocess.cropHeight} does not match the encoder's image_size ${config.imageSize}`);
    }
    return { paths, config, preprocess };
  }

  static async open(dev: EgoxDevice, modelDir: string, opts: NetworkLoadOptions = {}): Promise<ClipVisionEncoder> {
    const { paths, config, preprocess } = ClipVisionEncoder.configs(modelDir);
    if (opts.weightDtype === 'f16' && !dev.has('shader-f16')) throw new ClipModelError('weight dtype f16 needs the shader-f16 feature, which this adapter lacks; use bf16');
    const checkpoint = await Checkpoint.open(paths.encoderDir);
    try {
      checkWeights(checkpoint, config, paths);
    } catch (e) {
      await checkpoint.close();
      throw e;
    }
    return new ClipVisionEncoder(dev, config, preprocess, paths, checkpoint, new WeightStore(checkpoint, paths.encoderDir), opts);
  }

  /** Tokens of the output: (image_size / patch)^2 + 1. */
  get tokens(): number {
    const g = this.config.imageSize / this.config.patchSize;
    return g * g + 1;
  }

  private async executor(key: string, build: () => ReturnType<typeof buildClipGraph>): Promise<Executor> {
    let e = this.graphs.get(key);
    if (!e) {
      e = await Executor.create(this.dev, build(), this.store, executorBudget('clip-vision', this.opts));
      this.graphs.set(key, e);
    }
    return e;
  }

  /**
   * An image, planar [3, H, W]: 0..255 values of an 8-bit image (PIL's rounding after each
   * resize pass, then / 255), or with eightBit false floats in [0, 1] resized without rounding.
   */
  async encodePlanar(planar: Float32Array, width: number, height: number, eightBit = true): Promise<{ imageEmbeds: Float32Array; pixelValues: Float32Array }> {
    const pre = this.preprocess;
    if (!pre) throw new ClipModelError(`${this.paths.encoderDir}: no preprocessor_config.json found (looked in ../image_processor/ and beside the encoder)`);
    const plan = preprocessPlan(height, width, pre, eightBit);
    const exec = await this.executor(`image:${width}x${height}:${eightBit}`, () =>
      buildClipGraph(this.config, { weightDtype: this.opts.weightDtype, source: { image: plan, preprocess: pre } }),
    );
    await exec.run({ [CLIP_IO.image]: planar });
    return { imageEmbeds: await exec.read(CLIP_IO.output), pixelValues: await exec.read(CLIP_IO.pixelValues) };
  }

  /** pixel_values [3, S, S] (already preprocessed) -> [tokens, hidden]. */
  async encodePixels(pixelValues: Float32Array): Promise<Float32Array> {
    const S = this.config.imageSize;
    if (pixelValues.length !== 3 * S * S) throw new ClipModelError(`pixel_values has ${pixelValues.length} values; the encoder takes [3, ${S}, ${S}]`);
    const exec = await this.executor('pixels', () => buildClipGraph(this.config, { weightDtype: this.opts.weightDtype, source: 'pixels' }));
    await exec.run({ [CLIP_IO.pixelValues]: pixelValues });
    return exec.read(CLIP_IO.output);
  }

  async encodeRgb8(image: { width: number; height: number; rgb: Uint8Array }): Promise<Float32Array> {
    return (await this.encodePlanar(rgb8ToPlanar(image.rgb, image.width, image.height), image.width, image.height, true)).imageEmbeds;
  }

  async close(): Promise<void> {
    for (const e of this.graphs.values()) e.destroy();
    this.graphs.clear();
    await this.checkpoint.close();
  }
}
