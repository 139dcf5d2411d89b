// umT5 encoder configuration from a Hugging Face text_encoder/config.json (UMT5EncoderModel;
// wan21-architecture.md section 3). Only the gated-GELU(tanh) feed-forward of umT5 is built.
import { InputError } from '../../runtime/errors.ts';
import { configObject, fieldReader, MAX_LAYERS, MAX_WIDTH } from '../config-fields.ts';

export interface Umt5Config {
  vocabSize: number;
  dModel: number;
  numHeads: number;
  dKv: number;
  dFf: number;
  numLayers: number;
  numBuckets: number;
  maxDistance: number;
  eps: number;
}

/** The real umT5-XXL of Wan2.1 (google/umt5-xxl encoder). */
export const UMT5_XXL: Umt5Config = { vocabSize: 256384, dModel: 4096, numHeads: 64, dKv: 64, dFf: 10240, numLayers: 24, numBuckets: 32, maxDistance: 128, eps: 1e-6 };

/** Missing or unusable encoder files (exit code 2). */
export class Umt5ModelError extends InputError {
  constructor(message: string) {
    super(message.replace(/\s*\n\s*/g, ' '));
  }
}

export function umt5ConfigFromJson(raw: unknown, source: string): Umt5Config {
  const error = (m: string) => new Umt5ModelError(m);
  const json = configObject(raw, source, error);
  const f = fieldReader(json, source, error);
  const ff = String(json.feed_forward_proj ?? 'gated-gelu');
  const act = String(json.dense_act_fn ?? 'gelu_new');
  if (ff !== 'gated-gelu' || !['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'].includes(act)) {
    throw new Umt5ModelError(`${source}: feed_forward_proj '${ff}' with dense_act_fn '${act}' is not supported (egox builds umT5's gated-gelu with tanh GELU)`);
  }
  const c: Umt5Config = {
    vocabSize: f.int('vocab_size', { max: 1 << 24 }),
    dModel: f.int('d_model', { max: MAX_WIDTH }),
    numHeads: f.int('num_heads', { max: 4096 }),
    dKv: f.int('d_kv', { max: 4096 }),
    dFf: f.int('d_ff', { max: MAX_WIDTH }),
    numLayers: f.int('num_layers', { max: MAX_LAYERS }),
    numBuckets: f.int('relative_attention_num_buckets', { max: 4096 }, 32),
    maxDistance: f.int('relative_attention_max_distance', { max: 1 << 20 }, 128),
    eps: f.num('layer_norm_epsilon', { above: 0, max: 1 }, 1e-6),
  };
  if (c.numHeads * c.dKv > MAX_WIDTH) throw new Umt5ModelError(`${source}: ${c.numHeads} heads of d_kv ${c.dKv} make a width above ${MAX_WIDTH}`);
  if (c.dKv % 4 !== 0) throw new Umt5ModelError(`${source}: d_kv ${c.dKv} must be a multiple of 4`);
  if (c.numBuckets % 2 !== 0 || c.numBuckets < 4 || c.maxDistance <= c.numBuckets / 4) {
    throw new Umt5ModelError(`${source}: relative_attention_num_buckets ${c.numBuckets} / max_distance ${c.maxDistance} is not a bidirectional T5 bucketing`);
  }
  return c;
}

/**
 * A config read from the tensor shapes (Hugging Face names), for files without a config.json
 * (the original .pth, ComfyUI's single file): the widths, the layer count, the heads from the
 * relative-position table [buckets, heads]; umT5's bucketing (max distance 128) and eps 1e-6.
 */
export function umt5ConfigFromShapes(shape: (hfName: string) => readonly number[] | undefined, source: string): Umt5Config {
  const need = (k: string): readonly number[] => {
    const s = shape(k);
    if (!s || s.length !== 2) throw new Umt5ModelError(`${source}: tensor for '${k}' missing or not 2-D; cannot infer the umT5 configuration (add a config.json)`);
    return s;
  };
  const emb = shape('shared.weight') ?? need('encoder.embed_tokens.weight');
  let layers = 0;
  while (shape(`encoder.block.${layers}.layer.0.SelfAttention.q.weight`)) layers++;
  const rel = need('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight');
  const heads = rel[1]!;
  const inner = need('encoder.block.0.layer.0.SelfAttention.q.weight')[0]!;
  if (inner % heads !== 0) throw new Umt5ModelError(`${source}: attention width ${inner} is not a multiple of the ${heads} heads of the position table`);
  const c: Umt5Config = {
    vocabSize: emb[0]!,
    dModel: emb[1]!,
    numHeads: heads,
    dKv: inner / heads,
    dFf: need('encoder.block.0.layer.1.DenseReluDense.wi_0.weight')[0]!,
    numLayers: layers,
    numBuckets: rel[0]!,
    maxDistance: 128,
    eps: 1e-6,
  };
  if (c.dKv % 4 !== 0) throw new Umt5ModelError(`${source}: head width ${c.dKv} must be a multiple of 4`);
  return c;
}
