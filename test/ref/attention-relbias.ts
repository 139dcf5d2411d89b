// Float64 reference of attention with T5's relative position bias and key-padding mask, as
// the umT5 encoder computes it: scores = scale * q.k + table[bucket(k - q), h], padded keys
// get float32-min added (so their weight underflows to 0), softmax, times V. The bucket is
// the log formula of T5, evaluated here in float64 (no step table: an independent oracle).

export interface RefT5Buckets {
  numBuckets: number;
  maxDistance: number;
}

export function refT5Bucket(r: number, b: RefT5Buckets): number {
  const half = b.numBuckets / 2;
  const exact = half / 2;
  let bucket = r > 0 ? half : 0;
  const d = Math.abs(r);
  if (d < exact) return bucket + d;
  const large = exact + Math.trunc((Math.log(d / exact) / Math.log(b.maxDistance / exact)) * (half - exact));
  bucket += Math.min(large, half - 1);
  return bucket;
}

export interface RefRelBiasArgs {
  lq: number;
  lk: number;
  heads: number;
  headDim: number;
  scale?: number;
  /** [numBuckets, heads] */
  bias?: RefT5Buckets & { table: ArrayLike<number> };
  /** Keys at index >= validKeys are padding. */
  validKeys?: number;
}

const F32_MIN = -3.4028234663852886e38;

export function refAttentionRelBias(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, a: RefRelBiasArgs): Float64Array {
  const { lq, lk, heads: H, headDim: D } = a;
  const scale = a.scale ?? 1;
  const out = new Float64Array(lq * H * D);
  const s = new Float64Array(lk);
  for (let qi = 0; qi < lq; qi++) {
    for (let h = 0; h < H; h++) {
      let max = -Infinity;
      for (let ki = 0; ki < lk; ki++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[(qi * H + h) * D + d]! * k[(ki * H + h) * D + d]!;
        let sc = dot * scale;
        if (a.bias) sc += a.bias.table[refT5Bucket(ki - qi, a.bias) * H + h]!;
        if (a.validKeys !== undefined && ki >= a.validKeys) sc += F32_MIN;
        s[ki] = sc;
        max = Math.max(max, sc);
      }
      let sum = 0;
      for (let ki = 0; ki < lk; ki++) {
        s[ki] = Math.exp(s[ki]! - max);
        sum += s[ki]!;
      }
      for (let ki = 0; ki < lk; ki++) {
        const p = s[ki]! / sum;
        if (p === 0) continue;
        for (let d = 0; d < D; d++) out[(qi * H + h) * D + d]! += p * v[(ki * H + h) * D + d]!;
      }
    }
  }
  return out;
}
