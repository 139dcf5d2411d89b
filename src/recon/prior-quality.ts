/**
 * Comparing a rendered ego prior with a reference one (the official ego_Prior.mp4): PSNR over
 * whole frames and IoU of the non-black coverage (a pixel is covered when any channel > 10/255,
 * which ignores codec noise in the black background), plus a side-by-side picture for notes.
 */

/** PSNR in dB of two uint8 images of the same size (whole frame, all channels). */
export function psnr(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`psnr: ${a.length} vs ${b.length} values`);
  let se = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    se += d * d;
  }
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/** Covered = any channel > threshold (RGB24). */
export function coverage(rgb: Uint8Array, threshold = 10): Uint8Array {
  const n = rgb.length / 3;
  const out = new Uint8Array(n);
  for (let p = 0; p < n; p++) out[p] = rgb[3 * p]! > threshold || rgb[3 * p + 1]! > threshold || rgb[3 * p + 2]! > threshold ? 1 : 0;
  return out;
}

/** Intersection over union of the coverage of two RGB24 frames (1 when both are empty). */
export function coverageIoU(a: Uint8Array, b: Uint8Array, threshold = 10): number {
  const ca = coverage(a, threshold);
  const cb = coverage(b, threshold);
  let inter = 0;
  let union = 0;
  for (let p = 0; p < ca.length; p++) {
    inter += ca[p]! & cb[p]!;
    union += ca[p]! | cb[p]!;
  }
  return union === 0 ? 1 : inter / union;
}

export interface PriorComparison {
  /** Per compared frame. */
  psnr: number[];
  iou: number[];
  meanPsnr: number;
  meanIoU: number;
}

/** Frame-by-frame comparison of ours[i] with reference[frames[i]] (default: the same index). */
export function comparePriors(ours: readonly Uint8Array[], reference: readonly Uint8Array[], frames?: readonly number[]): PriorComparison {
  const idx = frames ?? ours.map((_, i) => i);
  if (idx.length !== ours.length) throw new Error(`comparePriors: ${ours.length} frames for ${idx.length} indices`);
  const p: number[] = [];
  const u: number[] = [];
  ours.forEach((fr, i) => {
    const ref = reference[idx[i]!];
    if (!ref) throw new Error(`comparePriors: reference has no frame ${idx[i]}`);
    p.push(psnr(fr, ref));
    u.push(coverageIoU(fr, ref));
  });
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / Math.max(v.length, 1);
  return { psnr: p, iou: u, meanPsnr: mean(p), meanIoU: mean(u) };
}

/** Tiles equally sized RGB24 images into a grid (rows of columns) with a gap; returns the RGB24 canvas. */
export function tileImages(rows: readonly (readonly Uint8Array[])[], w: number, h: number, gap = 4): { width: number; height: number; rgb: Uint8Array } {
  const cols = Math.max(...rows.map((r) => r.length));
  const width = cols * w + (cols - 1) * gap;
  const height = rows.length * h + (rows.length - 1) * gap;
  const rgb = new Uint8Array(width * height * 3).fill(255);
  rows.forEach((row, ri) =>
    row.forEach((img, ci) => {
      if (img.length !== w * h * 3) throw new Error(`tileImages: image ${ri},${ci} is not ${w}x${h}x3`);
      const x0 = ci * (w + gap);
      const y0 = ri * (h + gap);
      for (let y = 0; y < h; y++) rgb.set(img.subarray(y * w * 3, (y + 1) * w * 3), ((y0 + y) * width + x0) * 3);
    }),
  );
  return { width, height, rgb };
}
