// Float64 reference of scaled dot-product attention on token-major [L, H, D] tensors, with
// the EgoX geometry bias written as the official code does it: an additive log term on
// the scores of ego queries (egox-official.md D.3), softmax with the max subtracted.

export interface RefEgoBias {
  qdir: ArrayLike<number>; // [Lq, 3]
  kdir: ArrayLike<number>; // [F, Lk, 3]
  tokensPerFrame: number;
  gridWidth: number;
  egoColStart: number;
  lambda: number;
}

export interface RefAttentionArgs {
  lq: number;
  lk: number;
  heads: number;
  headDim: number;
  scale?: number;
  egoBias?: RefEgoBias;
}

export function refIsEgoQuery(q: number, b: RefEgoBias): boolean {
  return (q % b.tokensPerFrame) % b.gridWidth >= b.egoColStart;
}

/** bias(q, k) of EgoX's geometry-guided attention (0 for exo queries). */
export function refEgoBias(q: number, k: number, lk: number, b: RefEgoBias): number {
  if (!refIsEgoQuery(q, b)) return 0;
  const f = Math.floor(q / b.tokensPerFrame);
  let c = 0;
  for (let i = 0; i < 3; i++) c += b.qdir[3 * q + i]! * b.kdir[3 * (f * lk + k) + i]!;
  c = Math.min(1, Math.max(-1, c));
  const scaled = b.lambda > 1 ? (c > 0 ? c * b.lambda : c) : c * b.lambda;
  return Math.log(scaled + 1 + 1e-6);
}

/**
 * O[q, h, :] = softmax_k(scale * <Q[q,h], K[k,h]> + bias(q, k)) V[k, h, :], float64.
 * `rows` limits the work to some query rows (the output of the other rows stays 0).
 */
export function refAttention(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  a: RefAttentionArgs,
  rows?: readonly number[],
): Float64Array {
  const { lq, lk, heads: H, headDim: D } = a;
  const scale = a.scale ?? 1 / Math.sqrt(D);
  const out = new Float64Array(lq * H * D);
  const s = new Float64Array(lk);
  for (const qi of rows ?? [...Array(lq).keys()]) {
    for (let h = 0; h < H; h++) {
      const qo = (qi * H + h) * D;
      let max = -Infinity;
      for (let ki = 0; ki < lk; ki++) {
        const ko = (ki * H + h) * D;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[qo + d]! * k[ko + d]!;
        s[ki] = dot * scale + (a.egoBias ? refEgoBias(qi, ki, lk, a.egoBias) : 0);
        if (s[ki]! > max) max = s[ki]!;
      }
      let sum = 0;
      for (let ki = 0; ki < lk; ki++) {
        s[ki] = Math.exp(s[ki]! - max);
        sum += s[ki]!;
      }
      for (let ki = 0; ki < lk; ki++) {
        const p = s[ki]! / sum;
        const vo = (ki * H + h) * D;
        for (let d = 0; d < D; d++) out[qo + d] += p * v[vo + d]!;
      }
    }
  }
  return out;
}
