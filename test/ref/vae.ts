// Float64 reference for the VAE's frame-cache update (src/kernels/conv/frame-cache.ts),
// written from its definition with plain loops.

/** The last `keep` frames of cat(old, x) over [c, *, hw]; a missing old cache counts as zeros. */
export function cacheUpdateRef(x: ArrayLike<number>, old: ArrayLike<number> | null, c: number, f: number, hw: number, keep: number): Float64Array {
  const out = new Float64Array(c * keep * hw);
  for (let ch = 0; ch < c; ch++) {
    for (let j = 0; j < keep; j++) {
      const src = f - keep + j; // frame index into x; negative: into the old cache
      for (let i = 0; i < hw; i++) {
        let v = 0;
        if (src >= 0) v = x[(ch * f + src) * hw + i]!;
        else if (old) v = old[(ch * keep + keep + src) * hw + i]!;
        out[(ch * keep + j) * hw + i] = v;
      }
    }
  }
  return out;
}
