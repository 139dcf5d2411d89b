// Float64 values of the 8-bit float formats, from their definitions (OCP 8-bit floating point):
// E4M3 ("fn"): sign, 4 exponent bits (bias 7), 3 mantissa bits; no infinities, S.1111.111 NaN.
// E5M2: sign, 5 exponent bits (bias 15), 2 mantissa bits; exponent 31: inf (m = 0) or NaN.

export type Fp8Format = 'f8e4m3' | 'f8e5m2';

export function fp8Value(format: Fp8Format, byte: number): number {
  const [eBits, mBits, bias] = format === 'f8e4m3' ? [4, 3, 7] : [5, 2, 15];
  const sign = byte & 0x80 ? -1 : 1;
  const e = (byte >> mBits) & ((1 << eBits) - 1);
  const m = byte & ((1 << mBits) - 1);
  const eMax = (1 << eBits) - 1;
  if (format === 'f8e4m3' && e === eMax && m === (1 << mBits) - 1) return NaN;
  if (format === 'f8e5m2' && e === eMax) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * (m / (1 << mBits)) * 2 ** (1 - bias);
  return sign * (1 + m / (1 << mBits)) * 2 ** (e - bias);
}

/** Bytes of finite values only, at random. */
export function randomFiniteFp8(format: Fp8Format, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let b: number;
    do b = Math.floor(Math.random() * 256);
    while (!Number.isFinite(fp8Value(format, b)));
    out[i] = b;
  }
  return out;
}

/** The finite code nearest to x (a test quantizer, not egox's). */
export function fp8Nearest(format: Fp8Format, x: number): number {
  let best = 0;
  let bestErr = Infinity;
  for (let b = 0; b < 256; b++) {
    const v = fp8Value(format, b);
    if (!Number.isFinite(v)) continue;
    const err = Math.abs(v - x);
    if (err < bestErr) [best, bestErr] = [b, err];
  }
  return best;
}
