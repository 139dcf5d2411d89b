// Frame ranges of [C, F, H, W] latents.
import type { Latent } from './latent-layout.ts';

/** Frames [from, to) of [C, F, H, W]. */
export function sliceFrames(x: Latent, from: number, to: number): Latent {
  const [c, f, h, w] = x.shape;
  if (!(0 <= from && from < to && to <= f)) throw new Error(`sliceFrames: frames ${from}..${to} outside ${f}`);
  const plane = h * w;
  const n = to - from;
  const out = new Float32Array(c * n * plane);
  for (let ch = 0; ch < c; ch++) out.set(x.data.subarray((ch * f + from) * plane, (ch * f + to) * plane), ch * n * plane);
  return { shape: [c, n, h, w], data: out };
}
