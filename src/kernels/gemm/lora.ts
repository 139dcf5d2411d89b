// LoRA at run time without materialising the merged weight:
//   Y = X W^T + b + s (X A^T) B^T,  A [r, K], B [N, r].
// Two GEMMs, which the graph's Linear op (graph/ops/linear.ts) records as two nodes so that T
// is a planned activation: first T = s X A^T [M, r] (f32, `loraDown`), then the main GEMM with
// T and B appended as a second accumulation segment, [X | T] [W | B]^T (`loraUp`), i.e. K + r
// instead of K, in the same kernel and with the same epilogue. That is 2r/K more FLOPs (12.5%
// at K = 1024, r = 64; 10% for the EgoX LoRA, r = 256 on K = 5120); measured on lavapipe at
// 1024^3, r = 64: +10-25% time (the machine was loaded, spread is wide). An epilogue-only form
// would instead read r values of T and of B per output element, lane by lane: as many loads
// as the whole main loop.

import type { KernelContext } from '../../runtime/kernel-context.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { shapeString } from '../../runtime/tensor.ts';
import { gemm, type GemmOptions } from './gemm.ts';

export interface LoraDownOptions {
  /** Where T goes ([M, r], f32); a new tensor when absent. */
  out?: Tensor;
  variant?: GemmOptions['variant'];
  maxBindingBytes?: number;
}

/** T = scale * X A^T in f32: the low-rank projection of X, with A (lora_A / lora_down) [r, K]. */
export function loraDown(dev: KernelContext, x: Tensor, a: Tensor, scale: number, opts: LoraDownOptions = {}): Tensor {
  const K = x.shape[x.shape.length - 1]!;
  if (a.shape.length !== 2 || a.shape[1] !== K) throw new Error(`loraDown: lora A ${shapeString(a.shape)} must be [r, ${K}]`);
  return gemm(dev, x, a, { alpha: scale, out: opts.out, outDtype: 'f32', variant: opts.variant, maxBindingBytes: opts.maxBindingBytes });
}

/**
 * gemm() of X and W plus the low-rank term T B^T (T from `loraDown`, B = lora_B / lora_up
 * [N, r]) in the same kernel: same options and epilogues, W shared (2-D).
 */
export function loraUp(dev: KernelContext, x: Tensor, w: Tensor, low: { t: Tensor; b: Tensor }, opts: GemmOptions = {}): Tensor {
  if (w.shape.length !== 2) throw new Error(`loraUp: W ${shapeString(w.shape)} must be 2-D [N, K]`);
  const N = w.shape[0]!;
  const r = low.t.shape[low.t.shape.length - 1]!;
  if (low.b.shape.length !== 2 || low.b.shape[0] !== N || low.b.shape[1] !== r) {
    throw new Error(`loraUp: lora B ${shapeString(low.b.shape)} must be [${N}, ${r}]`);
  }
  if (opts.extraK) throw new Error('loraUp: extraK is already used by the LoRA term');
  return gemm(dev, x, w, { ...opts, extraK: low });
}
