// Wan2.1 DiT configurations: the named ones, a diffusers config.json, or inferred from the
// checkpoint's tensor shapes (reference: wan21-architecture.md section 1).
import { jsonBrief } from '../../io/json-bounded.ts';
import { InputError } from '../../runtime/errors.ts';
import { configObject, fieldReader, MAX_LAYERS, MAX_WIDTH } from '../config-fields.ts';

export interface WanConfig {
  name: string;
  dim: number;
  ffnDim: number;
  numHeads: number;
  headDim: number;
  numLayers: number;
  inDim: number;
  outDim: number;
  textDim: number;
  /** Text tokens the pipeline pads to (512 for umT5). */
  textLen: number;
  /** CLIP feature width for I2V models; null for T2V. */
  imageDim: number | null;
  /** Image tokens (257 for CLIP ViT-H/14). */
  imageLen: number;
  freqDim: number;
  eps: number;
  ropeTheta: number;
  patch: readonly [number, number, number];
}

const COMMON = { freqDim: 256, eps: 1e-6, ropeTheta: 10000, patch: [1, 2, 2] as const, textDim: 4096, textLen: 512, imageLen: 257 };

export const WAN_CONFIGS: Readonly<Record<string, WanConfig>> = {
  'wan2.1-t2v-1.3b': { name: 'wan2.1-t2v-1.3b', ...COMMON, dim: 1536, ffnDim: 8960, numHeads: 12, headDim: 128, numLayers: 30, inDim: 16, outDim: 16, imageDim: null },
  'wan2.1-i2v-14b': { name: 'wan2.1-i2v-14b', ...COMMON, dim: 5120, ffnDim: 13824, numHeads: 40, headDim: 128, numLayers: 40, inDim: 36, outDim: 16, imageDim: 1280 },
  // Small enough for tests and the demo on lavapipe; the real structure.
  tiny: { name: 'tiny', ...COMMON, dim: 64, ffnDim: 128, numHeads: 2, headDim: 32, numLayers: 2, inDim: 36, outDim: 16, textDim: 32, textLen: 16, imageDim: 24, imageLen: 9 },
};

export class ModelConfigError extends InputError {}

export function namedConfig(name: string): WanConfig {
  const c = WAN_CONFIGS[name];
  if (!c) throw new ModelConfigError(`unknown model '${name}': use one of ${Object.keys(WAN_CONFIGS).join(', ')} or a model folder`);
  return c;
}

const configError = (m: string) => new ModelConfigError(m);

/**
 * Reads a transformer config.json in either spelling: diffusers' (WanTransformer3DModel:
 * num_attention_heads, attention_head_dim, in_channels...) or the original Wan2.1 repository's
 * (WanModel: dim, num_heads, in_dim...). Every field is range-checked here; checkConfigAgainstWeights
 * then compares them with the checkpoint before any graph is built.
 */
export function configFromDiffusersJson(raw: unknown, source: string): WanConfig {
  const json = configObject(raw, source, configError);
  const f = fieldReader(json, source, configError);
  const original = json.dim !== undefined || json.num_heads !== undefined;
  const heads = f.int(original ? 'num_heads' : 'num_attention_heads', { max: 4096 });
  const headDim = original ? f.int('dim', { max: MAX_WIDTH }) / heads : f.int('attention_head_dim', { max: 4096 });
  if (!Number.isInteger(headDim)) throw new ModelConfigError(`${source}: dim ${json.dim} is not a multiple of num_heads ${heads}`);
  if (heads * headDim > MAX_WIDTH) throw new ModelConfigError(`${source}: ${heads} heads of ${headDim} make a width above ${MAX_WIDTH}; this is not a Wan2.1 config`);
  const i2v = original ? json.model_type === 'i2v' || json.model_type === 'flf2v' : json.image_dim != null;
  const imageDim = !i2v ? null : original ? 1280 : f.int('image_dim', { max: MAX_WIDTH });
  const patch = json.patch_size ?? [1, 2, 2];
  if (!Array.isArray(patch) || patch.length !== 3 || patch.join() !== '1,2,2') {
    throw new ModelConfigError(`${source}: patch_size ${jsonBrief(patch)} is not supported (egox implements [1, 2, 2])`);
  }
  return {
    name: `${original ? 'wan' : 'diffusers'}:${source}`,
    dim: heads * headDim,
    ffnDim: f.int('ffn_dim', { max: MAX_WIDTH }),
    numHeads: heads,
    headDim,
    numLayers: f.int('num_layers', { max: MAX_LAYERS }),
    inDim: f.int(original ? 'in_dim' : 'in_channels', { max: 4096 }),
    outDim: f.int(original ? 'out_dim' : 'out_channels', { max: 4096 }),
    textDim: f.int('text_dim', { max: MAX_WIDTH }, 4096),
    textLen: 512,
    imageDim,
    imageLen: 257,
    freqDim: f.int('freq_dim', { min: 2, max: 65536 }, 256),
    eps: f.num('eps', { above: 0, max: 1 }, 1e-6),
    ropeTheta: 10000,
    patch: [1, 2, 2],
  };
}

/**
 * Reads the original release's config.json (WanModel: dim, ffn_dim, num_heads, num_layers,
 * in_dim, out_dim, model_type 't2v' | 'i2v', ...). The file does not give the CLIP feature width
 * of I2V models: `imageDim` is read from the checkpoint (1280 for ViT-H).
 */
export function configFromOriginalJson(json: Record<string, unknown>, source: string, imageDim: number | undefined): WanConfig {
  const num = (k: string, dflt?: number): number => {
    const v = json[k] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ModelConfigError(`${source}: field '${k}' is missing or not a positive number`);
    return v;
  };
  const type = String(json.model_type ?? 't2v');
  if (type !== 't2v' && type !== 'i2v') throw new ModelConfigError(`${source}: model_type '${type}' is not supported (egox runs Wan2.1 't2v' and 'i2v')`);
  if (type === 'i2v' && !imageDim) throw new ModelConfigError(`${source}: model_type 'i2v' but the checkpoint has no image embedder (img_emb.*) weights`);
  const dim = num('dim');
  const heads = num('num_heads');
  if (dim % heads !== 0) throw new ModelConfigError(`${source}: dim ${dim} is not a multiple of num_heads ${heads}`);
  const patch = Array.isArray(json.patch_size) ? (json.patch_size as number[]) : [1, 2, 2];
  if (patch.join() !== '1,2,2') throw new ModelConfigError(`${source}: patch_size ${JSON.stringify(patch)} is not supported (egox implements (1, 2, 2))`);
  return {
    name: `original:${source}`,
    ...COMMON,
    dim,
    ffnDim: num('ffn_dim'),
    numHeads: heads,
    headDim: dim / heads,
    numLayers: num('num_layers'),
    inDim: num('in_dim'),
    outDim: num('out_dim'),
    textDim: num('text_dim', 4096),
    textLen: num('text_len', 512),
    imageDim: type === 'i2v' ? imageDim! : null,
    freqDim: num('freq_dim', 256),
    eps: num('eps', 1e-6),
  };
}

/**
 * The config must describe the checkpoint's tensors (under diffusers names): a config that
 * claims 2^31 layers for a 2-block file, or widths the weights do not have, is refused here,
 * before a graph of that size is built.
 */
export function checkConfigAgainstWeights(c: WanConfig, shapes: ReadonlyMap<string, readonly number[]>, source: string): void {
  const expect = (name: string, want: readonly number[], field: string): void => {
    const got = shapes.get(name);
    if (!got) throw new ModelConfigError(`${source}: tensor '${name}' is missing from the checkpoint (the config asks for it: ${field})`);
    if (got.length < want.length || want.some((d, i) => d !== got[i])) {
      throw new ModelConfigError(`${source}: ${field} says tensor '${name}' is [${want.join(', ')}, ...] but the checkpoint has ${jsonBrief(got)}; use the config.json that came with the weights`);
    }
  };
  expect('patch_embedding.weight', [c.dim, c.inDim], 'dim / in_channels');
  expect('proj_out.weight', [4 * c.outDim, c.dim], 'out_channels');
  expect('condition_embedder.text_embedder.linear_1.weight', [c.dim, c.textDim], 'text_dim');
  expect(`blocks.${c.numLayers - 1}.ffn.net.0.proj.weight`, [c.ffnDim, c.dim], `num_layers ${c.numLayers} / ffn_dim`);
  if (shapes.has(`blocks.${c.numLayers}.attn1.to_q.weight`)) {
    throw new ModelConfigError(`${source}: num_layers ${c.numLayers} but the checkpoint has more blocks; use the config.json that came with the weights`);
  }
  const img = shapes.has('condition_embedder.image_embedder.ff.net.0.proj.weight');
  if (c.imageDim !== null) expect('condition_embedder.image_embedder.ff.net.0.proj.weight', [c.imageDim, c.imageDim], 'image_dim');
  else if (img) throw new ModelConfigError(`${source}: the config is text-to-video (no image_dim) but the checkpoint has an image embedder; use the config.json that came with the weights`);
}

/** Infers a config from diffusers-named tensor shapes (when no config.json is present). */
export function configFromShapes(shapes: ReadonlyMap<string, readonly number[]>, source: string, headDim = 128): WanConfig {
  const get = (k: string) => {
    const s = shapes.get(k);
    if (!s) throw new ModelConfigError(`${source}: tensor '${k}' missing; cannot infer the model configuration`);
    return s;
  };
  const pe = get('patch_embedding.weight'); // [dim, in, 1, 2, 2]
  const dim = pe[0]!;
  let layers = 0;
  while (shapes.has(`blocks.${layers}.attn1.to_q.weight`)) layers++;
  const ffn = get('blocks.0.ffn.net.0.proj.weight')[0]!;
  const text = get('condition_embedder.text_embedder.linear_1.weight')[1]!;
  const out = get('proj_out.weight')[0]! / 4;
  const img = shapes.get('condition_embedder.image_embedder.ff.net.0.proj.weight');
  const hd = dim % headDim === 0 ? headDim : dim; // tiny models: fall back to one head
  return {
    name: `inferred:${source}`,
    ...COMMON,
    dim,
    ffnDim: ffn,
    numHeads: dim / hd,
    headDim: hd,
    numLayers: layers,
    inDim: pe[1]!,
    outDim: out,
    textDim: text,
    imageDim: img ? img[1]! : null,
  };
}

export function paramCount(c: WanConfig): number {
  const d = c.dim;
  const lin = (i: number, o: number) => i * o + o;
  let block = 4 * lin(d, d) + 2 * d; // self-attention + q/k norms
  block += 4 * lin(d, d) + 2 * d; // cross-attention
  if (c.imageDim) block += 2 * lin(d, d) + d;
  block += lin(d, c.ffnDim) + lin(c.ffnDim, d) + 2 * d + 6 * d;
  let rest = c.inDim * 4 * d + d + lin(c.freqDim, d) + lin(d, d) + lin(d, 6 * d) + lin(c.textDim, d) + lin(d, d);
  if (c.imageDim) rest += 2 * c.imageDim + lin(c.imageDim, c.imageDim) + lin(c.imageDim, d) + 2 * d;
  rest += 2 * d + lin(d, 4 * c.outDim);
  return c.numLayers * block + rest;
}
