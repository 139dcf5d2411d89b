// umT5 embeddings of every distinct prompt of a batch, encoded with one load of the encoder
// before anything else runs. Rows past a prompt's real tokens are zero (as the Wan pipelines
// give the DiT), so only the rows up to the last non-zero one are kept: about 1.6 MB per
// prompt of 100 tokens at 4096 wide instead of 8 MB.
import { encodePrompts } from '../model/umt5/index.ts';
import type { NetworkLoadOptions } from '../model/load-options.ts';
import type { EgoxDevice } from '../runtime/device.ts';
import type { Embedding } from './embeddings.ts';

export class PromptEmbeddings {
  private readonly kept = new Map<string, Float32Array>();

  private constructor(
    private readonly rows: number,
    private readonly width: number,
  ) {}

  /** Encodes each distinct prompt once; `prompts` may repeat. */
  static async encode(
    dev: EgoxDevice,
    encoder: { textEncoder: string; tokenizerRoot?: string },
    prompts: string[],
    width: number,
    load: NetworkLoadOptions,
  ): Promise<PromptEmbeddings> {
    const distinct = [...new Set(prompts)];
    const out = distinct.length > 0 ? await encodePrompts(dev, encoder.textEncoder, distinct, load, encoder.tokenizerRoot) : [];
    const cache = new PromptEmbeddings(out.length > 0 ? out[0]!.length / width : 0, width);
    distinct.forEach((p, i) => cache.kept.set(p, keepUsedRows(out[i]!, width)));
    return cache;
  }

  has(prompt: string): boolean {
    return this.kept.has(prompt);
  }

  /** The prompt's full [rows, width] embedding, zero rows restored. */
  get(prompt: string): Embedding {
    const used = this.kept.get(prompt);
    if (!used) throw new Error(`prompt not encoded before the run: ${JSON.stringify(prompt.slice(0, 60))}`);
    const data = new Float32Array(this.rows * this.width);
    data.set(used);
    return { shape: [this.rows, this.width], data };
  }
}

function keepUsedRows(e: Float32Array, width: number): Float32Array {
  let end = e.length;
  while (end > 0 && Object.is(e[end - 1], 0)) end--; // a -0 is kept: restored rows are +0
  return e.slice(0, Math.ceil(end / width) * width);
}
