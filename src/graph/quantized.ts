// The one place that says "this graph weight is held quantized": a Linear weight the file holds
// as fp8 or GGML blocks is declared with that dtype (the matmul widens it in its weight load,
// with the fp8 per-tensor scale), any other weight with the network's storage dtype.

import type { BlockQuantDType, DType, Fp8DType } from '../runtime/dtype.ts';
import type { GraphBuilder } from './builder.ts';
import type { Value } from './ir.ts';

/** How the file holds a weight kept quantized on the GPU. */
export interface HeldQuantized {
  dtype: Fp8DType | BlockQuantDType;
  /** Per-tensor scale of a "scaled" fp8 weight. */
  scale?: number;
}

/** Graph weight name -> its quantized form, for the weights a file holds quantized (a Map fits). */
export interface QuantizedWeights {
  get(name: string): HeldQuantized | undefined;
}

/** Every Linear weight held as `dtype` (dry-run plans of a quantized file). */
export function allQuantized(dtype: Fp8DType | BlockQuantDType): QuantizedWeights {
  return { get: () => ({ dtype }) };
}

/** A Linear weight [out, in] as the graph reads it: quantized as held, else `dtype`; with its fp8 scale. */
export function linearWeight(g: GraphBuilder, quantized: QuantizedWeights | undefined, name: string, shape: readonly number[], dtype: DType): { w: Value; weightScale: number | undefined } {
  const q = quantized?.get(name);
  return { w: g.weight(name, shape, q?.dtype ?? dtype), weightScale: q?.scale };
}
