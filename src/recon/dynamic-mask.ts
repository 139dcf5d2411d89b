/**
 * Per-frame dynamic masks over the depth grid (1 = moving / instance pixel, 0 = static
 * background), the input that keeps people and other moving things out of the static background
 * (spec B.2/B.3). Either read from instance-mask PNGs (0 = background, any other value = an
 * instance; gray, palette index, or any RGB channel non-zero) or estimated from the clip itself
 * (estimateDynamicMasks, see dynamic-mask-estimate.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readPng, type PngImage } from '../io/png.ts';
import { exoPlacement } from './pointcloud.ts';
import { InputError } from '../runtime/errors.ts';

/** Bad --masks folder or mask file. */
export class MaskError extends InputError {
  constructor(message: string) {
    super(message.replace(/\s*\n\s*/g, ' '));
  }
}

/** The mask folder as a whole is unusable; carries the folder so the CLI can name its option. */
export class MaskFolderError extends MaskError {
  constructor(
    readonly folder: string,
    readonly problem: string,
  ) {
    super(`mask folder ${folder}: ${problem}`);
  }
}

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

/**
 * Reads the first `frames` masks (*.png, sorted by name) of a folder onto the depth grid. A mask
 * may have the depth grid's size or the exo frame's size (then placed like the exo frame; depth
 * pixels outside it count as static).
 */
export function readMaskFolder(dir: string, frames: number, depthShape: [number, number], exoShape: [number, number]): Uint8Array[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    throw new MaskFolderError(dir, `cannot read folder (${(e as NodeJS.ErrnoException).code ?? String(e)}); give a folder of per-frame PNG masks`);
  }
  const files = names.filter((n) => n.toLowerCase().endsWith('.png')).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (files.length < frames) throw new MaskFolderError(dir, `holds ${files.length} PNG files, need one per frame (${frames}), named so they sort in frame order`);
  const [H, W] = depthShape;
  const [EH, EW] = exoShape;
  const place = exoPlacement(H, W, EH, EW);
  return files.slice(0, frames).map((name) => {
    const file = path.join(dir, name);
    const img = readPng(file);
    const m = pngToMask(img);
    if (img.width === W && img.height === H) return m;
    if (place && img.width === EW && img.height === EH) {
      const out = new Uint8Array(H * W);
      for (let r = 0; r < EH; r++) out.set(m.subarray(r * EW, (r + 1) * EW), (r + place.rowOffset) * W + place.colOffset);
      return out;
    }
    throw new MaskError(`${file}: mask is ${img.width}x${img.height}; expected the depth grid ${W}x${H}${place ? ` or the exo frame ${EW}x${EH}` : ''}`);
  });
}
