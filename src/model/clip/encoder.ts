// Opening CLIP vision from a model folder (image_encoder/ + image_processor/, or the
// image_encoder folder itself) and running it on an 8-bit RGB image or on pixel_values.
// A graph is built per input image size (the resize tables depend on it) and cached.

import { Executor } from '../../graph/executor.ts';
import type { WeightStore } from '../../graph/weights.ts';
import { findClipVision, readJsonFile, type ClipPaths } from '../../io/model-layout.ts';
import { openWeightFile, type NetworkWeightFile } from '../../io/weight-file.ts';
import type { EgoxDevice } from '../../runtime/device.ts';
import { ClipModelError, OPENAI_CLIP_PREPROCESS, clipConfigFromJson, preprocessConfigFromJson, type ClipPreprocessConfig, type ClipVisionConfig } from './config.ts';
import { CLIP_IO, buildClipGraph } from './graph.ts';
import { CLIP_NAMES, detectClipLayout } from './names.ts';
import { clipConfigFromShapes, clipWeightStore } from './weights.ts';
import { readFp8Scales } from '../fp8-scales.ts';
import { preprocessPlan, rgb8ToPlanar } from './preprocess.ts';
import { executorBudget, type NetworkLoadOptions } from '../load-options.ts';

export { findClipVision, type ClipPaths };

function readJson(path: string): Record<string, unknown> {
  const { json, error } = readJsonFile(path);
  if (!json) throw new ClipModelError(`${path}: invalid JSON (${error})`);
  return json;
}

/**
 * The config must describe the weights (widths, patch, layer count) before a graph is built from
 * it; `shape` reads a tensor by its diffusers name whatever the file's layout.
 */
function checkWeights(shape: (name: string) => number[] | undefined, config: ClipVisionConfig, paths: ClipPaths): void {
  const patch = shape(CLIP_NAMES.patchEmbedding);
  const want = [config.hiddenSize, config.channels, config.patchSize, config.patchSize];
  const lastFc1 = shape(`${CLIP_NAMES.layer(config.numLayers - 1).fc1}.weight`);
  if (!patch || patch.join() !== want.join() || !lastFc1 || lastFc1.join() !== `${config.intermediateSize},${config.hiddenSize}`) {
    throw new ClipModelError(`${paths.configJson ?? paths.weights}: hidden_size ${config.hiddenSize}, patch_size ${config.patchSize}, intermediate_size ${config.intermediateSize}, num_hidden_layers ${config.numLayers} do not match the weights in ${paths.weights}; use the config.json that came with them`);
  }
}

export class ClipVisionEncoder {
  private readonly graphs = new Map<string, Executor>();

  private constructor(
    private readonly dev: EgoxDevice,
    readonly config: ClipVisionConfig,
    readonly preprocess: ClipPreprocessConfig,
    readonly paths: ClipPaths,
    private readonly checkpoint: NetworkWeightFile,
    private readonly store: WeightStore,
    private readonly opts: NetworkLoadOptions,
  ) {}

  /** The encoder's and the processor's configs read and checked without a device (before a run's slow stages). */
  static checkFiles(modelPath: string): void {
    const paths = findClipVision(modelPath);
    if (!paths) throw new ClipModelError(`${modelPath}: no CLIP image encoder here (expected image_encoder/config.json with its safetensors and image_processor/preprocessor_config.json, the release's models_clip_*.pth, or a weight file)`);
    if (paths.configJson) clipConfigFromJson(readJson(paths.configJson), paths.configJson);
    if (paths.preprocessorJson) preprocessConfigFromJson(readJson(paths.preprocessorJson), paths.preprocessorJson);
  }

  /**
   * Opens the encoder in `modelPath` (any layout findClipVision knows). Without a
   * preprocessor_config.json (single files, the original .pth) images are prepared as CLIP's
   * processor does at the encoder's size with OpenAI's mean and std, as Wan's encoder uses.
   */
  static async open(dev: EgoxDevice, modelPath: string, opts: NetworkLoadOptions = {}): Promise<ClipVisionEncoder> {
    const paths = findClipVision(modelPath);
    if (!paths) throw new ClipModelError(`${modelPath}: no CLIP image encoder here (expected image_encoder/config.json with its safetensors and image_processor/preprocessor_config.json, the release's models_clip_*.pth, or a weight file)`);
    if (opts.weightDtype === 'f16' && !dev.has('shader-f16')) throw new ClipModelError('weight dtype f16 needs the shader-f16 feature, which this adapter lacks; use bf16');
    const fileConfig = paths.configJson ? clipConfigFromJson(readJson(paths.configJson), paths.configJson) : undefined;
    const checkpoint = await openWeightFile(paths.weights);
    try {
      const layout = detectClipLayout(checkpoint.tensors.keys());
      if (!layout) throw new ClipModelError(`${paths.weights}: no '${CLIP_NAMES.patchEmbedding}' (or the original 'visual.patch_embedding.weight') tensor; is this a CLIP vision model?`);
      const store = clipWeightStore(checkpoint, paths.weights, layout, await readFp8Scales(checkpoint, paths.weights));
      const shape = (n: string) => store.source.tensors.get(store.rename(n))?.shape;
      const config = fileConfig ?? clipConfigFromShapes(shape, paths.weights);
      checkWeights(shape, config, paths);
      const pre = paths.preprocessorJson
        ? preprocessConfigFromJson(readJson(paths.preprocessorJson), paths.preprocessorJson)
        : { ...OPENAI_CLIP_PREPROCESS, shortestEdge: config.imageSize, cropHeight: config.imageSize, cropWidth: config.imageSize };
      if (pre.cropHeight !== config.imageSize || pre.cropWidth !== config.imageSize) {
        throw new ClipModelError(`${paths.preprocessorJson}: crop ${pre.cropWidth}x${pre.cropHeight} does not match the encoder's image_size ${config.imageSize}`);
      }
      return new ClipVisionEncoder(dev, config, pre, paths, checkpoint, store, opts);
    } catch (e) {
      await checkpoint.close();
      throw e;
    }
  }

  /** GPU bytes of the weights (quantized Linear weights at their file size) of the largest graph built so far. */
  get weightBytes(): number {
    return Math.max(0, ...[...this.graphs.values()].map((e) => e.plan.totals.weightBytes));
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
    const plan = preprocessPlan(height, width, pre, eightBit);
    const exec = await this.executor(`image:${width}x${height}:${eightBit}`, () =>
      buildClipGraph(this.config, { weightDtype: this.opts.weightDtype, quantized: this.store.quantized, source: { image: plan, preprocess: pre } }),
    );
    await exec.run({ [CLIP_IO.image]: planar });
    return { imageEmbeds: await exec.read(CLIP_IO.output), pixelValues: await exec.read(CLIP_IO.pixelValues) };
  }

  /** pixel_values [3, S, S] (already preprocessed) -> [tokens, hidden]. */
  async encodePixels(pixelValues: Float32Array): Promise<Float32Array> {
    const S = this.config.imageSize;
    if (pixelValues.length !== 3 * S * S) throw new ClipModelError(`pixel_values has ${pixelValues.length} values; the encoder takes [3, ${S}, ${S}]`);
    const exec = await this.executor('pixels', () => buildClipGraph(this.config, { weightDtype: this.opts.weightDtype, quantized: this.store.quantized, source: 'pixels' }));
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
