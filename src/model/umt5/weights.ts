// A umT5 checkpoint opened and checked against its config without a device: the layout's names,
// the config (config.json, else the shapes), the token table (read row by row on the host, in
// any float, fp8 or GGML block type) and the store the graph's weights stream from.

import { WeightStore, decodeToF32, fileByteLength, fileFloatDtype } from '../../graph/weights.ts';
import { readJsonFile, type Umt5Paths } from '../../io/model-layout.ts';
import { openWeightFile, type NetworkWeightFile } from '../../io/weight-file.ts';
import type { WeightDType } from '../../runtime/dtype.ts';
import { readFp8Scales } from '../fp8-scales.ts';
import { Umt5ModelError, umt5ConfigFromJson, umt5ConfigFromShapes, type Umt5Config } from './config.ts';
import { UMT5_NAMES, detectUmt5Layout, umt5KeyFor } from './names.ts';

export interface Umt5Weights {
  config: Umt5Config;
  checkpoint: NetworkWeightFile;
  store: WeightStore;
  /** The token table: its key, file dtype, bytes a row and the scale of a scaled fp8 table. */
  embedding: { key: string; dtype: WeightDType; rowBytes: number; scale: number };
}

/** Opens and checks the weights (and config.json) `paths` name; closes the file on failure. */
export async function openUmt5Weights(paths: Umt5Paths): Promise<Umt5Weights> {
  let fileConfig: Umt5Config | undefined;
  if (paths.configJson) {
    const { json, error } = readJsonFile(paths.configJson);
    if (!json) throw new Umt5ModelError(`${paths.configJson}: invalid JSON (${error})`);
    fileConfig = umt5ConfigFromJson(json, paths.configJson);
  }
  const checkpoint = await openWeightFile(paths.weights);
  try {
    const layout = detectUmt5Layout(checkpoint.tensors.keys());
    if (!layout) throw new Umt5ModelError(`${paths.weights}: no umT5 weights ('${UMT5_NAMES.embedding}', the original 'token_embedding.weight' or GGUF's 'token_embd.weight'); is this a umT5 text encoder?`);
    const key = umt5KeyFor(layout);
    const config = fileConfig ?? umt5ConfigFromShapes((n) => checkpoint.tensors.get(key(n))?.shape, paths.weights);
    const embeddingKey = [UMT5_NAMES.embedding, UMT5_NAMES.embeddingTied].map(key).find((k) => checkpoint.tensors.has(k));
    if (!embeddingKey) throw new Umt5ModelError(`${paths.weights}: no '${UMT5_NAMES.embedding}' (or '${UMT5_NAMES.embeddingTied}') tensor; is this a umT5 text encoder?`);
    const emb = checkpoint.tensors.get(embeddingKey)!;
    // Rows are read one by one: each must be whole elements (or whole GGML blocks).
    const dtype = fileFloatDtype(emb.dtype);
    const rowBytes = dtype ? fileByteLength(dtype, config.dModel) : NaN;
    if (emb.shape.length !== 2 || emb.shape[1] !== config.dModel || emb.shape[0]! < config.vocabSize || !dtype || !Number.isInteger(rowBytes)) {
      throw new Umt5ModelError(`${paths.weights}: '${embeddingKey}' is ${emb.dtype} [${emb.shape}]; expected a float [${config.vocabSize}, ${config.dModel}]`);
    }
    const lastQ = checkpoint.tensors.get(key(UMT5_NAMES.block(config.numLayers - 1).q));
    if (!lastQ || checkpoint.tensors.has(key(UMT5_NAMES.block(config.numLayers).q)) || lastQ.shape[1] !== config.dModel || lastQ.shape[0] !== config.numHeads * config.dKv) {
      throw new Umt5ModelError(`${paths.configJson ?? paths.weights}: num_layers ${config.numLayers}, num_heads ${config.numHeads}, d_kv ${config.dKv} do not match the weights in ${paths.weights}; use the config.json that came with them`);
    }
    const scales = await readFp8Scales(checkpoint, paths.weights);
    const store = new WeightStore(checkpoint, paths.weights, key, scales);
    return { config, checkpoint, store, embedding: { key: embeddingKey, dtype: dtype!, rowBytes, scale: scales.get(embeddingKey) ?? 1 } };
  } catch (e) {
    await checkpoint.close();
    throw e;
  }
}

/** Row `id` of the token table as f32 (only that row is read: the real table is 256384 x 4096). */
export async function readEmbeddingRow(w: Umt5Weights, id: number): Promise<Float32Array> {
  const { key, dtype, rowBytes, scale } = w.embedding;
  return decodeToF32(dtype, await w.checkpoint.readRange(key, id * rowBytes, rowBytes), scale);
}
