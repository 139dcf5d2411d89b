// The Wan2.1 DiT (WanTransformer3DModel) as a graph, one method per part of the paper's
// figure: patch embedding, condition embedders, blocks, head. Weight names are the
// diffusers ones; names.ts maps other layouts onto them.

import type { DType } from '../../runtime/dtype.ts';
import { linearWeight, type QuantizedWeights } from '../../graph/quantized.ts';
import type { LinearOptions } from '../../graph/ops/linear.ts';
import type { RuntimeLoraPair } from '../lora/attach.ts';
import type { Value } from '../../graph/ir.ts';
import { ModelGraph } from '../../graph/ops/index.ts';
import type { WanConfig } from './config.ts';
import { tokenCount, tokenGrid, type TokenGrid } from './grid.ts';

export interface DitGraphOptions {
  /** Latent input shape [C_in, F, H, W]. */
  latentShape: readonly [number, number, number, number];
  /** Text tokens in the context (config.textLen unless overridden). */
  textLen?: number;
  /** Storage dtype of the weights on the GPU (activations stay f32). */
  weightDtype?: DType;
  /**
   * Build the EgoX geometry-guided attention: bias strength lambda (3 in EgoX) for the ego
   * queries, which are the last `egoLatentCols` latent columns (56 of 154 in EgoX).
   */
  gga?: { lambda: number; egoLatentCols: number } | null;
  /**
   * LoRA applied at run time (not merged): module name -> one low-rank path per adapter (rank,
   * scale = strength * alpha / r, graph names of A and B).
   */
  runtimeLora?: ReadonlyMap<string, readonly RuntimeLoraPair[]>;
  /**
   * Linear weights kept quantized as the checkpoint stores them (fp8, GGML blocks; by weight
   * name, e.g. `blocks.0.attn1.to_q.weight`), with the per-tensor scale of "scaled" fp8 files.
   */
  quantizedWeights?: QuantizedWeights;
}

/** A Linear layer's operands as the graph reads them. */
interface LinearParts {
  w: Value;
  b: Value | undefined;
  lora: LinearOptions['lora'];
  weightScale: number | undefined;
}

/** Names of the graph's inputs and output (also the tensor names of `egox forward dit`). */
export const DIT_IO = {
  latents: 'x',
  timestepEmbedding: 'timestep_embedding',
  context: 'context',
  clip: 'clip',
  ggaQueryDirs: 'gga_query_dirs',
  ggaKeyDirs: 'gga_key_dirs',
  output: 'out',
} as const;

export class WanDit {
  readonly g = new ModelGraph();
  readonly grid: TokenGrid;
  readonly tokens: number;
  private readonly wd: DType;

  constructor(
    readonly config: WanConfig,
    readonly options: DitGraphOptions,
  ) {
    this.grid = tokenGrid(options.latentShape);
    this.tokens = tokenCount(this.grid);
    this.wd = options.weightDtype ?? 'f32';
  }

  build() {
    const c = this.config;
    const g = this.g;
    const io = DIT_IO;
    g.segment('embed');
    const x = g.input(io.latents, this.options.latentShape, 'f32');
    const tEmb = g.input(io.timestepEmbedding, [1, c.freqDim], 'f32');
    const textLen = this.options.textLen ?? c.textLen;
    const context = g.input(io.context, [textLen, c.textDim], 'f32');
    const clip = c.imageDim ? g.input(io.clip, [c.imageLen, c.imageDim], 'f32') : null;
    const gga = this.options.gga
      ? {
          queryDirs: g.input(io.ggaQueryDirs, [this.tokens, 3], 'f32'),
          keyDirs: g.input(io.ggaKeyDirs, [this.grid.frames, this.tokens, 3], 'f32'),
        }
      : null;

    let h = this.patchEmbed(x);
    const { e, e0 } = this.timeEmbed(tEmb);
    const ctxText = this.textEmbed(context);
    const ctxImage = clip ? this.imageEmbed(clip) : null;
    for (let i = 0; i < c.numLayers; i++) {
      g.segment(`blocks.${i}`);
      h = g.within(`blocks.${i}`, () => this.block(i, h, e0, ctxText, ctxImage, gga));
    }
    g.segment('head');
    const out = this.head(h, e);
    g.output(io.output, out);
    return g.build();
  }

  /**
   * With 16-bit weights the model is in the 16-bit precision class (as the official bf16
   * run): attention may then round its operands to f16 (tensor cores where trusted).
   */
  private attentionPrecision(): 'f32' | '16bit' {
    return this.wd === 'f32' ? 'f32' : '16bit';
  }

  private w(name: string, shape: readonly number[], dtype: DType = this.wd): Value {
    return this.g.weight(name, shape, dtype);
  }

  /**
   * Weight (fp8 as stored, or the storage dtype), bias and run-time LoRA (if any) of a
   * Linear(in -> out), PyTorch layout [out, in].
   */
  private lin(name: string, inDim: number, outDim: number, bias = true): LinearParts {
    const lora = this.lowRank(this.options.runtimeLora?.get(name), inDim, outDim);
    const { w, weightScale } = linearWeight(this.g, this.options.quantizedWeights, `${name}.weight`, [outDim, inDim], this.wd);
    return { w, b: bias ? this.w(`${name}.bias`, [outDim], 'f32') : undefined, lora, weightScale };
  }

  /**
   * The run-time LoRA of a module: one adapter's A and B as stored, or several stacked as one
   * path of the summed rank (A rows scaled by each adapter's scale, B columns side by side).
   */
  private lowRank(pairs: readonly RuntimeLoraPair[] | undefined, inDim: number, outDim: number): LinearOptions['lora'] {
    if (!pairs?.length) return undefined;
    if (pairs.length === 1) {
      const p = pairs[0]!;
      return { a: this.w(p.a, [p.rank, inDim]), b: this.w(p.b, [outDim, p.rank]), scale: p.scale };
    }
    const a = this.g.concat(pairs.map((p) => this.g.scale(this.w(p.a, [p.rank, inDim], 'f32'), p.scale)), 0, 'lora_A.stack');
    const b = this.g.concat(pairs.map((p) => this.w(p.b, [outDim, p.rank], 'f32')), 1, 'lora_B.stack');
    return { a, b, scale: 1 };
  }

  /** x through a Linear layer (its LoRA and fp8 scale included) with the given fusions. */
  private linear(x: Value, l: LinearParts, opts: Omit<LinearOptions, 'lora' | 'weightScale'>, label: string): Value {
    return this.g.linear(x, l.w, l.b, { ...opts, lora: l.lora, weightScale: l.weightScale }, label);
  }

  private patchEmbed(x: Value): Value {
    const c = this.config;
    const tokens = this.g.patchify(x); // [L, C_in * 4], channel order (c, ph, pw)
    const b = this.w('patch_embedding.bias', [c.dim], 'f32');
    const w = this.g.reshape(this.w('patch_embedding.weight', [c.dim, c.inDim, 1, 2, 2]), [c.dim, c.inDim * 4]);
    return this.g.linear(tokens, w, b, {}, 'patch_embedding');
  }

  private timeEmbed(tEmb: Value): { e: Value; e0: Value } {
    const c = this.config;
    const g = this.g;
    const l1 = this.lin('condition_embedder.time_embedder.linear_1', c.freqDim, c.dim);
    const l2 = this.lin('condition_embedder.time_embedder.linear_2', c.dim, c.dim);
    const e = this.linear(this.linear(tEmb, l1, { activation: 'silu' }, 'time_embedder.linear_1'), l2, {}, 'time_embedder.linear_2');
    const proj = this.lin('condition_embedder.time_proj', c.dim, 6 * c.dim);
    const e0 = this.linear(g.silu(e), proj, {}, 'time_proj');
    return { e, e0 };
  }

  private textEmbed(context: Value): Value {
    const c = this.config;
    const l1 = this.lin('condition_embedder.text_embedder.linear_1', c.textDim, c.dim);
    const l2 = this.lin('condition_embedder.text_embedder.linear_2', c.dim, c.dim);
    const h = this.linear(context, l1, { activation: 'gelu_tanh' }, 'text_embedder.linear_1');
    return this.linear(h, l2, {}, 'text_embedder.linear_2');
  }

  private imageEmbed(clip: Value): Value {
    const c = this.config;
    const g = this.g;
    const id = c.imageDim!;
    const p = 'condition_embedder.image_embedder';
    const n1 = g.layerNorm(clip, { weight: this.w(`${p}.norm1.weight`, [id], 'f32'), bias: this.w(`${p}.norm1.bias`, [id], 'f32'), eps: 1e-5 }, 'image_embedder.norm1');
    const f1 = this.lin(`${p}.ff.net.0.proj`, id, id);
    const f2 = this.lin(`${p}.ff.net.2`, id, c.dim);
    const h = this.linear(this.linear(n1, f1, { activation: 'gelu' }, 'image_embedder.ff.0'), f2, {}, 'image_embedder.ff.2');
    return g.layerNorm(h, { weight: this.w(`${p}.norm2.weight`, [c.dim], 'f32'), bias: this.w(`${p}.norm2.bias`, [c.dim], 'f32'), eps: 1e-5 }, 'image_embedder.norm2');
  }

  private block(
    i: number,
    h: Value,
    e0: Value,
    ctxText: Value,
    ctxImage: Value | null,
    gga: { queryDirs: Value; keyDirs: Value } | null,
  ): Value {
    const c = this.config;
    const g = this.g;
    const d = c.dim;
    const p = `blocks.${i}`;
    // adaLN: (shift1, scale1, gate1, shift2, scale2, gate2) = table + e0
    const mod = g.add(this.w(`${p}.scale_shift_table`, [1, 6 * d], 'f32'), e0, 'modulation');
    const [shift1, scale1, gate1, shift2, scale2, gate2] = g.split(g.reshape(mod, [6, d]), 6, 'modulation');

    // Self-attention with RMS-normed q/k, 3D RoPE, and the optional EgoX bias.
    const n1 = g.layerNorm(h, { eps: c.eps, shift: shift1!, scale: scale1! }, 'norm1');
    const q = this.attnProj(`${p}.attn1.to_q`, n1, `${p}.attn1.norm_q`);
    const k = this.attnProj(`${p}.attn1.to_k`, n1, `${p}.attn1.norm_k`);
    const v = this.attnProj(`${p}.attn1.to_v`, n1);
    const rq = g.rope(q, { heads: c.numHeads, headDim: c.headDim, grid: this.grid, theta: c.ropeTheta }, 'rope_q');
    const rk = g.rope(k, { heads: c.numHeads, headDim: c.headDim, grid: this.grid, theta: c.ropeTheta }, 'rope_k');
    const a = g.attention(rq, rk, v, { heads: c.numHeads, headDim: c.headDim, precision: this.attentionPrecision(), gga: gga ? { ...gga, ...this.egoGrid() } : undefined }, 'attn1');
    const o1 = this.lin(`${p}.attn1.to_out.0`, d, d);
    h = this.linear(a, o1, { residual: h, gate: gate1! }, 'attn1.to_out');

    // Cross-attention over [image; text] context (no RoPE, no gate).
    const n2 = g.layerNorm(h, { weight: this.w(`${p}.norm2.weight`, [d], 'f32'), bias: this.w(`${p}.norm2.bias`, [d], 'f32'), eps: c.eps }, 'norm2');
    const q2 = this.attnProj(`${p}.attn2.to_q`, n2, `${p}.attn2.norm_q`);
    const kt = this.attnProj(`${p}.attn2.to_k`, ctxText, `${p}.attn2.norm_k`);
    const vt = this.attnProj(`${p}.attn2.to_v`, ctxText);
    let a2 = g.attention(q2, kt, vt, { heads: c.numHeads, headDim: c.headDim, precision: this.attentionPrecision() }, 'attn2.text');
    if (ctxImage) {
      const ki = this.attnProj(`${p}.attn2.add_k_proj`, ctxImage, `${p}.attn2.norm_added_k`);
      const vi = this.attnProj(`${p}.attn2.add_v_proj`, ctxImage);
      a2 = g.add(a2, g.attention(q2, ki, vi, { heads: c.numHeads, headDim: c.headDim, precision: this.attentionPrecision() }, 'attn2.image'), 'attn2.sum');
    }
    const o2 = this.lin(`${p}.attn2.to_out.0`, d, d);
    h = this.linear(a2, o2, { residual: h }, 'attn2.to_out');

    // Gated feed-forward.
    const n3 = g.layerNorm(h, { eps: c.eps, shift: shift2!, scale: scale2! }, 'norm3');
    const f0 = this.lin(`${p}.ffn.net.0.proj`, d, c.ffnDim);
    const f2 = this.lin(`${p}.ffn.net.2`, c.ffnDim, d);
    const f = this.linear(n3, f0, { activation: 'gelu_tanh' }, 'ffn.0');
    return this.linear(f, f2, { residual: h, gate: gate2! }, 'ffn.2');
  }

  private egoGrid() {
    const o = this.options.gga!;
    const egoTokenCols = o.egoLatentCols / 2;
    if (!Number.isInteger(egoTokenCols) || egoTokenCols > this.grid.cols) throw new Error(`gga: ${o.egoLatentCols} ego latent columns do not fit the grid`);
    return { lambda: o.lambda, tokensPerFrame: this.grid.rows * this.grid.cols, gridWidth: this.grid.cols, egoColStart: this.grid.cols - egoTokenCols };
  }

  /** Linear projection (+ LoRA when run-time fused) with an optional RMSNorm over the full dim. */
  private attnProj(name: string, x: Value, norm?: string): Value {
    const d = this.config.dim;
    const inDim = x.shape[1]!;
    const y = this.linear(x, this.lin(name, inDim, d), {}, name.split('.').slice(-2).join('.'));
    return norm ? this.g.rmsNorm(y, this.w(`${norm}.weight`, [d], 'f32'), this.config.eps, `${name.split('.').pop()}.norm`) : y;
  }

  private head(h: Value, e: Value): Value {
    const c = this.config;
    const g = this.g;
    const mod = g.add(this.w('scale_shift_table', [1, 2 * c.dim], 'f32'), e, 'head.modulation'); // e repeats over both rows
    const [shift, scale] = g.split(g.reshape(mod, [2, c.dim]), 2, 'head.modulation');
    const n = g.layerNorm(h, { eps: c.eps, shift: shift!, scale: scale! }, 'head.norm');
    const y = this.linear(n, this.lin('proj_out', c.dim, 4 * c.outDim), {}, 'proj_out');
    return g.unpatchify(y, { channels: c.outDim, frames: this.grid.frames, height: this.grid.rows * 2, width: this.grid.cols * 2 });
  }
}
