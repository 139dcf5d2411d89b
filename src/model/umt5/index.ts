// The umT5 text encoder's library API (what the pipeline calls).

import type { EgoxDevice } from '../../runtime/device.ts';
import { encodePrompt } from '../text/tokenizer.ts';
import { Umt5Encoder, findUmt5 } from './encoder.ts';
import type { NetworkLoadOptions } from '../load-options.ts';

export { Umt5Encoder, findUmt5, type Umt5Options, type Umt5Paths } from './encoder.ts';
export { UMT5_XXL, Umt5ModelError, umt5ConfigFromJson, type Umt5Config } from './config.ts';
export { UMT5_IO, buildUmt5Graph } from './graph.ts';
export { UMT5_NAMES } from './names.ts';
export { planUmt5, type EncoderPlanSummary } from './plan.ts';

/** Whether `modelDir` holds a umT5 text encoder with its tokenizer. */
export function hasUmt5(modelDir: string): boolean {
  const p = findUmt5(modelDir);
  return Boolean(p && p.tokenizerJson);
}

/**
 * Each prompt cleaned, tokenized (512, EOS added), encoded: [512, d_model] row-major with
 * rows past the real tokens zero, as the Wan pipelines give the DiT.
 */
export async function encodePrompts(
  dev: EgoxDevice,
  modelDir: string,
  prompts: string[],
  opts: NetworkLoadOptions = {},
  tokenizerRoot?: string,
): Promise<Float32Array[]> {
  const enc = await Umt5Encoder.open(dev, modelDir, opts, tokenizerRoot);
  try {
    const tok = enc.tokenizer();
    const out: Float32Array[] = [];
    for (const p of prompts) {
      const e = encodePrompt(tok, p, enc.length);
      out.push(await enc.encodeIds(e.ids, e.length));
    }
    return out;
  } finally {
    await enc.close();
  }
}
