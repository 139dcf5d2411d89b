// GEMM family entry point: Y[M,N] = alpha * X[M,K] W[N,K]^T (+ bias[N]) with a fused
// epilogue, batched with strides, W in PyTorch Linear layout [out, in] stored as f32, f16,
// bf16, fp8 (E4M3 / E5M2, optionally times a per-tensor scale) or GGML blocks (Q8_0 ... Q6_K),
// the last two widened in the weight load.
// `gemmProgram(spec)` picks the WGSL generator of the spec's variant; `gemm(dev, ...)`
// infers the spec from the tensors, chooses the variant (tuned table, else heuristic) and
// splits the work into several dispatches when an operand is larger than the adapter's
// maxStorageBufferBindingSize (a 13824 x 5120 bf16 weight is 141 MB; lavapipe binds 128 MiB):
// each dispatch binds windows of the big tensors starting at aligned offsets, and the element
// offsets inside those windows are uniforms.

import type { KernelContext } from '../../runtime/kernel-context.ts';
import type { KernelProgram } from '../../runtime/program.ts';
import { Tensor, shapeString } from '../../runtime/tensor.ts';
import { sgmatrixGemmProgram, sgmatrixTile } from './sgmatrix.ts';
import { subgroupGemmProgram } from './subgroup.ts';
import { tiledGemmProgram } from './tiled.ts';
import { chooseGemmVariant, fixedSubgroupSize } from './variants.ts';
import { sgmTilingRunnable } from '../shared/subgroup-matrix.ts';
import { elemBytes, windowBytes, windowOf } from '../shared/binding-window.ts';
import type { GemmEpilogue, GemmSpec, GemmVariant, OperandLayout } from './common.ts';
import { isBlockQuant, isFp8, type FloatDType, type WeightDType } from '../../runtime/dtype.ts';

export type { GemmActivation, GemmEpilogue, GemmSpec, GemmVariant } from './common.ts';

export function gemmProgram(spec: GemmSpec): KernelProgram {
  switch (spec.variant.kind) {
    case 'subgroup':
      return subgroupGemmProgram(spec);
    case 'sgmatrix':
      return sgmatrixGemmProgram(spec);
    default:
      return tiledGemmProgram(spec);
  }
}

/** Programs by spec, generated once per device (the choices keep them). */
function cachedProgram(dev: KernelContext, spec: GemmSpec): KernelProgram {
  return dev.choices.program(`gemm:${JSON.stringify(spec)}`, () => gemmProgram(spec));
}

/** Batch strides in elements; omitted ones default to contiguous (W: 0 when W has N*K elements). */
export interface GemmBatch {
  count: number;
  /** Rows M per batch (default: X's elements / (count * K)). */
  rows?: number;
  x?: number;
  w?: number;
  y?: number;
  residual?: number;
  /** Gate batch stride: 0 = one gate for all batches (default when gate has N elements). */
  gate?: number;
}

export interface GemmOptions {
  bias?: Tensor;
  /** Default 'none'. 'gated_residual' computes out = residual + gate[n] * y. */
  epilogue?: GemmEpilogue;
  gate?: Tensor;
  residual?: Tensor;
  /** Output tensor to write (may be the residual itself: an in-place residual update). */
  out?: Tensor;
  /** Output storage dtype (default f32, or out's dtype). */
  outDtype?: FloatDType;
  /** Scales X W^T before the bias (a uniform: no recompilation when it changes). */
  alpha?: number;
  /**
   * Explicit batching. Without it, a 3-D W [B, N, K] batches over B with X [B, M, K]; a 2-D W
   * is shared and X's leading dims fold into M.
   */
  batch?: GemmBatch;
  /** Force a variant (tests, the autotuner); default: tuned winner or heuristic. */
  variant?: GemmVariant;
  /** Binding size limit to split against (tests); default dev.limits.maxStorageBufferBindingSize. */
  maxBindingBytes?: number;
  /** Second K segment: Y += T[M, r] B[N, r]^T (the LoRA path; see gemm-lora.ts). */
  extraK?: { t: Tensor; b: Tensor };
  /** Per-tensor scale of fp8 weights (scaled checkpoints): W values are widened, then multiplied by it. */
  wScale?: number;
}

const FLOATS: readonly string[] = ['f32', 'f16', 'bf16'];

function floatDtype(t: Tensor, what: string): FloatDType {
  if (!FLOATS.includes(t.dtype)) throw new Error(`gemm: ${what} has dtype ${t.dtype}; use f32, f16 or bf16`);
  return t.dtype as FloatDType;
}

function weightDtype(w: Tensor): WeightDType {
  if (isFp8(w.dtype) || isBlockQuant(w.dtype)) return w.dtype;
  return floatDtype(w, 'W');
}

/** Resolved problem: sizes, batch strides and the operands. */
interface Problem {
  M: number;
  N: number;
  K: number;
  count: number;
  xs: number;
  ws: number;
  ys: number;
  rs: number;
  gs: number;
  yDtype: FloatDType;
  outShape: number[];
}

function resolve(x: Tensor, w: Tensor, o: GemmOptions): Problem {
  const K = w.shape[w.shape.length - 1]!;
  // With explicit batch strides X may be a flat buffer; otherwise its last dim is K.
  if (w.shape.length < 2 || (!o.batch && x.shape[x.shape.length - 1] !== K)) {
    throw new Error(`gemm: W ${shapeString(w.shape)} does not match X ${shapeString(x.shape)}: need W [N, K] (PyTorch Linear layout [out, in]) with X [..., K]`);
  }
  const N = w.shape[w.shape.length - 2]!;
  const yDtype = (o.out?.dtype as FloatDType | undefined) ?? o.outDtype ?? 'f32';
  if (o.batch) {
    const count = o.batch.count;
    const M = o.batch.rows ?? x.numel / (count * K);
    if (!Number.isInteger(M) || M < 1) throw new Error(`gemm: X ${shapeString(x.shape)} does not split into ${count} batches of rows of ${K}`);
    const xs = o.batch.x ?? M * K;
    if ((count - 1) * xs + M * K > x.numel) throw new Error(`gemm: X ${shapeString(x.shape)} is too small for ${count} batches of ${M} x ${K} at stride ${xs}`);
    const ws = o.batch.w ?? (w.numel === N * K ? 0 : N * K);
    const gate = o.gate;
    return {
      M, N, K, count,
      xs,
      ws,
      ys: o.batch.y ?? M * N,
      rs: o.batch.residual ?? M * N,
      gs: o.batch.gate ?? (gate && gate.numel === N ? 0 : N),
      yDtype,
      outShape: [count, M, N],
    };
  }
  if (w.shape.length === 3) {
    const count = w.shape[0]!;
    const M = x.numel / (count * K);
    if (!Number.isInteger(M) || M < 1) throw new Error(`gemm: X ${shapeString(x.shape)} does not match batched W ${shapeString(w.shape)}`);
    const gs = o.gate && o.gate.numel === N ? 0 : N;
    return { M, N, K, count, xs: M * K, ws: N * K, ys: M * N, rs: M * N, gs, yDtype, outShape: [count, M, N] };
  }
  if (w.shape.length !== 2) throw new Error(`gemm: W ${shapeString(w.shape)} must be [N, K] or [B, N, K]`);
  const M = x.numel / K;
  if (o.gate && o.gate.numel !== N) throw new Error(`gemm: gate has ${o.gate.numel} values for ${N} output channels; pass batch.gate for per-batch gates`);
  return { M, N, K, count: 1, xs: M * K, ws: 0, ys: M * N, rs: M * N, gs: 0, yDtype, outShape: [...x.shape.slice(0, -1), N] };
}

function tileOf(v: GemmVariant): { tm: number; tn: number } {
  if (v.kind === 'sgmatrix') {
    const { bm, bn } = sgmatrixTile(v);
    return { tm: bm, tn: bn };
  }
  return v.kind === 'subgroup' ? { tm: v.tm, tn: v.sg * v.rn } : { tm: 16 * v.tm, tn: 16 * v.tn };
}

/**
 * Y = alpha * X W^T (+ bias) with the chosen epilogue. X [..., K] (f32/f16/bf16), W [N, K] or
 * [B, N, K] (f32/f16/bf16). Returns `out` or a new tensor [..., N] of `outDtype`. Records the
 * dispatches; nothing runs until the device flushes.
 */
export function gemm(dev: KernelContext, x: Tensor, w: Tensor, opts: GemmOptions = {}): Tensor {
  const p = resolve(x, w, opts);
  const xDtype = floatDtype(x, 'X');
  const wDtype = weightDtype(w);
  if (opts.wScale !== undefined && !isFp8(wDtype)) throw new Error('gemm: wScale is for fp8 weights');
  const epilogue = opts.epilogue ?? 'none';
  if (epilogue === 'gated_residual' && (!opts.gate || !opts.residual)) throw new Error('gemm: gated_residual needs gate and residual tensors');
  if (opts.bias && opts.bias.numel !== p.N) throw new Error(`gemm: bias has ${opts.bias.numel} values for ${p.N} output channels`);
  if (opts.bias && opts.bias.dtype !== 'f32') throw new Error('gemm: bias must be f32');
  if (opts.gate && opts.gate.dtype !== 'f32') throw new Error('gemm: gate must be f32');
  const out = opts.out ?? dev.empty(p.outShape, p.yDtype, 'gemm-out');
  const span = (stride: number) => (p.count - 1) * stride + p.M * p.N;
  if (out.numel < span(p.ys)) throw new Error(`gemm: out ${shapeString(out.shape)} is too small for ${p.count} x ${p.M} x ${p.N}`);
  const residual = epilogue === 'gated_residual' ? opts.residual : undefined;
  if (residual && residual.numel < span(p.rs)) throw new Error(`gemm: residual ${shapeString(residual.shape)} is too small for ${p.count} x ${p.M} x ${p.N}`);
  if (opts.gate && opts.gate.numel < (p.count - 1) * p.gs + p.N) throw new Error(`gemm: gate ${shapeString(opts.gate.shape)} is too small for ${p.count} batches of ${p.N}`);
  if (w.numel < (p.count - 1) * p.ws + p.N * p.K) throw new Error(`gemm: W ${shapeString(w.shape)} is too small for ${p.count} batches of ${p.N} x ${p.K}`);
  const inPlace = residual !== undefined && residual.buffer === out.buffer && residual.byteOffset === out.byteOffset;
  if (residual && !inPlace && residual.buffer === out.buffer) throw new Error('gemm: residual partially overlaps the output');
  if (inPlace && residual!.dtype !== out.dtype) throw new Error('gemm: an in-place residual must have the output dtype');
  let extra: { t: Tensor; b: Tensor; r: number } | undefined;
  if (opts.extraK) {
    const r = opts.extraK.b.shape[opts.extraK.b.shape.length - 1]!;
    if (opts.extraK.b.numel !== p.N * r || opts.extraK.t.numel !== p.count * p.M * r) {
      throw new Error(`gemm: LoRA operands T ${shapeString(opts.extraK.t.shape)} / B ${shapeString(opts.extraK.b.shape)} do not match M=${p.M} N=${p.N}`);
    }
    extra = { t: opts.extraK.t, b: opts.extraK.b, r };
  }

  const variant = opts.variant ?? chooseGemmVariant(dev, { M: p.M, N: p.N, K: p.K, wDtype, xDtype, yDtype: p.yDtype });
  if (variant.kind === 'subgroup' && variant.sg !== fixedSubgroupSize(dev)) {
    throw new Error(`gemm: subgroup variant for ${variant.sg} lanes, but this adapter's subgroup size is ${dev.adapter.subgroupMinSize}-${dev.adapter.subgroupMaxSize}`);
  }
  if (variant.kind === 'sgmatrix' && !variant.emulate && !sgmTilingRunnable(dev, variant)) {
    throw new Error(`gemm: subgroup-matrix variant ${JSON.stringify(variant)} needs chromium-experimental-subgroup-matrix with that config and subgroupMaxSize ${variant.sg} (adapter: ${dev.adapter.subgroupMaxSize ?? 'no subgroups'}, configs ${JSON.stringify(dev.adapter.subgroupMatrixConfigs ?? [])})`);
  }
  const limit = opts.maxBindingBytes ?? dev.limits.maxStorageBufferBindingSize;
  const align = dev.limits.minStorageBufferOffsetAlignment;
  const blocks = isBlockQuant(wDtype);
  if (blocks && w.byteLength > limit) throw new Error(`gemm: ${wDtype} weight ${shapeString(w.shape)} (${w.byteLength} bytes) is larger than one storage binding (${limit} bytes)`);

  const launch = (b0: number, bc: number, m0: number, m1: number, n0: number, n1: number) => {
    const M = m1 - m0;
    const N = n1 - n0;
    const xw = windowOf(x, b0 * p.xs + m0 * p.K, (b0 + bc - 1) * p.xs + m1 * p.K, align);
    // Block-quantized W is bound whole (blocks do not split at element windows); the loader
    // finds a row's blocks from its element offset.
    const ww = blocks ? { view: w, off: b0 * p.ws + n0 * p.K } : windowOf(w, b0 * p.ws + n0 * p.K, (b0 + bc - 1) * p.ws + n1 * p.K, align);
    const yw = windowOf(out, b0 * p.ys + m0 * p.N + n0, (b0 + bc - 1) * p.ys + (m1 - 1) * p.N + n1, align);
    const tensors: Tensor[] = [xw.view, ww.view];
    const uniforms: Record<string, number> = { xOff: xw.off, wOff: ww.off, yOff: yw.off };
    let extraSpec: GemmSpec['extraK'];
    if (extra) {
      const r = extra.r;
      const tw = windowOf(extra.t, b0 * p.M * r + m0 * r, (b0 + bc - 1) * p.M * r + m1 * r, align);
      const bw = windowOf(extra.b, n0 * r, n1 * r, align);
      tensors.push(tw.view, bw.view);
      uniforms.tOff = tw.off;
      uniforms.bOff = bw.off;
      extraSpec = {
        K: r,
        tDtype: floatDtype(extra.t, 'LoRA T'),
        bDtype: floatDtype(extra.b, 'LoRA B'),
        t: { ld: r, batchStride: p.M * r },
        b: { ld: r, batchStride: 0 },
        tVec4: r % 4 === 0 && (p.M * r) % 4 === 0 && tw.off % 4 === 0,
        bVec4: r % 4 === 0 && bw.off % 4 === 0,
      };
    }
    if (opts.bias) {
      tensors.push(opts.bias);
      uniforms.biasOff = n0;
    }
    let residualSpec: GemmSpec['residual'];
    if (epilogue === 'gated_residual') {
      tensors.push(opts.gate!);
      uniforms.gateOff = b0 * p.gs + n0;
      const rl: OperandLayout = { ld: p.N, batchStride: p.rs };
      if (inPlace) {
        residualSpec = { dtype: p.yDtype, layout: { ld: p.N, batchStride: p.ys }, inPlace: true };
      } else {
        const rw = windowOf(residual!, b0 * p.rs + m0 * p.N + n0, (b0 + bc - 1) * p.rs + (m1 - 1) * p.N + n1, align);
        tensors.push(rw.view);
        uniforms.rOff = rw.off;
        residualSpec = { dtype: floatDtype(residual!, 'residual'), layout: rl, inPlace: false };
      }
    }
    tensors.push(yw.view);
    if (opts.alpha !== undefined) uniforms.alpha = opts.alpha;
    if (opts.wScale !== undefined) uniforms.wScale = opts.wScale;
    // One batch: strides are never multiplied by a nonzero batch index, so they are left out
    // of the spec (and the pipeline key), which then serves every M.
    const one = bc === 1;
    if (one && residualSpec) residualSpec = { ...residualSpec, layout: { ...residualSpec.layout, batchStride: 0 } };
    if (one && extraSpec) extraSpec = { ...extraSpec, t: { ...extraSpec.t, batchStride: 0 } };
    const spec: GemmSpec = {
      M, N, K: p.K, batch: bc,
      xDtype, wDtype, yDtype: p.yDtype,
      x: { ld: p.K, batchStride: one ? 0 : p.xs },
      w: { ld: p.K, batchStride: one ? 0 : p.ws },
      y: { ld: p.N, batchStride: one ? 0 : p.ys },
      xVec4: p.K % 4 === 0 && p.xs % 4 === 0 && xw.off % 4 === 0,
      wVec4: p.K % 4 === 0 && p.ws % 4 === 0 && ww.off % 4 === 0,
      alpha: opts.alpha !== undefined,
      wScale: opts.wScale !== undefined,
      bias: opts.bias !== undefined,
      epilogue,
      residual: residualSpec,
      gateBatchStride: epilogue === 'gated_residual' ? (one ? 0 : p.gs) : undefined,
      extraK: extraSpec,
      variant,
    };
    dev.run(cachedProgram(dev, spec), tensors, uniforms);
  };

  // Bytes each operand would bind for a block of batches/rows/columns.
  const need = (bc: number, mRows: number, nCols: number) => {
    const sizes = [
      windowBytes(x, (bc - 1) * p.xs + mRows * p.K, align),
      blocks ? w.byteLength : windowBytes(w, (bc - 1) * p.ws + nCols * p.K, align),
      windowBytes(out, (bc - 1) * p.ys + mRows * p.N, align),
    ];
    if (residual && !inPlace) sizes.push(windowBytes(residual, (bc - 1) * p.rs + mRows * p.N, align));
    if (extra) sizes.push(windowBytes(extra.t, bc * p.M * extra.r, align), windowBytes(extra.b, nCols * extra.r, align));
    return Math.max(...sizes);
  };

  if (need(p.count, p.M, p.N) <= limit) {
    launch(0, p.count, 0, p.M, 0, p.N);
    return out;
  }
  // Split: one batch at a time, rows of X/Y in blocks, rows of W in blocks; block sizes are
  // multiples of the variant's tile so only the last block of each axis has ragged edges.
  const { tm, tn } = tileOf(variant);
  const rowsFit = (rowBytes: number, tile: number) => {
    const rows = Math.floor((limit - align - 8) / rowBytes);
    return rows >= tile ? Math.floor(rows / tile) * tile : rows;
  };
  const elem = elemBytes;
  const mRowBytes = Math.max(p.K * elem(x), p.N * elem(out), residual && !inPlace ? p.N * elem(residual) : 0, extra ? extra.r * elem(extra.t) : 0);
  const nRowBytes = Math.max(blocks ? 0 : p.K * elem(w), extra ? extra.r * elem(extra.b) : 0);
  const mBlock = Math.min(p.M, rowsFit(mRowBytes, tm));
  const nBlock = Math.min(p.N, rowsFit(nRowBytes, p.yDtype === 'f32' ? tn : Math.max(2, tn)));
  if (mBlock < 1 || nBlock < 1) {
    throw new Error(`gemm: a single tile of ${tm} x ${tn} does not fit the binding limit of ${limit} bytes (K=${p.K}, N=${p.N})`);
  }
  for (let b = 0; b < p.count; b++) {
    for (let m0 = 0; m0 < p.M; m0 += mBlock) {
      for (let n0 = 0; n0 < p.N; n0 += nBlock) {
        launch(b, 1, m0, Math.min(p.M, m0 + mBlock), n0, Math.min(p.N, n0 + nBlock));
      }
    }
  }
  return out;
}
