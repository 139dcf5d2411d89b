// Float64 reference of the GEMM family: plain loops over the definitions.

export type RefEpilogue = 'none' | 'gelu_tanh' | 'gelu_erf' | 'silu' | 'gated_residual';

/** erf in float64: Maclaurin series for |x| < 3, continued fraction of erfc beyond. */
export function erf64(x: number): number {
  const a = Math.abs(x);
  let r: number;
  if (a < 3) {
    // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = a;
    let sum = a;
    for (let n = 1; n < 200; n++) {
      term *= (-a * a) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    r = 1 - erfcLarge(a);
  }
  return x < 0 ? -r : r;
}

/** erfc in float64 without cancellation for large x. */
export function erfc64(x: number): number {
  return x >= 3 ? erfcLarge(x) : 1 - erf64(x);
}

/** erfc(a) for a >= 3 by the Laplace continued fraction, evaluated bottom-up. */
function erfcLarge(a: number): number {
  let f = 0;
  for (let n = 60; n >= 1; n--) f = (n / 2) / (a + f);
  return Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f);
}

export function act64(kind: RefEpilogue, v: number): number {
  switch (kind) {
    case 'gelu_tanh':
      return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
    case 'gelu_erf':
      return 0.5 * v * (1 + erf64(v / Math.SQRT2));
    case 'silu':
      return v / (1 + Math.exp(-v));
    default:
      return v;
  }
}

export interface RefGemm {
  M: number;
  N: number;
  K: number;
  batch?: number;
  x: ArrayLike<number>;
  w: ArrayLike<number>;
  /** Batch strides in elements (defaults: contiguous X/Y, shared W). */
  xStride?: number;
  wStride?: number;
  bias?: ArrayLike<number>;
  alpha?: number;
  epilogue?: RefEpilogue;
  gate?: ArrayLike<number>;
  gateStride?: number;
  residual?: ArrayLike<number>;
  /** Runtime LoRA: + scale * (X A^T) B^T, A [r, K], B [N, r]. */
  lora?: { a: ArrayLike<number>; b: ArrayLike<number>; r: number; scale: number };
}

/** Y [batch, M, N] in float64. */
export function refGemm(p: RefGemm): Float64Array {
  const { M, N, K } = p;
  const batch = p.batch ?? 1;
  const xs = p.xStride ?? M * K;
  const ws = p.wStride ?? 0;
  const y = new Float64Array(batch * M * N);
  const t = new Float64Array(p.lora ? p.lora.r : 0);
  for (let b = 0; b < batch; b++) {
    for (let m = 0; m < M; m++) {
      const xr = b * xs + m * K;
      if (p.lora) {
        for (let j = 0; j < p.lora.r; j++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += p.x[xr + k]! * p.lora.a[j * K + k]!;
          t[j] = s;
        }
      }
      for (let n = 0; n < N; n++) {
        const wr = b * ws + n * K;
        let s = 0;
        for (let k = 0; k < K; k++) s += p.x[xr + k]! * p.w[wr + k]!;
        s *= p.alpha ?? 1;
        if (p.lora) {
          let l = 0;
          for (let j = 0; j < p.lora.r; j++) l += t[j]! * p.lora.b[n * p.lora.r + j]!;
          s += p.lora.scale * l;
        }
        if (p.bias) s += p.bias[n]!;
        const e = p.epilogue ?? 'none';
        let v: number;
        if (e === 'gated_residual') {
          v = p.residual![b * M * N + m * N + n]! + p.gate![b * (p.gateStride ?? 0) + n]! * s;
        } else {
          v = act64(e, s);
        }
        y[b * M * N + m * N + n] = v;
      }
    }
  }
  return y;
}

/** W + scale * B A in float64: W [N, K], A [r, K], B [N, r]. */
export function refLoraMerge(w: ArrayLike<number>, a: ArrayLike<number>, b: ArrayLike<number>, N: number, K: number, r: number, scale: number): Float64Array {
  const out = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let j = 0; j < r; j++) s += b[n * r + j]! * a[j * K + k]!;
      out[n * K + k] = w[n * K + k]! + scale * s;
    }
  }
  return out;
}
