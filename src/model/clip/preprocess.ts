// Host side of the CLIP preprocessing: output sizes and the bicubic weight tables (the
// resampling itself runs on the GPU, src/kernels/render/image-preprocess.ts).

import { bicubicTable } from '../../kernels/render/index.ts';
import { ClipModelError, type ClipPreprocessConfig } from './config.ts';

/** HF's shortest-edge resize: the short side becomes `short`, the long side int(short * long / short_in). */
export function resizedSize(h: number, w: number, short: number): { height: number; width: number } {
  if (Math.min(h, w) === short) return { height: h, width: w };
  if (w <= h) return { height: Math.trunc((short * h) / w), width: short };
  return { height: short, width: Math.trunc((short * w) / h) };
}

export interface PreprocessPlan {
  inHeight: number;
  inWidth: number;
  resized: { height: number; width: number };
  top: number;
  left: number;
  cropHeight: number;
  cropWidth: number;
  /** Weight tables in PIL's 8-bit fixed point. */
  eightBit: boolean;
  /** Horizontal pass: crop columns of the resized image. */
  x: { taps: number; table: Float32Array };
  /** Vertical pass: crop rows. */
  y: { taps: number; table: Float32Array };
}

export function preprocessPlan(inHeight: number, inWidth: number, p: ClipPreprocessConfig, eightBit: boolean): PreprocessPlan {
  if (!(inHeight >= 1 && inWidth >= 1)) throw new ClipModelError(`image of ${inWidth}x${inHeight} pixels is empty`);
  const resized = resizedSize(inHeight, inWidth, p.shortestEdge);
  if (resized.height < p.cropHeight || resized.width < p.cropWidth) {
    throw new ClipModelError(`the ${inWidth}x${inHeight} image resizes to ${resized.width}x${resized.height}, smaller than the ${p.cropWidth}x${p.cropHeight} crop`);
  }
  const top = Math.floor((resized.height - p.cropHeight) / 2);
  const left = Math.floor((resized.width - p.cropWidth) / 2);
  return {
    inHeight,
    inWidth,
    resized,
    top,
    left,
    cropHeight: p.cropHeight,
    cropWidth: p.cropWidth,
    eightBit,
    x: bicubicTable(inWidth, resized.width, left, p.cropWidth, eightBit),
    y: bicubicTable(inHeight, resized.height, top, p.cropHeight, eightBit),
  };
}

/** Interleaved 8-bit RGB [H, W, 3] -> planar f32 [3, H, W] of the same 0..255 values. */
export function rgb8ToPlanar(rgb: Uint8Array, width: number, height: number): Float32Array {
  if (rgb.length !== width * height * 3) throw new ClipModelError(`image data has ${rgb.length} bytes; ${width}x${height} RGB needs ${width * height * 3}`);
  const n = width * height;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    out[i] = rgb[3 * i]!;
    out[n + i] = rgb[3 * i + 1]!;
    out[2 * n + i] = rgb[3 * i + 2]!;
  }
  return out;
}

/**
 * A float frame, planar [3, H, W] in [0, 1] (EgoX's decoded first frame, (x + 1) / 2), as the
 * Hugging Face processor turns it into 8 bits before PIL: trunc(float32(x * 255)), clamped.
 */
export function unitFloatToRgb8(planar: Float32Array, width: number, height: number): { width: number; height: number; rgb: Uint8Array } {
  const n = width * height;
  if (planar.length !== 3 * n) throw new ClipModelError(`frame has ${planar.length} values; ${width}x${height} RGB needs ${3 * n}`);
  const rgb = new Uint8Array(3 * n);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) rgb[3 * i + c] = Math.min(255, Math.max(0, Math.trunc(Math.fround(planar[c * n + i]! * 255))));
  }
  return { width, height, rgb };
}
