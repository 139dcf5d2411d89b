/**
 * Smooth interpolation of values given at a few key times (frame indices): a piecewise cubic
 * Hermite curve whose tangent at each inner key is the Catmull-Rom / Bessel tangent for uneven
 * spacing (the time-weighted average of the two neighbouring slopes), one-sided at the end keys.
 * It passes through every key, is C1 in time, reproduces straight uniform motion exactly (so a
 * steady walk keeps its speed), and is held constant before the first and after the last key.
 */

/** Key times must be strictly increasing; values are vectors of one length. */
export class KeyframeSpline {
  private readonly tangents: number[][];

  constructor(
    private readonly times: readonly number[],
    private readonly values: readonly (readonly number[])[],
  ) {
    if (times.length === 0 || times.length !== values.length) throw new Error(`KeyframeSpline: ${times.length} times for ${values.length} values`);
    for (let i = 1; i < times.length; i++) {
      if (!(times[i]! > times[i - 1]!)) throw new Error(`KeyframeSpline: key times must increase (${times[i - 1]} then ${times[i]})`);
    }
    this.tangents = times.map((_, i) => this.tangentAt(i));
  }

  private slope(i: number): number[] {
    const dt = this.times[i + 1]! - this.times[i]!;
    return this.values[i + 1]!.map((v, c) => (v - this.values[i]![c]!) / dt);
  }

  private tangentAt(i: number): number[] {
    const n = this.times.length;
    const dim = this.values[0]!.length;
    if (n === 1) return new Array<number>(dim).fill(0);
    if (i === 0) return this.slope(0);
    if (i === n - 1) return this.slope(n - 2);
    const hPrev = this.times[i]! - this.times[i - 1]!;
    const hNext = this.times[i + 1]! - this.times[i]!;
    const sPrev = this.slope(i - 1);
    const sNext = this.slope(i);
    return sPrev.map((s, c) => (hNext * s + hPrev * sNext[c]!) / (hPrev + hNext));
  }

  /** Segment index and local parameter of time t, or null outside the keys (constant there). */
  private locate(t: number): { i: number; s: number; h: number } | null {
    const T = this.times;
    if (T.length === 1 || t <= T[0]! || t >= T[T.length - 1]!) return null;
    let i = 0;
    while (t > T[i + 1]!) i++;
    const h = T[i + 1]! - T[i]!;
    return { i, s: (t - T[i]!) / h, h };
  }

  /** The interpolated value at time t. */
  at(t: number): number[] {
    const seg = this.locate(t);
    if (!seg) return [...this.values[t <= this.times[0]! ? 0 : this.times.length - 1]!];
    const { i, s, h } = seg;
    const s2 = s * s;
    const s3 = s2 * s;
    const h00 = 2 * s3 - 3 * s2 + 1;
    const h10 = s3 - 2 * s2 + s;
    const h01 = -2 * s3 + 3 * s2;
    const h11 = s3 - s2;
    const p0 = this.values[i]!;
    const p1 = this.values[i + 1]!;
    const m0 = this.tangents[i]!;
    const m1 = this.tangents[i + 1]!;
    return p0.map((v, c) => h00 * v + h10 * h * m0[c]! + h01 * p1[c]! + h11 * h * m1[c]!);
  }

  /** d(value)/dt at time t; inside the keys only (0 where the curve is held constant). */
  velocity(t: number): number[] {
    const seg = this.locate(t);
    if (!seg) {
      // At exactly a key the tangent is the curve's; beyond the keys the value is constant.
      const k = this.times.indexOf(t);
      return k >= 0 ? [...this.tangents[k]!] : new Array<number>(this.values[0]!.length).fill(0);
    }
    const { i, s, h } = seg;
    const s2 = s * s;
    const d00 = (6 * s2 - 6 * s) / h;
    const d10 = 3 * s2 - 4 * s + 1;
    const d01 = (-6 * s2 + 6 * s) / h;
    const d11 = 3 * s2 - 2 * s;
    const p0 = this.values[i]!;
    const p1 = this.values[i + 1]!;
    const m0 = this.tangents[i]!;
    const m1 = this.tangents[i + 1]!;
    return p0.map((v, c) => d00 * v + d10 * m0[c]! + d01 * p1[c]! + d11 * m1[c]!);
  }
}
