import { describe, expect, it } from 'vitest';
import { estimateCameraMotion } from '../../src/recon/camera-motion.ts';

const W = 160;
const H = 96;

/** A wide texture of 4x4 random blocks; frame f is the window at (x0 + ox(f), y0 + oy(f)). */
function clip(frames: number, offset: (f: number) => [number, number], box = false): Uint8Array[] {
  let s = 12345;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0), s / 2 ** 32);
  const SW = W + 200;
  const SH = H + 120;
  const blocks = Uint8Array.from({ length: (SW / 4) * (SH / 4) }, () => Math.floor(rnd() * 256));
  return Array.from({ length: frames }, (_, f) => {
    const [ox, oy] = offset(f);
    const rgb = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const inBox = box && x >= 6 * f && x < 6 * f + 30 && y >= 20 && y < 80;
        const v = inBox ? 250 : blocks[Math.floor((y + 60 + oy) / 4) * (SW / 4) + Math.floor((x + 100 + ox) / 4)]!;
        rgb.fill(v, 3 * (y * W + x), 3 * (y * W + x) + 3);
      }
    }
    return rgb;
  });
}

describe('estimateCameraMotion', () => {
  it('finds a known pan and tilt', () => {
    const m = estimateCameraMotion(clip(13, (f) => [2 * f, -f + (f % 2)]), W, H, { every: 4, radius: 16 });
    expect(m.moves).toBe(true);
    for (const [f, s] of m.shifts) expect([s.dx, s.dy]).toEqual([2 * f, -f + (f % 2)]);
  });

  it('a pan past the search radius is still seen (frame to frame)', () => {
    const m = estimateCameraMotion(clip(13, (f) => [6 * f, 0]), W, H);
    expect(m.moves).toBe(true);
  });

  it('a static camera with a person walking through: no shift', () => {
    const m = estimateCameraMotion(clip(13, () => [0, 0], true), W, H);
    expect(m.moves).toBe(false);
    for (const s of m.shifts.values()) expect([s.dx, s.dy]).toEqual([0, 0]);
  });
});
