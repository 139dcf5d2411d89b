// umT5 encoder configuration from a Hugging Face text_encoder/config.json (UMT5EncoderModel;
// wan21-architecture.md section 3). Only the gated-GELU(tanh) feed-forward of umT5 is built.
import { InputError } from '../../runtime/errors.ts';

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

export function umt5ConfigFromJson(json: Record<string, unknown>, source: string): Umt5Config {
  const num = (k: string, dflt?: number): number => {
    const v = json[k] ?? dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new Umt5ModelError(`${source}: field '${k}' is missing or not a positive integer`);
    return v;
  };
  const ff = String(json.feed_forward_proj ?? 'gated-gelu');
  const act = String(json.dense_act_fn ?? 'gelu_new');
  if (ff !== 'gated-gelu' || !['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'].includes(act)) {
    throw new Umt5ModelError(`${source}: feed_forward_proj '${ff}' with dense_act_fn '${act}' is not supported (egox builds umT5's gated-gelu with tanh GELU)`);
  }
  const eps = json.layer_norm_epsilon ?? 1e-6;
  if (typeof eps !== 'number' || !(eps > 0)) throw new Umt5ModelError(`${source}: field 'layer_norm_epsilon' must be a positive number`);
  const c: Umt5Config = {
    vocabSize: num('vocab_size'),
    dModel: num('d_model'),
    numHeads: num('num_heads'),
    dKv: num('d_kv'),
    dFf: num('d_ff'),
    numLayers: num('num_layers'),
    numBuckets: num('relative_attention_num_buckets', 32),
    maxDistance: num('relative_attention_max_distance', 128),
    eps,
  };
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
