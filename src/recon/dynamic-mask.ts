/**
 * Per-frame dynamic masks over the depth grid (1 = moving / instance pixel, 0 = static
 * background), the input that keeps people and other moving things out of the static background
 * (spec B.2/B.3). Either read from instance-mask PNGs (src/pipeline/prior.ts reads the folder: 0 = background, any other value = an
 * instance; gray, palette index, or any RGB channel non-zero) or estimated from the clip itself
 * (estimateDynamicMasks, see dynamic-mask-estimate.ts).
 */
import type { PngImage } from '../io/png.ts';

/** Non-zero = instance: any colour channel for RGB(A) (alpha ignored), the value/index otherwise. */
export function pngToMask(img: PngImage): Uint8Array {
  const n = img.width * img.height;
  const out = new Uint8Array(n);
  const ch = img.channels;
  // gray+alpha and RGBA: ignore the alpha channel, it says nothing about the instance id.
  const colour = ch === 2 ? 1 : ch === 4 ? 3 : ch;
  for (let p = 0; p < n; p++) {
    let v = 0;
    for (let c = 0; c < colour; c++) v |= img.data[p * ch + c]!;
    out[p] = v !== 0 ? 1 : 0;
  }
  return out;
}
