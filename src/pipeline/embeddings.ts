// Precomputed conditioning for runs without the encoders: --prompt-embeds FILE holds
// `prompt_embeds` [L, textDim] (and `negative_prompt_embeds`, needed when guidance != 1) and
// --image-embeds FILE holds `image_embeds` [257, imageDim], all F32/BF16/F16 safetensors.
import * as fs from 'node:fs';
import { SafetensorsFile } from '../io/safetensors.ts';
import { convert } from '../graph/weights.ts';
import { InputError } from '../runtime/errors.ts';
import type { FloatDType } from '../runtime/dtype.ts';

export class EmbeddingsError extends InputError {}

export const EMBEDDING_NAMES = {
  prompt: 'prompt_embeds',
  negative: 'negative_prompt_embeds',
  image: 'image_embeds',
} as const;

export interface Embedding {
  shape: [number, number];
  data: Float32Array;
}

/** What --prompt-embeds and --image-embeds supplied (checked against the model). */
export interface GivenEmbeddings {
  cond?: Embedding;
  uncond?: Embedding;
  image?: Embedding;
}

/** umT5 pads to 512 rows and CLIP gives 257; no conditioning of a real run is longer. */
const MAX_ROWS = 4096;

const FLOAT: Record<string, FloatDType> = { F32: 'f32', BF16: 'bf16', F16: 'f16' };

/** Reads named [rows, cols] tensors; a missing required one, a wrong width or dtype is one line. */
export async function readEmbeddings(
  file: string,
  option: string,
  wanted: { name: string; cols: number; required: boolean; rows?: number }[],
): Promise<Map<string, Embedding>> {
  if (!fs.existsSync(file)) throw new EmbeddingsError(`${option} ${file}: file not found`);
  const st = await SafetensorsFile.open(file).catch((e: Error) => {
    throw new EmbeddingsError(`${option} ${file}: ${e.message.split('\n')[0]}`);
  });
  try {
    const out = new Map<string, Embedding>();
    for (const w of wanted) {
      const info = st.tensors.get(w.name);
      if (!info) {
        if (w.required) throw new EmbeddingsError(`${option} ${file}: tensor '${w.name}' missing (has ${[...st.tensors.keys()].slice(0, 5).join(', ') || 'none'}${st.tensors.size > 5 ? ', ...' : ''})`);
        continue;
      }
      const from = FLOAT[info.dtype];
      if (!from) throw new EmbeddingsError(`${option} ${file}: '${w.name}' is ${info.dtype}; write it as F32, BF16 or F16`);
      const shape = info.shape.length === 3 && info.shape[0] === 1 ? info.shape.slice(1) : info.shape; // allow a batch of 1
      if (shape.length !== 2 || shape[1] !== w.cols || (w.rows !== undefined && shape[0] !== w.rows) || !(shape[0]! >= 1 && shape[0]! <= MAX_ROWS)) {
        throw new EmbeddingsError(`${option} ${file}: '${w.name}' has shape [${info.shape.join(', ')}], the model needs [${w.rows ?? 'L'}, ${w.cols}]${w.rows === undefined ? ` with L from 1 to ${MAX_ROWS}` : ''}`);
      }
      const raw = await st.read(w.name);
      const f32 = convert(raw, from, 'f32');
      out.set(w.name, { shape: [shape[0]!, shape[1]!], data: new Float32Array(f32.buffer, f32.byteOffset, f32.byteLength / 4).slice() });
    }
    return out;
  } finally {
    await st.close();
  }
}
