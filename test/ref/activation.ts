// Float64 references for the activations, softmax and row reductions (plain loops, from
// the textbook definitions; JS has no Math.erf, so erf comes from its power series).

/**
 * erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)): every term is
 * positive (no cancellation), relative error ~1e-16 for |x| <= 6; erf(|x| > 6) = +-1 to
 * within 2e-17.
 */
export function refErf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a > 6) return Math.sign(x);
  let term = a;
  let sum = a;
  for (let n = 1; n < 400; n++) {
    term *= (2 * a * a) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
}

export const refSilu = (x: number): number => x / (1 + Math.exp(-x));

export const refGeluTanh = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

export const refGeluErf = (x: number): number => 0.5 * x * (1 + refErf(x / Math.SQRT2));

export type RefActivation = 'silu' | 'gelu_tanh' | 'gelu_erf' | 'erf' | 'relu';

export const REF_ACTIVATIONS: Record<RefActivation, (x: number) => number> = {
  silu: refSilu,
  gelu_tanh: refGeluTanh,
  gelu_erf: refGeluErf,
  erf: refErf,
  relu: (x) => (x > 0 ? x : 0),
};

/** y = act(x) [* gate]. */
export function refActivation(kind: RefActivation, x: ArrayLike<number>, gate?: ArrayLike<number>): Float64Array {
  const f = REF_ACTIVATIONS[kind];
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = f(x[i]!) * (gate ? gate[i]! : 1);
  return out;
}

/** softmax(scale * x) over the last dim of [rows, C]. */
export function refSoftmax(x: ArrayLike<number>, rows: number, C: number, scale = 1): Float64Array {
  const out = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, scale * x[r * C + c]!);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(scale * x[r * C + c]! - m);
    for (let c = 0; c < C; c++) out[r * C + c] = Math.exp(scale * x[r * C + c]! - m) / s;
  }
  return out;
}

/** Reduction over the last dim of [rows, C]. */
export function refReduceRows(x: ArrayLike<number>, rows: number, C: number, op: 'sum' | 'mean' | 'sumsq' | 'max'): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let acc = op === 'max' ? -Infinity : 0;
    for (let c = 0; c < C; c++) {
      const v = x[r * C + c]!;
      if (op === 'max') acc = Math.max(acc, v);
      else acc += op === 'sumsq' ? v * v : v;
    }
    out[r] = op === 'mean' ? acc / C : acc;
  }
  return out;
}
