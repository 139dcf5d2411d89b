// Spatial tiling geometry and blending, on the host: with a "model" that is local (pointwise,
// or nearest upsampling), the tiled result must equal the untiled one exactly, whatever the
// tile layout; and the tile layout must cover the frame with same-size tiles.
import { describe, expect, it } from 'vitest';
import { rampWeights, runTiled, tileStarts, type HostTensor } from '../../src/model/vae/tiling.ts';

function random(shape: [number, number, number, number]): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.random() * 2 - 1;
  return { data, shape };
}

/** Nearest upsampling by an integer factor (a local stand-in for the decoder). */
function upsample(x: HostTensor, k: number): HostTensor {
  const [c, f, h, w] = x.shape;
  const out = new Float32Array(c * f * h * k * w * k);
  for (let p = 0; p < c * f; p++) {
    for (let y = 0; y < h * k; y++) {
      for (let xx = 0; xx < w * k; xx++) out[(p * h * k + y) * w * k + xx] = x.data[(p * h + Math.floor(y / k)) * w + Math.floor(xx / k)]!;
    }
  }
  return { data: out, shape: [c, f, h * k, w * k] };
}

/** Average pooling by k (a local stand-in for the encoder). */
function pool(x: HostTensor, k: number): HostTensor {
  const [c, f, h, w] = x.shape;
  const oh = h / k;
  const ow = w / k;
  const out = new Float32Array(c * f * oh * ow);
  for (let p = 0; p < c * f; p++) {
    for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) out[(p * oh + Math.floor(y / k)) * ow + Math.floor(xx / k)]! += x.data[(p * h + y) * w + xx]! / (k * k);
  }
  return { data: out, shape: [c, f, oh, ow] };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('VAE spatial tiling', () => {
  it('lays out same-size tiles that cover the frame with at least the overlap', () => {
    expect(tileStarts(448, 256, 64)).toEqual([0, 192]);
    expect(tileStarts(784, 256, 64)).toEqual([0, 192, 384, 528]);
    expect(tileStarts(200, 256, 64)).toEqual([0]);
    for (const [total, size, overlap] of [[784, 256, 64], [96, 32, 8], [41, 16, 5]] as const) {
      const s = tileStarts(total, size, overlap);
      expect(s[0]).toBe(0);
      expect(s[s.length - 1]! + size).toBe(total);
      for (let i = 1; i < s.length; i++) expect(s[i - 1]! + size - s[i]!).toBeGreaterThanOrEqual(overlap);
    }
  });

  it('ramps only where a neighbour overlaps', () => {
    const inner = rampWeights(8, 16, 40, 4);
    expect(inner[0]).toBeCloseTo(0.125);
    expect(inner[8]).toBe(1);
    expect(inner[15]).toBeCloseTo(0.125);
    const border = rampWeights(0, 16, 40, 4);
    expect(border[0]).toBe(1);
    expect(border[15]).toBeCloseTo(0.125);
  });

  it('reproduces a local decode-like map exactly (latent tiles -> 8x pixel tiles)', async () => {
    const x = random([2, 3, 7, 11]);
    const whole = upsample(x, 8);
    let calls = 0;
    const { out, tiles } = await runTiled(x, [2, 3, 56, 88], 8, { size: 32, overlap: 16 }, 8, async (t) => {
      calls++;
      expect(t.shape.slice(2)).toEqual([4, 4]); // every tile has the same shape
      return upsample(t, 8);
    });
    expect(tiles).toBe(calls);
    expect(tiles).toBe(tileStarts(7, 4, 2).length * tileStarts(11, 4, 2).length);
    expect(maxAbsDiff(out.data, whole.data)).toBeLessThan(1e-6);
  });

  it('reproduces a local encode-like map exactly (pixel tiles -> latent tiles)', async () => {
    const x = random([3, 2, 48, 72]);
    const whole = pool(x, 8);
    const { out, tiles } = await runTiled(x, [3, 2, 6, 9], 1 / 8, { size: 24, overlap: 8 }, 8, async (t) => pool(t, 8));
    expect(tiles).toBe(tileStarts(48, 24, 8).length * tileStarts(72, 24, 8).length);
    expect(maxAbsDiff(out.data, whole.data)).toBeLessThan(1e-6);
  });

  it('runs once, untiled, when the frame fits in a tile', async () => {
    const x = random([1, 1, 16, 16]);
    const { out, tiles } = await runTiled(x, [1, 1, 16, 16], 1, { size: 256, overlap: 64 }, 8, async (t) => t);
    expect(tiles).toBe(1);
    expect(out.data).toBe(x.data);
  });

  it('rejects tiles that are not multiples of the spatial factor', async () => {
    const x = random([1, 1, 64, 64]);
    await expect(runTiled(x, [1, 1, 8, 8], 1 / 8, { size: 20, overlap: 4 }, 8, async (t) => t)).rejects.toThrow(/multiples of 8/);
  });
});
