// Opening a Wan DiT checkpoint: a diffusers model folder (with or without the transformer/
// subfolder), an index.json, or a single .safetensors file, in diffusers or original layout;
// the config comes from config.json when present, else from the tensor shapes.

import { Checkpoint } from '../../io/checkpoint.ts';
import { pathExists, readJsonFile, transformerFiles } from '../../io/model-layout.ts';
import { WeightStore } from '../../graph/weights.ts';
import { ModelConfigError, checkConfigAgainstWeights, configFromDiffusersJson, configFromShapes, namedConfig, type WanConfig } from './config.ts';
import { checkpointKeyFor, detectLayout, originalToDiffusers, ORIGINAL_PREFIX, type WanLayout } from './names.ts';

export interface WanCheckpoint {
  config: WanConfig;
  layout: WanLayout;
  checkpoint: Checkpoint;
  store: WeightStore;
}

/** Resolves a model path to the transformer checkpoint and its optional config.json. */
function transformerPath(path: string): { ckpt: string; configJson?: string } {
  if (!pathExists(path)) throw new ModelConfigError(`model path '${path}' does not exist`);
  return transformerFiles(path);
}

export async function openWanCheckpoint(path: string, options: { config?: string | WanConfig } = {}): Promise<WanCheckpoint> {
  const { ckpt, configJson } = transformerPath(path);
  const checkpoint = await Checkpoint.open(ckpt);
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
      config = configFromDiffusersJson(json, configJson);
    } else config = configFromShapes(shapes, ckpt);
    checkConfigAgainstWeights(config, shapes, configJson && !options.config ? configJson : ckpt);
    return { config, layout: detected.layout, checkpoint, store: new WeightStore(checkpoint, ckpt, key) };
  } catch (e) {
    await checkpoint.close();
    throw e;
  }
}
