import { describe, expect, it } from 'vitest';
import { alignDepthScales, type DepthClip } from '../../src/recon/depth-align.ts';

const W = 72;
const H = 44;
const F = 13;

/** Deterministic uniform numbers in [0, 1) (xorshift32). */
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/**
 * A textured scene over a wider strip than the frame: depth varies smoothly, colour per pixel at
 * random. A box (a person) walks across it nearer to the camera. Each frame is the network's
 * depth times a known wrong scale `truth[f]`; `pan` shifts the view by that many pixels a frame.
 */
function scene(pan: number, seed: number): { clip: DepthClip; truth: number[]; background: Uint8Array[] } {
  const rnd = random(seed);
  const SW = W + pan * F + 1;
  const depth = Float64Array.from({ length: SW * H }, (_, p) => 3 + Math.sin((p % SW) / 7) + 0.6 * Math.cos(Math.floor(p / SW) / 5));
  const colour = Uint8Array.from({ length: SW * H * 3 }, () => Math.floor(rnd() * 256));
  const truth = Array.from({ length: F }, () => Math.exp((rnd() - 0.5) * 0.4));
  const clip = { width: W, height: H, depth: [] as Float32Array[], valid: [] as Uint8Array[], rgb: [] as Uint8Array[] };
  const background: Uint8Array[] = [];
  for (let f = 0; f < F; f++) {
    const d = new Float32Array(W * H);
    const valid = new Uint8Array(W * H);
    const rgb = new Uint8Array(W * H * 3);
    const bg = new Uint8Array(W * H);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const p = y * W + x;
        const s = y * SW + x + pan * f;
        const inBox = x >= 4 * f && x < 4 * f + 14 && y >= 10 && y < 34;
        const sky = y < 4;
        d[p] = (inBox ? 1.5 : depth[s]!) / truth[f]!;
        valid[p] = sky ? 0 : 1;
        for (let c = 0; c < 3; c++) rgb[3 * p + c] = inBox ? 40 * c : colour[3 * s + c]!;
        bg[p] = !inBox && !sky ? 1 : 0;
      }
    }
    clip.depth.push(d);
    clip.valid.push(valid);
    clip.rgb.push(rgb);
    background.push(bg);
  }
  return { clip, truth, background };
}

describe('alignDepthScales', () => {
  it('recovers known per-frame scale errors on a static camera while a box walks across', () => {
    for (const seed of [1, 7, 42]) {
      const { clip, truth, background } = scene(0, seed);
      const r = alignDepthScales(clip);
      expect(r.cameraMoves).toBe(false);
      // scales[f] / truth[f] must be one constant c for every frame: the background no longer breathes.
      const ratios = r.scales.map((s, f) => s / truth[f]!);
      for (const q of ratios) expect(Math.abs(q / ratios[0]! - 1)).toBeLessThan(1e-6);
      // Normalised to a geometric median of 1.
      const sorted = r.scales.map(Math.log).sort((a, b) => a - b);
      expect(Math.abs(sorted[F >> 1]!)).toBeLessThan(1e-12);
      // Aligned background depth is the same in every frame.
      for (let f = 1; f < F; f++) {
        for (let p = 0; p < W * H; p += 37) {
          if (!background[f]![p] || !background[0]![p]) continue;
          const a = clip.depth[f]![p]! * r.scales[f]!;
          const b = clip.depth[0]![p]! * r.scales[0]!;
          expect(Math.abs(a / b - 1)).toBeLessThan(1e-5);
        }
      }
      expect(Math.min(...r.staticFraction)).toBeGreaterThan(0.8);
    }
  });

  it('says the camera moves when the whole view pans', () => {
    const { clip } = scene(2, 5);
    const r = alignDepthScales(clip);
    expect(r.cameraMoves).toBe(true);
    expect(Math.max(...r.staticFraction.slice(1, -1))).toBeLessThan(0.5);
  });

  it('a still clip keeps its scale', () => {
    const { clip } = scene(0, 3);
    const same: DepthClip = { ...clip, depth: clip.depth.map(() => clip.depth[0]!), valid: clip.valid.map(() => clip.valid[0]!), rgb: clip.rgb.map(() => clip.rgb[0]!) };
    const r = alignDepthScales(same);
    for (const s of r.scales) expect(s).toBeCloseTo(1, 12);
    expect(r.cameraMoves).toBe(false);
  });
});
