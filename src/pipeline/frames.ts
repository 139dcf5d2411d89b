// RGB24 frames <-> the VAE's [3, F, H, W] tensors in [-1, 1], and frame compositing.
import type { Latent } from './latent-layout.ts';

/** uint8 RGB frames (width*height*3 each) -> [3, F, H, W] with x / 255 * 2 - 1 (diffusers' preprocess). */
export function framesToTensor(frames: readonly Uint8Array[], width: number, height: number): Latent {
  const F = frames.length;
  const plane = width * height;
  const out = new Float32Array(3 * F * plane);
  frames.forEach((rgb, f) => {
    if (rgb.length !== plane * 3) throw new Error(`frame ${f} has ${rgb.length} bytes, expected ${width}x${height}x3`);
    for (let c = 0; c < 3; c++) {
      const base = (c * F + f) * plane;
      for (let i = 0; i < plane; i++) out[base + i] = (rgb[i * 3 + c]! / 255) * 2 - 1;
    }
  });
  return { shape: [3, F, height, width], data: out };
}

/**
 * [3, F, H, W] in [-1, 1] -> uint8 RGB frames: (x + 1) / 2 clamped to [0, 1], times 255,
 * truncated (the reference's uint8(clip(x * 255))).
 */
export function tensorToFrames(t: Latent): Uint8Array[] {
  const [c, F, h, w] = t.shape;
  if (c !== 3) throw new Error(`tensorToFrames: ${c} channels, expected 3`);
  const plane = h * w;
  const frames: Uint8Array[] = [];
  for (let f = 0; f < F; f++) {
    const rgb = new Uint8Array(plane * 3);
    for (let ch = 0; ch < 3; ch++) {
      const base = (ch * F + f) * plane;
      for (let i = 0; i < plane; i++) {
        const v = Math.min(1, Math.max(0, (t.data[base + i]! + 1) / 2));
        rgb[i * 3 + ch] = Math.floor(v * 255);
      }
    }
    frames.push(rgb);
  }
  return frames;
}

/** An RGB24 image. */
export interface RgbImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

/** Images of equal height placed left to right. */
export function hconcat(images: readonly RgbImage[]): RgbImage {
  const height = images[0]!.height;
  if (images.some((im) => im.height !== height)) throw new Error(`hconcat: heights differ (${images.map((im) => im.height).join(', ')})`);
  const width = images.reduce((s, im) => s + im.width, 0);
  const rgb = new Uint8Array(width * height * 3);
  let x0 = 0;
  for (const im of images) {
    for (let y = 0; y < height; y++) rgb.set(im.rgb.subarray(y * im.width * 3, (y + 1) * im.width * 3), (y * width + x0) * 3);
    x0 += im.width;
  }
  return { width, height, rgb };
}

/** Images of equal width placed top to bottom. */
export function vconcat(images: readonly RgbImage[]): RgbImage {
  const width = images[0]!.width;
  if (images.some((im) => im.width !== width)) throw new Error(`vconcat: widths differ (${images.map((im) => im.width).join(', ')})`);
  const height = images.reduce((s, im) => s + im.height, 0);
  const rgb = new Uint8Array(width * height * 3);
  let y0 = 0;
  for (const im of images) {
    rgb.set(im.rgb, y0 * width * 3);
    y0 += im.height;
  }
  return { width, height, rgb };
}

/** Resize by averaging the source pixels each output pixel covers (box filter; fine for thumbnails). */
export function resizeBox(im: RgbImage, width: number, height: number): RgbImage {
  const rgb = new Uint8Array(width * height * 3);
  const sx = im.width / width;
  const sy = im.height / height;
  for (let y = 0; y < height; y++) {
    const y0 = Math.floor(y * sy);
    const y1 = Math.max(y0 + 1, Math.floor((y + 1) * sy));
    for (let x = 0; x < width; x++) {
      const x0 = Math.floor(x * sx);
      const x1 = Math.max(x0 + 1, Math.floor((x + 1) * sx));
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) s += im.rgb[(yy * im.width + xx) * 3 + c]!;
        rgb[(y * width + x) * 3 + c] = Math.round(s / ((y1 - y0) * (x1 - x0)));
      }
    }
  }
  return { width, height, rgb };
}

/** A solid image (gaps and missing tiles in the contact sheet). */
export function solid(width: number, height: number, grey: number): RgbImage {
  return { width, height, rgb: new Uint8Array(width * height * 3).fill(grey) };
}
