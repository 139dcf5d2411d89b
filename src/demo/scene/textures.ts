/**
 * Procedural texture primitives of the demo scene: box-filtered square waves and pulses (so
 * checkers and stripes do not alias into moire at a distance, which H.264 and the point-cloud
 * prior would amplify) and a seeded value noise for surface grain. All deterministic: integer
 * hashing only, no Math.random.
 */

function frac(x: number): number {
  return x - Math.floor(x);
}

/** Integral of the unit-period square wave (+1 on [0, .5), -1 on [.5, 1)): a triangle wave. */
function squareIntegral(x: number): number {
  const f = frac(x);
  return f < 0.5 ? f : 1 - f;
}

/**
 * Square wave of period 1 in [-1, 1], averaged over a box of width `w` (texture units) centred at
 * x. w is the pixel footprint; w -> 0 gives the sharp wave, w >= 1 fades to the mean.
 */
export function squareWave(x: number, w: number): number {
  if (w < 1e-4) return frac(x) < 0.5 ? 1 : -1;
  return (squareIntegral(x + w / 2) - squareIntegral(x - w / 2)) / w;
}

/** Integral of the indicator of frac(x) < q. */
function pulseIntegral(x: number, q: number): number {
  const i = Math.floor(x);
  return i * q + Math.min(x - i, q);
}

/** Fraction of a box of width w around x covered by the pulses [k, k + q) (thin lines, bands). */
export function pulse(x: number, q: number, w: number): number {
  if (w < 1e-4) return frac(x) < q ? 1 : 0;
  return (pulseIntegral(x + w / 2, q) - pulseIntegral(x - w / 2, q)) / w;
}

/** 2D checker in [0, 1] of unit period (cells of 1/2), box-filtered (separable, so exact). */
export function checker(u: number, v: number, w: number): number {
  return 0.5 + 0.5 * squareWave(u, w) * squareWave(v, w);
}

/** Seeded integer hash of a 2D lattice point to [0, 1). */
export function hash2(ix: number, iy: number, seed: number): number {
  let h = Math.imul(ix | 0, 0x27d4eb2d) ^ Math.imul(iy | 0, 0x165667b1) ^ Math.imul(seed | 0, 0x9e3779b9);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  h ^= h >>> 15;
  return (h >>> 0) / 4294967296;
}

/** Smooth value noise in [0, 1) on a unit lattice (bilinear with smoothstep weights). */
export function valueNoise(u: number, v: number, seed: number): number {
  const iu = Math.floor(u);
  const iv = Math.floor(v);
  const fu = u - iu;
  const fv = v - iv;
  const su = fu * fu * (3 - 2 * fu);
  const sv = fv * fv * (3 - 2 * fv);
  const a = hash2(iu, iv, seed);
  const b = hash2(iu + 1, iv, seed);
  const c = hash2(iu, iv + 1, seed);
  const d = hash2(iu + 1, iv + 1, seed);
  return a + (b - a) * su + (c - a) * sv + (a - b - c + d) * su * sv;
}

/** out = a + (b - a) * t, per channel. */
export function mixInto(out: Float64Array, a: ArrayLike<number>, b: ArrayLike<number>, t: number): Float64Array {
  out[0] = a[0]! + (b[0]! - a[0]!) * t;
  out[1] = a[1]! + (b[1]! - a[1]!) * t;
  out[2] = a[2]! + (b[2]! - a[2]!) * t;
  return out;
}

export function scaleInto(out: Float64Array, k: number): Float64Array {
  out[0] *= k;
  out[1] *= k;
  out[2] *= k;
  return out;
}
