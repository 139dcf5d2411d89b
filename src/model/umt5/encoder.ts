// Opening a umT5 text encoder (a diffusers folder with text_encoder/ and tokenizer/, the
// text_encoder folder itself, the original release's .pth, or one weight file: safetensors, .pth, GGUF) and running it: ids -> embedding rows
// read from the checkpoint on the host -> the graph -> last_hidden_state, rows past the real
// tokens zeroed (what the Wan pipelines hand the DiT, egox-official.md C.5).

import { Executor } from '../../graph/executor.ts';
import { findUmt5, readJsonFile, readTextFile, type Umt5Paths } from '../../io/model-layout.ts';
import type { EgoxDevice } from '../../runtime/device.ts';
import { UnigramTokenizer, UMT5_MAX_LENGTH } from '../text/tokenizer.ts';
import { Umt5ModelError, umt5ConfigFromJson, type Umt5Config } from './config.ts';
import { UMT5_IO, buildUmt5Graph } from './graph.ts';
import { openUmt5Weights, readEmbeddingRow, type Umt5Weights } from './weights.ts';
import { executorBudget, type NetworkLoadOptions } from '../load-options.ts';

export interface Umt5Options extends NetworkLoadOptions {
  /** Sequence length of the graph (ids are padded to it); default 512. */
  length?: number;
}

export { findUmt5, type Umt5Paths };

export class Umt5Encoder {
  private readonly rows = new Map<number, Float32Array>();
  private tok: UnigramTokenizer | undefined;

  private constructor(
    readonly config: Umt5Config,
    readonly paths: Umt5Paths,
    readonly length: number,
    private readonly weights: Umt5Weights,
    private readonly exec: Executor,
  ) {}

  /**
   * The encoder's config and tokenizer read and checked without a device, so a run can refuse
   * a broken text_encoder/ or tokenizer.json before its slow stages.
   */
  static checkFiles(modelPath: string, tokenizerRoot?: string): void {
    const paths = findUmt5(modelPath, tokenizerRoot);
    if (!paths) throw new Umt5ModelError(`${modelPath}: no umT5 text encoder here (expected text_encoder/config.json with its safetensors and tokenizer/tokenizer.json, the release's models_t5_*.pth, or a weight file)`);
    if (paths.configJson) {
      const { json, error } = readJsonFile(paths.configJson);
      if (!json) throw new Umt5ModelError(`${paths.configJson}: invalid JSON (${error})`);
      umt5ConfigFromJson(json, paths.configJson);
    }
    if (paths.tokenizerJson) UnigramTokenizer.fromJsonText(readTextFile(paths.tokenizerJson), paths.tokenizerJson);
  }

  /**
   * Opens the encoder in `modelPath` (any layout findUmt5 knows); a single weight file takes
   * its tokenizer from `tokenizerRoot` (a download folder) or beside it.
   */
  static async open(dev: EgoxDevice, modelPath: string, opts: Umt5Options = {}, tokenizerRoot?: string): Promise<Umt5Encoder> {
    const paths = findUmt5(modelPath, tokenizerRoot);
    if (!paths) throw new Umt5ModelError(`${modelPath}: no umT5 text encoder here (expected text_encoder/config.json with its safetensors and tokenizer/tokenizer.json, the release's models_t5_*.pth, or a weight file)`);
    if (opts.weightDtype === 'f16' && !dev.has('shader-f16')) throw new Umt5ModelError('weight dtype f16 needs the shader-f16 feature, which this adapter lacks; use bf16');
    const length = opts.length ?? UMT5_MAX_LENGTH;
    const weights = await openUmt5Weights(paths);
    try {
      const exec = await Executor.create(dev, buildUmt5Graph(weights.config, length, opts.weightDtype ?? 'f32', weights.store.quantized), weights.store, executorBudget('umt5', opts));
      return new Umt5Encoder(weights.config, paths, length, weights, exec);
    } catch (e) {
      await weights.checkpoint.close();
      throw e;
    }
  }

  /** The tokenizer beside the encoder (loaded on first use). */
  tokenizer(): UnigramTokenizer {
    if (this.tok) return this.tok;
    const p = this.paths.tokenizerJson;
    if (!p) throw new Umt5ModelError(`${this.paths.weights}: no tokenizer.json found (looked in tokenizer/, google/umt5-xxl/ and beside the encoder); pass token ids instead`);
    this.tok = UnigramTokenizer.fromJsonText(readTextFile(p), p);
    return this.tok;
  }

  /** Peak GPU bytes of the planned graph. */
  get peakBytes(): number {
    return this.exec.plan.totals.peakBytes;
  }

  /** GPU bytes of the weights as stored there (quantized Linear weights at their file size). */
  get weightBytes(): number {
    return this.exec.plan.totals.weightBytes;
  }

  /**
   * ids (padded to `length`, real tokens first), `count` real tokens -> [length, d_model];
   * rows >= count are zero unless `keepPaddedRows` (then they hold the encoder's output there).
   */
  async encodeIds(ids: ArrayLike<number>, count: number, keepPaddedRows = false): Promise<Float32Array> {
    const { dModel, vocabSize } = this.config;
    if (ids.length !== this.length) throw new Umt5ModelError(`umT5: ${ids.length} token ids given, the encoder was built for ${this.length}`);
    if (!(Number.isInteger(count) && count >= 1 && count <= this.length)) throw new Umt5ModelError(`umT5: ${count} real tokens is not in 1..${this.length}`);
    const embeds = new Float32Array(this.length * dModel);
    for (let i = 0; i < this.length; i++) {
      const id = ids[i]!;
      if (!(Number.isInteger(id) && id >= 0 && id < vocabSize)) throw new Umt5ModelError(`umT5: token id ${id} at position ${i} is outside the vocabulary (0..${vocabSize - 1}); does the tokenizer belong to this encoder?`);
      embeds.set(await this.row(id), i * dModel);
    }
    await this.exec.run({ [UMT5_IO.embeds]: embeds, [UMT5_IO.validTokens]: new Uint32Array([count]) });
    const out = await this.exec.read(UMT5_IO.output);
    if (!keepPaddedRows) out.fill(0, count * dModel);
    return out;
  }

  private async row(id: number): Promise<Float32Array> {
    let r = this.rows.get(id);
    if (!r) {
      r = await readEmbeddingRow(this.weights, id);
      this.rows.set(id, r);
    }
    return r;
  }

  async close(): Promise<void> {
    this.exec.destroy();
    await this.weights.checkpoint.close();
  }
}
