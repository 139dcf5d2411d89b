// Loads a DiT golden case written by test/reference/wan_dit_reference.py.
import { readFileSync } from 'node:fs';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import type { WanConfig } from '../../src/model/wan/config.ts';
import { DIT_IO } from '../../src/model/wan/dit.ts';
import { timestepEmbedding } from '../../src/model/wan/timestep.ts';

export const DIT_GOLDEN = 'test/golden/dit';

export interface DitCase {
  json: Record<string, any>;
  config: WanConfig;
  io: Map<string, { shape: number[]; data: Float32Array }>;
}

export async function readF32Tensors(path: string): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
  const f = await SafetensorsFile.open(path);
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, info] of f.tensors) {
    const bytes = await f.read(name);
    out.set(name, { shape: info.shape, data: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4) });
  }
  await f.close();
  return out;
}

export async function loadDitCase(name: string): Promise<DitCase> {
  const json = JSON.parse(readFileSync(`${DIT_GOLDEN}/${name}.json`, 'utf8'));
  const config: WanConfig = {
    name,
    dim: json.dim,
    ffnDim: json.ffn_dim,
    numHeads: json.num_heads,
    headDim: json.head_dim,
    numLayers: json.num_layers,
    inDim: json.in_dim,
    outDim: json.out_dim,
    textDim: json.text_dim,
    textLen: json.text_len,
    imageDim: json.image_dim ?? null,
    imageLen: json.image_len ?? 0,
    freqDim: json.freq_dim,
    eps: json.eps,
    ropeTheta: json.rope_theta,
    patch: [1, 2, 2],
  };
  const io = json.io ? await readF32Tensors(`${DIT_GOLDEN}/${json.io}`) : new Map();
  return { json, config, io };
}

/** The graph inputs of an I2V case without the geometry bias: latents, timestep embedding, text and image context. */
export function i2vInputs(io: DitCase['io'], freqDim: number): Record<string, Float32Array> {
  return {
    [DIT_IO.latents]: io.get('x')!.data,
    [DIT_IO.timestepEmbedding]: timestepEmbedding(io.get('timestep')!.data[0]!, freqDim),
    [DIT_IO.context]: io.get('context')!.data,
    [DIT_IO.clip]: io.get('clip')!.data,
  };
}
