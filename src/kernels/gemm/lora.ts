// LoRA at run time without materialising the merged weight:
//   Y = X W^T + b + s (X A^T) B^T,  A [r, K], B [N, r].
// First a small GEMM T = s X A^T [M, r] (f32), then the main GEMM with T and B appended as a
// second accumulation segment: [X | T] [W | B]^T, i.e. K + r instead of K, in the same kernel
// and with the same epilogue. That is 2r/K more FLOPs (12.5% at K = 1024, r = 64; 10% for the
// EgoX LoRA, r = 256 on K = 5120); measured on lavapipe at 1024^3, r = 64: +10-25% time (the
// machine was loaded, spread is wide). An epilogue-only form would instead read r values of
// T and of B per output element, lane by lane: as many loads as the whole main loop.

import type { KernelContext } from '../../runtime/kernel-context.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { shapeString } from '../../runtime/tensor.ts';
import { gemm, type GemmOptions } from './index.ts';

export interface LoraWeights {
  /** lora_A / lora_down [r, K]. */
  a: Tensor;
  /** lora_B / lora_up [N, r]. */
  b: Tensor;
  /** s = strength * alpha / r. */
  scale: number;
}

/** gemm() plus a runtime LoRA term; same options, W must be shared (2-D). */
export function gemmLora(dev: KernelContext, x: Tensor, w: Tensor, lora: LoraWeights, opts: GemmOptions = {}): Tensor {
  const K = x.shape[x.shape.length - 1]!;
  const N = w.shape[0]!;
  if (w.shape.length !== 2) throw new Error(`gemmLora: W ${shapeString(w.shape)} must be 2-D [N, K]`);
  const r = lora.a.shape[0]!;
  if (lora.a.shape.length !== 2 || lora.a.shape[1] !== K) throw new Error(`gemmLora: lora A ${shapeString(lora.a.shape)} must be [r, ${K}]`);
  if (lora.b.shape.length !== 2 || lora.b.shape[0] !== N || lora.b.shape[1] !== r) {
    throw new Error(`gemmLora: lora B ${shapeString(lora.b.shape)} must be [${N}, ${r}]`);
  }
  if (opts.extraK) throw new Error('gemmLora: extraK is already used by the LoRA term');
  const batch = opts.batch ? { count: opts.batch.count, x: opts.batch.x, w: 0 } : undefined;
  const t = gemm(dev, x, lora.a, { alpha: lora.scale, batch, outDtype: 'f32', variant: opts.variant, maxBindingBytes: opts.maxBindingBytes });
  const y = gemm(dev, x, w, { ...opts, extraK: { t, b: lora.b } });
  // Safe before the GPU ran: later users of this pooled buffer are recorded after us.
  t.release();
  return y;
}
