// Random inputs and error measures shared by the Node tests and the in-browser kernel checks
// (no Node imports here: the page bundles this file).

/** Fresh random values in [-1, 1) (Math.random: every run sees new inputs). */
export function randomF32(n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (Math.random() * 2 - 1) * scale;
  return a;
}

/** Relative L2 error of `got` against a float64 reference. */
export function relL2(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} vs ${want.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < got.length; i++) {
    const d = got[i]! - want[i]!;
    num += d * d;
    den += want[i]! * want[i]!;
  }
  return Math.sqrt(num / Math.max(den, 1e-300));
}

/** Relative L2 bound of a kernel against its float64 reference, by the output's storage dtype. */
export const REL_L2_BOUND = { f32: 1e-5, f16: 3e-3, bf16: 3e-3 } as const;
