// A view of a weight source that shows the equal row blocks of fused tensors under names of
// their own: checkpoints that store q, k and v as one [3 * d, ...] tensor (CLIP's to_qkv in the
// original Wan2.1 release) are read by graphs that name the three projections separately.

import { fileByteLength, fileFloatDtype, type FileDtype, type WeightSource } from './weights.ts';

/** Part `index` of `count` equal blocks along the first axis of tensor `key`. */
export interface RowBlock {
  key: string;
  index: number;
  count: number;
}

export class RowBlockSource implements WeightSource {
  readonly tensors: ReadonlyMap<string, { dtype: FileDtype; shape: number[] }>;

  /** `blocks`: virtual name -> its block; blocks whose tensor is absent or does not split evenly are left out. */
  constructor(
    private readonly base: WeightSource,
    private readonly blocks: ReadonlyMap<string, RowBlock>,
  ) {
    const all = new Map(base.tensors);
    for (const [name, b] of blocks) {
      const t = base.tensors.get(b.key);
      // Float types only (GGML block rows are whole blocks, so they split at rows too).
      if (!t || !fileFloatDtype(t.dtype) || t.shape.length === 0 || t.shape[0]! % b.count !== 0) continue;
      all.set(name, { dtype: t.dtype, shape: [t.shape[0]! / b.count, ...t.shape.slice(1)] });
    }
    this.tensors = all;
  }

  async *chunks(name: string, chunkBytes: number): AsyncIterable<Uint8Array> {
    const b = this.blocks.get(name);
    const t = b && this.tensors.get(name);
    if (!b || !t || this.base.tensors.has(name)) {
      yield* this.base.chunks(name, chunkBytes);
      return;
    }
    const bytes = fileByteLength(fileFloatDtype(t.dtype)!, t.shape.reduce((a, c) => a * c, 1));
    const start = b.index * bytes;
    const end = start + bytes;
    let at = 0; // byte position of the current chunk in the fused tensor
    for await (const chunk of this.base.chunks(b.key, chunkBytes)) {
      const lo = Math.max(start, at);
      const hi = Math.min(end, at + chunk.length);
      if (hi > lo) yield chunk.subarray(lo - at, hi - at);
      at += chunk.length;
      if (at >= end) break;
    }
  }
}
