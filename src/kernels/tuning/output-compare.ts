// How far a kernel's output is from a reference output: the one measure the autotuners and
// the subgroup-matrix check accept or reject variants by.

/** Relative L2 distance of `got` from `want`; Infinity when `got` holds a non-finite value. */
export function relativeL2(got: Float32Array, want: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    if (!Number.isFinite(g)) return Infinity;
    num += (g - want[i]!) ** 2;
    den += want[i]! ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}
