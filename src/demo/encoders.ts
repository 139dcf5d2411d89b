// Tiny untrained text and image encoders for `egox demo`, in the Hugging Face layout the real
// model folder has: text_encoder/ (UMT5EncoderModel) + tokenizer/tokenizer.json (a small
// SentencePiece-style unigram vocabulary with byte fallback), image_encoder/ (CLIPVisionModel)
// + image_processor/preprocessor_config.json. Widths match the demo DiT's text and image dims.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeSafetensors, type TensorToWrite } from '../io/safetensors-writer.ts';
import { DEMO_PROMPT } from './scene/index.ts';
import { SeededRandom } from '../pipeline/random.ts';
import { writeJson } from './write-json.ts';

export const DEMO_UMT5 = { dModel: 64, numHeads: 2, dKv: 32, dFf: 128, numLayers: 2, numBuckets: 32, maxDistance: 128 };
export const DEMO_CLIP = { hidden: 48, intermediate: 96, heads: 2, layers: 3, imageSize: 56, patch: 14 };

const SPECIALS = ['<pad>', '</s>', '<s>', '<unk>'];

/** Vocabulary: specials, the 256 byte pieces, then the demo prompt's words and letters as pieces. */
function demoVocab(): [string, number][] {
  const vocab: [string, number][] = SPECIALS.map((s) => [s, 0]);
  for (let b = 0; b < 256; b++) vocab.push([`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, 0]);
  const seen = new Set<string>();
  const add = (piece: string, score: number) => {
    if (seen.has(piece)) return;
    seen.add(piece);
    vocab.push([piece, score]);
  };
  for (const word of DEMO_PROMPT.split(/\s+/).filter(Boolean)) add(`\u2581${word}`, -3 - word.length * 0.1);
  for (const ch of new Set(DEMO_PROMPT.replace(/\s/g, ''))) {
    add(ch, -8);
    add(`\u2581${ch}`, -9);
  }
  add('\u2581', -10);
  return vocab;
}

function tokenizerJson(vocab: [string, number][]): object {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' },
    pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', add_prefix_space: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
    },
    decoder: { type: 'Metaspace', replacement: '\u2581', add_prefix_space: true },
    model: { type: 'Unigram', unk_id: 3, vocab, byte_fallback: true },
  };
}

type Shapes = [string, number[], 'matrix' | 'norm' | 'bias' | 'table'][];

async function writeTensors(file: string, shapes: Shapes, seed: number): Promise<number> {
  const rng = new SeededRandom(seed);
  const out: Record<string, TensorToWrite> = {};
  let bytes = 0;
  for (const [name, shape, kind] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const x = rng.normal(n);
    const fanIn = shape.length > 1 ? n / shape[0]! : 1;
    for (let i = 0; i < n; i++) {
      if (kind === 'norm') x[i] = 1 + 0.05 * x[i]!;
      else if (kind === 'bias') x[i] = 0.02 * x[i]!;
      else if (kind === 'table') x[i] = 0.5 * x[i]!;
      else x[i] = x[i]! / Math.sqrt(fanIn);
    }
    out[name] = { dtype: 'F32', shape, data: x };
    bytes += x.byteLength;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await writeSafetensors(file, out, { producer: 'egox demo (untrained random weights)' });
  return bytes;
}

async function writeUmt5(dir: string): Promise<number> {
  const c = DEMO_UMT5;
  const vocab = demoVocab();
  writeJson(path.join(dir, 'tokenizer', 'tokenizer.json'), tokenizerJson(vocab));
  const inner = c.numHeads * c.dKv;
  const shapes: Shapes = [['shared.weight', [vocab.length, c.dModel], 'table'], ['encoder.final_layer_norm.weight', [c.dModel], 'norm']];
  for (let i = 0; i < c.numLayers; i++) {
    const p = `encoder.block.${i}.layer`;
    shapes.push(
      [`${p}.0.layer_norm.weight`, [c.dModel], 'norm'],
      [`${p}.0.SelfAttention.q.weight`, [inner, c.dModel], 'matrix'],
      [`${p}.0.SelfAttention.k.weight`, [inner, c.dModel], 'matrix'],
      [`${p}.0.SelfAttention.v.weight`, [inner, c.dModel], 'matrix'],
      [`${p}.0.SelfAttention.o.weight`, [c.dModel, inner], 'matrix'],
      [`${p}.0.SelfAttention.relative_attention_bias.weight`, [c.numBuckets, c.numHeads], 'table'],
      [`${p}.1.layer_norm.weight`, [c.dModel], 'norm'],
      [`${p}.1.DenseReluDense.wi_0.weight`, [c.dFf, c.dModel], 'matrix'],
      [`${p}.1.DenseReluDense.wi_1.weight`, [c.dFf, c.dModel], 'matrix'],
      [`${p}.1.DenseReluDense.wo.weight`, [c.dModel, c.dFf], 'matrix'],
    );
  }
  writeJson(path.join(dir, 'text_encoder', 'config.json'), {
    architectures: ['UMT5EncoderModel'],
    model_type: 'umt5',
    vocab_size: vocab.length,
    d_model: c.dModel,
    num_heads: c.numHeads,
    d_kv: c.dKv,
    d_ff: c.dFf,
    num_layers: c.numLayers,
    relative_attention_num_buckets: c.numBuckets,
    relative_attention_max_distance: c.maxDistance,
    layer_norm_epsilon: 1e-6,
    feed_forward_proj: 'gated-gelu',
    dense_act_fn: 'gelu_new',
    pad_token_id: 0,
    eos_token_id: 1,
  });
  return writeTensors(path.join(dir, 'text_encoder', 'model.safetensors'), shapes, 21);
}

async function writeClip(dir: string): Promise<number> {
  const c = DEMO_CLIP;
  const tokens = (c.imageSize / c.patch) ** 2 + 1;
  const P = 'vision_model';
  const ln = (name: string): Shapes => [[`${name}.weight`, [c.hidden], 'norm'], [`${name}.bias`, [c.hidden], 'bias']];
  const lin = (name: string, o: number, i: number): Shapes => [[`${name}.weight`, [o, i], 'matrix'], [`${name}.bias`, [o], 'bias']];
  const shapes: Shapes = [
    [`${P}.embeddings.class_embedding`, [c.hidden], 'table'],
    [`${P}.embeddings.patch_embedding.weight`, [c.hidden, 3, c.patch, c.patch], 'matrix'],
    [`${P}.embeddings.position_embedding.weight`, [tokens, c.hidden], 'table'],
    ...ln(`${P}.pre_layrnorm`),
    ...ln(`${P}.post_layernorm`),
  ];
  for (let i = 0; i < c.layers; i++) {
    const p = `${P}.encoder.layers.${i}`;
    shapes.push(
      ...ln(`${p}.layer_norm1`),
      ...lin(`${p}.self_attn.q_proj`, c.hidden, c.hidden),
      ...lin(`${p}.self_attn.k_proj`, c.hidden, c.hidden),
      ...lin(`${p}.self_attn.v_proj`, c.hidden, c.hidden),
      ...lin(`${p}.self_attn.out_proj`, c.hidden, c.hidden),
      ...ln(`${p}.layer_norm2`),
      ...lin(`${p}.mlp.fc1`, c.intermediate, c.hidden),
      ...lin(`${p}.mlp.fc2`, c.hidden, c.intermediate),
    );
  }
  writeJson(path.join(dir, 'image_encoder', 'config.json'), {
    architectures: ['CLIPVisionModel'],
    model_type: 'clip_vision_model',
    hidden_size: c.hidden,
    intermediate_size: c.intermediate,
    num_attention_heads: c.heads,
    num_hidden_layers: c.layers,
    image_size: c.imageSize,
    patch_size: c.patch,
    num_channels: 3,
    hidden_act: 'gelu',
    layer_norm_eps: 1e-5,
  });
  writeJson(path.join(dir, 'image_processor', 'preprocessor_config.json'), {
    image_processor_type: 'CLIPImageProcessor',
    do_resize: true,
    size: { shortest_edge: c.imageSize },
    resample: 3,
    do_center_crop: true,
    crop_size: { height: c.imageSize, width: c.imageSize },
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: [0.48145466, 0.4578275, 0.40821073],
    image_std: [0.26862954, 0.26130258, 0.27577711],
  });
  return writeTensors(path.join(dir, 'image_encoder', 'model.safetensors'), shapes, 22);
}

/** Writes text_encoder/, tokenizer/, image_encoder/, image_processor/ into `dir`; returns bytes written. */
export async function writeDemoEncoders(dir: string): Promise<number> {
  return (await writeUmt5(dir)) + (await writeClip(dir));
}
