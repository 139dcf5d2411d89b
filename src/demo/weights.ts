// Deterministic tiny random weights for `egox demo`, written as a diffusers model folder
// (transformer/, vae/, scheduler/, text and image encoders) plus an EgoX-style LoRA, so the demo runs the exact code
// path of the real model with no download. The weights are untrained: the generated half of
// the demo video is noise by construction. Names and shapes come from the graphs egox builds,
// turned back into PyTorch's shapes, so a folder that loads here has the real layout.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeSafetensors, type TensorToWrite } from '../io/safetensors-writer.ts';
import type { Graph } from '../graph/ir.ts';
import { WanDit } from '../model/wan/dit.ts';
import type { WanConfig } from '../model/wan/config.ts';
import { buildDecoderChunk, buildEncoderChunk } from '../model/vae/graphs.ts';
import { WAN21_VAE, type VaeConfig } from '../model/vae/config.ts';
import { wanLinearModules } from '../model/wan/names.ts';
import { SeededRandom } from '../pipeline/random.ts';
import { writeJson } from './write-json.ts';
import { DEMO_CLIP, DEMO_UMT5, writeDemoEncoders } from './encoders.ts';

/** Bump when the generated folder changes, so old folders are rebuilt. */
export const DEMO_WEIGHTS_VERSION = 2;
const MARKER = '.egox-demo-weights.json';

/** The demo DiT: the Wan2.1 I2V structure (36 -> 16 channels, image context) at toy width. */
export const DEMO_DIT: WanConfig = {
  name: 'egox-demo-tiny',
  dim: 128,
  ffnDim: 256,
  numHeads: 2,
  headDim: 64,
  numLayers: 2,
  inDim: 36,
  outDim: 16,
  textDim: DEMO_UMT5.dModel,
  textLen: 512,
  imageDim: DEMO_CLIP.hidden,
  imageLen: 257,
  freqDim: 256,
  eps: 1e-6,
  ropeTheta: 10000,
  patch: [1, 2, 2],
};

/** The demo VAE: Wan2.1's structure and latent statistics, 8 base channels instead of 96. */
export const DEMO_VAE: VaeConfig = { ...WAN21_VAE, baseDim: 8 };

export const DEMO_LORA_RANK = 4;

export interface DemoWeights {
  modelDir: string;
  loraPath: string;
  /** True when an existing folder of the same version was reused. */
  reused: boolean;
  bytes: number;
}

/** Graph weights (named, loaded from the checkpoint) with their PyTorch shapes. */
export function checkpointTensors(graphs: Graph[], torchShape: (name: string, shape: number[]) => number[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const g of graphs) {
    for (const v of g.values) {
      if (v.kind !== 'weight' || !v.name || v.name.startsWith('const:')) continue;
      out.set(v.name, torchShape(v.name, [...v.shape]));
    }
  }
  return out;
}

/** Init scales that keep activations O(1): fan-in scaled matrices, norms near 1, small biases. */
export function randomTensor(rng: SeededRandom, name: string, shape: number[]): TensorToWrite {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = rng.normal(n);
  const isNormWeight = /(^|\.)(norm\w*\.weight|gamma)$/.test(name);
  let scale: number;
  let offset = 0;
  if (isNormWeight) {
    scale = 0.05;
    offset = 1;
  } else if (name.endsWith('.bias') || name.includes('scale_shift_table')) {
    scale = 0.02;
  } else {
    const fanIn = shape.length > 1 ? n / shape[0]! : 1;
    scale = 1 / Math.sqrt(fanIn);
  }
  for (let i = 0; i < n; i++) data[i] = offset + scale * data[i]!;
  return { dtype: 'F32', shape, data };
}

async function writeRandom(file: string, tensors: Map<string, number[]>, seed: number): Promise<number> {
  const rng = new SeededRandom(seed);
  const out: Record<string, TensorToWrite> = {};
  let bytes = 0;
  for (const name of [...tensors.keys()].sort()) {
    out[name] = randomTensor(rng, name, tensors.get(name)!);
    bytes += (out[name].data as Float32Array).byteLength;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await writeSafetensors(file, out, { producer: 'egox demo (untrained random weights)' });
  return bytes;
}

function transformerJson(c: WanConfig): object {
  return {
    _class_name: 'WanTransformer3DModel',
    patch_size: c.patch,
    num_attention_heads: c.numHeads,
    attention_head_dim: c.headDim,
    in_channels: c.inDim,
    out_channels: c.outDim,
    text_dim: c.textDim,
    freq_dim: c.freqDim,
    ffn_dim: c.ffnDim,
    num_layers: c.numLayers,
    cross_attn_norm: true,
    qk_norm: 'rms_norm_across_heads',
    eps: c.eps,
    image_dim: c.imageDim,
    added_kv_proj_dim: c.dim,
    rope_max_seq_len: 1024,
  };
}

function vaeJson(c: VaeConfig): object {
  return {
    _class_name: 'AutoencoderKLWan',
    base_dim: c.baseDim,
    z_dim: c.zDim,
    dim_mult: c.dimMult,
    num_res_blocks: c.numResBlocks,
    temperal_downsample: c.temporalDownsample,
    latents_mean: c.latentsMean,
    latents_std: c.latentsStd,
  };
}

/** diffusers' Wan DiT stores scale_shift_table as [1, k, dim]; the graph binds it flat. */
export function ditTorchShape(c: WanConfig) {
  return (name: string, shape: number[]) => (name.endsWith('scale_shift_table') ? [1, shape[1]! / c.dim, c.dim] : shape);
}

/** The VAE's RMS-norm gammas are [C, 1, 1, 1] (3D convs) or [C, 1, 1] (the 2D attention block). */
function vaeTorchShape(name: string, shape: number[]): number[] {
  if (!name.endsWith('.gamma')) return shape;
  return name.includes('attentions') ? [shape[0]!, 1, 1] : [shape[0]!, 1, 1, 1];
}

/** An EgoX-style PEFT adapter (transformer.<module>.lora_A/B.weight) on every attention projection. */
async function writeLora(file: string, c: WanConfig, seed: number): Promise<number> {
  const rng = new SeededRandom(seed);
  const out: Record<string, TensorToWrite> = {};
  let bytes = 0;
  const r = DEMO_LORA_RANK;
  for (const m of [...wanLinearModules(c)].filter((m) => m.includes('.attn')).sort()) {
    const a = rng.normal(r * c.dim).map((v) => v / Math.sqrt(c.dim));
    const b = rng.normal(c.dim * r).map((v) => v * 0.01);
    out[`transformer.${m}.lora_A.weight`] = { dtype: 'F32', shape: [r, c.dim], data: a };
    out[`transformer.${m}.lora_B.weight`] = { dtype: 'F32', shape: [c.dim, r], data: b };
    bytes += a.byteLength + b.byteLength;
  }
  await writeSafetensors(file, out, { producer: 'egox demo (untrained random LoRA)' });
  return bytes;
}

/**
 * Writes (or reuses) the demo model folder under `root`: transformer/, vae/, scheduler/ and
 * lora/pytorch_lora_weights.safetensors. Deterministic: the same version gives the same bytes.
 */
export async function ensureDemoWeights(root: string): Promise<DemoWeights> {
  const modelDir = path.join(root, 'egox-demo-tiny');
  const loraPath = path.join(modelDir, 'lora', 'pytorch_lora_weights.safetensors');
  const marker = path.join(modelDir, MARKER);
  if (fs.existsSync(marker)) {
    try {
      const m = JSON.parse(fs.readFileSync(marker, 'utf8'));
      if (m.version === DEMO_WEIGHTS_VERSION) return { modelDir, loraPath, reused: true, bytes: m.bytes };
    } catch {
      /* rebuild below */
    }
  }
  // Build into a sibling folder and swap it in, so an interrupted run never leaves half a model.
  const tmp = `${modelDir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  let bytes = 0;
  try {
    const dit = new WanDit(DEMO_DIT, { latentShape: [36, 2, 4, 4], gga: { lambda: 3, egoLatentCols: 2 } }).build();
    bytes += await writeRandom(path.join(tmp, 'transformer', 'diffusion_pytorch_model.safetensors'), checkpointTensors([dit], ditTorchShape(DEMO_DIT)), 1);
    writeJson(path.join(tmp, 'transformer', 'config.json'), transformerJson(DEMO_DIT));
    const vaeGraphs = [true, false].flatMap((first) =>
      [buildEncoderChunk, buildDecoderChunk].map((b) => b(DEMO_VAE, { height: 16, width: 16, first, variant: { kind: 'regtile' } as never })),
    );
    bytes += await writeRandom(path.join(tmp, 'vae', 'diffusion_pytorch_model.safetensors'), checkpointTensors(vaeGraphs, vaeTorchShape), 2);
    writeJson(path.join(tmp, 'vae', 'config.json'), vaeJson(DEMO_VAE));
    writeJson(path.join(tmp, 'scheduler', 'scheduler_config.json'), {
      _class_name: 'UniPCMultistepScheduler',
      prediction_type: 'flow_prediction',
      use_flow_sigmas: true,
      num_train_timesteps: 1000,
      flow_shift: 3.0,
    });
    bytes += await writeDemoEncoders(tmp);
    fs.mkdirSync(path.join(tmp, 'lora'), { recursive: true });
    bytes += await writeLora(path.join(tmp, 'lora', 'pytorch_lora_weights.safetensors'), DEMO_DIT, 3);
    writeJson(path.join(tmp, MARKER), { version: DEMO_WEIGHTS_VERSION, bytes, note: 'untrained random weights for egox demo' });
    fs.rmSync(modelDir, { recursive: true, force: true });
    fs.mkdirSync(root, { recursive: true });
    fs.renameSync(tmp, modelDir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return { modelDir, loraPath, reused: false, bytes };
}
