// Opening a Wan DiT checkpoint: a diffusers model folder (with or without the transformer/
// subfolder), the original release folder, an index.json, or a single .safetensors file, in
// diffusers or original layout (with or without ComfyUI's model.diffusion_model. prefix); the
// config comes from config.json (either layout's) when present, else from the tensor shapes.

import { openDitWeights, type WeightFile } from '../../io/weight-file.ts';
import { isOriginalWanConfig, pathExists, readJsonFile, transformerFiles } from '../../io/model-layout.ts';
import { WeightStore } from '../../graph/weights.ts';
import type { HeldQuantized } from '../../graph/quantized.ts';
import { readFp8Scales } from '../fp8-scales.ts';
import { ModelConfigError, checkConfigAgainstWeights, configFromDiffusersJson, configFromOriginalJson, configFromShapes, namedConfig, type WanConfig } from './config.ts';
import { checkpointKeyFor, detectLayout, originalToDiffusers, ORIGINAL_PREFIX, type WanLayout } from './names.ts';

export interface WanCheckpoint {
  config: WanConfig;
  layout: WanLayout;
  checkpoint: WeightFile;
  store: WeightStore;
  /** Weights the file holds quantized (fp8, GGML blocks; by graph name), fp8 ones with their scales; the graph keeps them so. */
  quantizedWeights: ReadonlyMap<string, HeldQuantized>;
}

/** Resolves a model path to the transformer checkpoint and its optional config.json. */
function transformerPath(path: string): { ckpt: string; configJson?: string } {
  if (!pathExists(path)) throw new ModelConfigError(`model path '${path}' does not exist`);
  return transformerFiles(path);
}

export async function openWanCheckpoint(path: string, options: { config?: string | WanConfig } = {}): Promise<WanCheckpoint> {
  const { ckpt, configJson } = transformerPath(path);
  const checkpoint = await openDitWeights(ckpt);
  const names = [...checkpoint.tensors.keys()];
  const detected = detectLayout(names);
  if (!detected) {
    await checkpoint.close();
    throw new ModelConfigError(`${ckpt}: not a Wan2.1 transformer checkpoint (no condition_embedder.* or time_embedding.* tensors)`);
  }
  const key = checkpointKeyFor(detected.layout, detected.prefix);
  try {
    // Shapes under diffusers names, whatever the file's layout.
    const shapes = new Map<string, number[]>();
    for (const [n, t] of checkpoint.tensors) {
      const bare = detected.layout === 'original' ? originalToDiffusers(n.startsWith(ORIGINAL_PREFIX) ? n.slice(ORIGINAL_PREFIX.length) : n) : n.slice(detected.prefix.length);
      if (bare) shapes.set(bare, t.shape);
    }
    let config: WanConfig;
    if (options.config) config = typeof options.config === 'string' ? namedConfig(options.config) : options.config;
    else if (configJson) {
      const { json, error } = readJsonFile(configJson);
      if (!json) throw new ModelConfigError(`${configJson}: invalid JSON (${error})`);
      config = isOriginalWanConfig(json) ? configFromOriginalJson(json, configJson, imageWidth(checkpoint, key)) : configFromDiffusersJson(json, configJson);
    } else config = configFromShapes(shapes, ckpt);
    // Checked before any graph of that size is built (a config claiming 2^31 layers for a 2-block file).
    checkConfigAgainstWeights(config, shapes, configJson && !options.config ? configJson : ckpt);
    const store = new WeightStore(checkpoint, ckpt, key, await readFp8Scales(checkpoint, checkpoint.path));
    return { config, layout: detected.layout, checkpoint, store, quantizedWeights: quantizedWeightsOf(checkpoint, detected.layout, detected.prefix, store) };
  } catch (e) {
    await checkpoint.close();
    throw e;
  }
}

/** The weights the store holds quantized (fp8, GGML blocks), listed under graph names. */
function quantizedWeightsOf(checkpoint: WeightFile, layout: WanLayout, prefix: string, store: WeightStore): Map<string, HeldQuantized> {
  const weights = new Map<string, HeldQuantized>();
  for (const k of checkpoint.tensors.keys()) {
    if (!k.endsWith('.weight')) continue;
    const bare = k.slice(prefix.length);
    const name = layout === 'original' ? originalToDiffusers(bare) : bare;
    const held = name ? store.quantized.get(name) : undefined;
    if (held) weights.set(name!, held);
  }
  return weights;
}

/** The CLIP feature width the checkpoint's image embedder takes (its first LayerNorm's size). */
function imageWidth(checkpoint: WeightFile, key: (diffusersName: string) => string): number | undefined {
  return checkpoint.tensors.get(key('condition_embedder.image_embedder.norm1.weight'))?.shape[0];
}
