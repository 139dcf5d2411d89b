// The keyframe curve on known answers: it passes through the keys, reproduces uniform motion and
// (between inner keys, whose tangents are the exact three-point derivative) any quadratic, is C1,
// and is held constant outside the keys.
import { describe, expect, it } from 'vitest';
import { KeyframeSpline } from '../../src/recon/keyframe-spline.ts';

/** Strictly increasing random key times with uneven gaps. */
function randomTimes(n: number): number[] {
  const t = [Math.random() * 3];
  for (let i = 1; i < n; i++) t.push(t[i - 1]! + 0.5 + Math.random() * 4);
  return t;
}

describe('KeyframeSpline', () => {
  it('passes through every key and is constant outside them', () => {
    const times = randomTimes(6);
    const values = times.map(() => [Math.random(), Math.random() * 10 - 5, Math.random()]);
    const s = new KeyframeSpline(times, values);
    times.forEach((t, i) => s.at(t).forEach((v, c) => expect(v).toBeCloseTo(values[i]![c]!, 12)));
    expect(s.at(times[0]! - 2)).toEqual(values[0]);
    expect(s.at(times[5]! + 7)).toEqual(values[5]);
    expect(s.velocity(times[5]! + 7)).toEqual([0, 0, 0]);
  });

  it('reproduces straight uniform motion exactly, whatever the key spacing', () => {
    const times = randomTimes(5);
    const p0 = [Math.random(), Math.random(), Math.random()];
    const v = [Math.random() - 0.5, Math.random() - 0.5, Math.random() - 0.5];
    const line = (t: number) => p0.map((x, c) => x + v[c]! * t);
    const s = new KeyframeSpline(times, times.map(line));
    for (let t = times[0]!; t <= times[4]!; t += 0.37) {
      s.at(t).forEach((x, c) => expect(x).toBeCloseTo(line(t)[c]!, 10));
      s.velocity(t).forEach((x, c) => expect(x).toBeCloseTo(v[c]!, 10));
    }
  });

  it('reproduces a quadratic between inner keys (Bessel tangents are exact there)', () => {
    const times = randomTimes(6);
    const a = Math.random() * 2 - 1;
    const b = Math.random() * 2 - 1;
    const q = (t: number) => [a * t * t + b * t + 0.3];
    const s = new KeyframeSpline(times, times.map(q));
    for (let t = times[1]!; t <= times[4]!; t += 0.11) expect(s.at(t)[0]).toBeCloseTo(q(t)[0]!, 9);
  });

  it('is C1: the velocity just before and just after an inner key agree', () => {
    const times = randomTimes(5);
    const s = new KeyframeSpline(times, times.map(() => [Math.random() * 4, Math.random() * 4]));
    for (const t of times.slice(1, -1)) {
      const before = s.velocity(t - 1e-7);
      const after = s.velocity(t + 1e-7);
      before.forEach((x, c) => expect(Math.abs(x - after[c]!)).toBeLessThan(1e-5));
    }
  });

  it('a single key gives a constant', () => {
    const s = new KeyframeSpline([7], [[1, 2, 3]]);
    expect(s.at(0)).toEqual([1, 2, 3]);
    expect(s.at(20)).toEqual([1, 2, 3]);
  });

  it('rejects key times that do not increase', () => {
    expect(() => new KeyframeSpline([0, 4, 4], [[0], [1], [2]])).toThrow(/increase/);
  });
});
