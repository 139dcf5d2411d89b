// The 36-channel EgoX conditioning against a literal transcription of the reference's steps
// (egox-official.md C.4): a pixel-frame mask [F, H, W] with ego columns and frames 1.. zeroed,
// frame 0 repeated 4 times, reshaped to [T, 4, H, W] and moved to channels.
import { describe, expect, it } from 'vitest';
import { buildConditioning, concatWidth, sliceWidth, type Latent } from '../../src/pipeline/latent-layout.ts';
import { sliceFrames } from '../../src/pipeline/latent-frames.ts';
import { SeededRandom } from '../../src/pipeline/random.ts';

function randomLatent(shape: [number, number, number, number], seed: number): Latent {
  return { shape, data: new SeededRandom(seed).normal(shape.reduce((a, b) => a * b, 1)) };
}

/** The reference's mask steps, one by one, at latent resolution. */
function referenceMask(pixelFrames: number, h: number, w: number, exoCols: number): Float32Array {
  const m = new Float32Array(pixelFrames * h * w).fill(1); // ones [1, 1, F, H, W]
  for (let f = 0; f < pixelFrames; f++) for (let y = 0; y < h; y++) for (let x = exoCols; x < w; x++) m[(f * h + y) * w + x] = 0; // ego columns
  for (let f = 1; f < pixelFrames; f++) m.fill(0, f * h * w, (f + 1) * h * w); // no last image
  const padded = new Float32Array((pixelFrames + 3) * h * w); // frame 0 four times, then 1..F-1
  for (let r = 0; r < 4; r++) padded.set(m.subarray(0, h * w), r * h * w);
  padded.set(m.subarray(h * w), 4 * h * w);
  const T = (pixelFrames + 3) / 4; // view [T, 4, H, W], then transpose to [4, T, H, W]
  const out = new Float32Array(4 * T * h * w);
  for (let t = 0; t < T; t++) for (let c = 0; c < 4; c++) out.set(padded.subarray((t * 4 + c) * h * w, (t * 4 + c + 1) * h * w), (c * T + t) * h * w);
  return out;
}

describe('EgoX conditioning', () => {
  it('mask, latents and condition follow the reference construction (odd sizes)', () => {
    for (const [T, h, wx, we] of [[13, 6, 10, 6], [2, 3, 5, 3], [1, 4, 7, 4]] as const) {
      const exo = randomLatent([16, T, h, wx], 1);
      const prior = randomLatent([16, T, h, we], 2);
      const noise = new SeededRandom(3).normal(16 * T * h * we);
      const c = buildConditioning(exo, prior, noise);
      expect(c.egoCols).toBe(we);
      expect(c.mask.shape).toEqual([4, T, h, wx + we]);
      expect(Array.from(c.mask.data)).toEqual(Array.from(referenceMask(1 + 4 * (T - 1), h, wx + we, wx)));
      // latents = [exo | noise], condition = [exo | prior], element by element.
      for (let ch = 0; ch < 16; ch++)
        for (let t = 0; t < T; t++)
          for (let y = 0; y < h; y++)
            for (let x = 0; x < wx + we; x++) {
              const i = ((ch * T + t) * h + y) * (wx + we) + x;
              const e = x < wx ? exo.data[((ch * T + t) * h + y) * wx + x]! : undefined;
              const k = x >= wx ? ((ch * T + t) * h + y) * we + (x - wx) : -1;
              expect(c.latents.data[i]).toBe(x < wx ? e : noise[k]);
              expect(c.condition.data[i]).toBe(x < wx ? e : prior.data[k]);
            }
    }
  });

  it('slicing undoes concatenation, along width and frames', () => {
    const a = randomLatent([3, 4, 5, 6], 4);
    const b = randomLatent([3, 4, 5, 2], 5);
    const ab = concatWidth(a, b);
    expect(sliceWidth(ab, 0, 6)).toEqual(a);
    expect(sliceWidth(ab, 6, 8)).toEqual(b);
    const f1 = sliceFrames(a, 1, 3);
    expect(f1.shape).toEqual([3, 2, 5, 6]);
    expect(f1.data[0]).toBe(a.data[30]);
    expect(() => sliceWidth(a, 4, 9)).toThrow(/outside/);
    expect(() => buildConditioning(a, randomLatent([3, 4, 4, 2], 6), new Float32Array(48))).toThrow(/differ/);
  });

  it('seeded noise is reproducible, standard normal, and differs between seeds', () => {
    const x = new SeededRandom(42).normal(200_001);
    expect(new SeededRandom(42).normal(200_001)).toEqual(x);
    expect(new SeededRandom(43).normal(16)).not.toEqual(x.subarray(0, 16));
    const mean = x.reduce((s, v) => s + v, 0) / x.length;
    const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.02);
    expect(x.every(Number.isFinite)).toBe(true);
    expect(() => new SeededRandom(-1)).toThrow(/seed/);
  });
});
