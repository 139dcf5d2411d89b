// Spatial tiling for frames too large for the device: the clip is cut into overlapping tiles
// of one size (the last tile of a row or column is moved back to end at the border, so every
// tile has the same shape and shares the same graphs), each tile is processed on its own,
// and the results are blended with linear ramps across the overlaps, normalised by the sum of
// the weights. Host arrays are [C, F, H, W] f32.
import { InputError } from '../../runtime/errors.ts';

export interface TileOptions {
  /** Tile height and width in pixels (a multiple of 8). */
  size: number;
  /** Overlap between neighbouring tiles in pixels (a multiple of 8, less than size). */
  overlap: number;
}

/** diffusers' AutoencoderKLWan defaults: 256-pixel tiles every 192 pixels. */
export const DEFAULT_TILE: TileOptions = { size: 256, overlap: 64 };

/** Start offsets of tiles of `size` covering [0, total) with at least `overlap` overlap. */
export function tileStarts(total: number, size: number, overlap: number): number[] {
  if (total <= size) return [0];
  const stride = size - overlap;
  const starts: number[] = [];
  for (let p = 0; p + size < total; p += stride) starts.push(p);
  starts.push(total - size);
  return starts;
}

/** Blend weight of each position of a tile: ramps up/down over `ramp` where a neighbour overlaps. */
export function rampWeights(start: number, size: number, total: number, ramp: number): Float32Array {
  const w = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    let v = 1;
    if (start > 0 && ramp > 0) v = Math.min(v, (i + 0.5) / ramp);
    if (start + size < total && ramp > 0) v = Math.min(v, (size - i - 0.5) / ramp);
    w[i] = v;
  }
  return w;
}

export interface HostTensor {
  data: Float32Array;
  /** [C, F, H, W] */
  shape: [number, number, number, number];
}

/** Copies the window [y0, y0 + h) x [x0, x0 + w) of every channel and frame. */
export function cropSpatial(t: HostTensor, y0: number, x0: number, h: number, w: number): HostTensor {
  const [c, f, H, W] = t.shape;
  const out = new Float32Array(c * f * h * w);
  for (let p = 0; p < c * f; p++) {
    for (let y = 0; y < h; y++) {
      const src = (p * H + y0 + y) * W + x0;
      out.set(t.data.subarray(src, src + w), (p * h + y) * w);
    }
  }
  return { data: out, shape: [c, f, h, w] };
}

/** Accumulates weighted tiles into an output of a fixed shape, then normalises. */
export class TileBlender {
  private readonly sum: Float32Array;
  private readonly weight: Float32Array;

  constructor(readonly shape: [number, number, number, number]) {
    this.sum = new Float32Array(shape[0] * shape[1] * shape[2] * shape[3]);
    this.weight = new Float32Array(shape[2] * shape[3]);
  }

  add(tile: HostTensor, y0: number, x0: number, ramp: number): void {
    const [c, f, H, W] = this.shape;
    const [tc, tf, h, w] = tile.shape;
    if (tc !== c || tf !== f) throw new Error(`tile [${tile.shape.join(', ')}] does not match output [${this.shape.join(', ')}]`);
    const wy = rampWeights(y0, h, H, ramp);
    const wx = rampWeights(x0, w, W, ramp);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) this.weight[(y0 + y) * W + x0 + x]! += wy[y]! * wx[x]!;
    for (let p = 0; p < c * f; p++) {
      for (let y = 0; y < h; y++) {
        const dst = (p * H + y0 + y) * W + x0;
        const src = (p * h + y) * w;
        for (let x = 0; x < w; x++) this.sum[dst + x]! += wy[y]! * wx[x]! * tile.data[src + x]!;
      }
    }
  }

  result(): HostTensor {
    const [c, f, H, W] = this.shape;
    const out = new Float32Array(this.sum.length);
    for (let p = 0; p < c * f; p++) {
      for (let i = 0; i < H * W; i++) out[p * H * W + i] = this.sum[p * H * W + i]! / this.weight[i]!;
    }
    return { data: out, shape: this.shape };
  }
}

export class TileError extends InputError {}

/**
 * Runs `run` on the whole input [C, F, h, w], or, when `tile` is given and the input is larger
 * than a tile, on overlapping tiles blended into an output of `outShape`. `scale` maps input
 * positions to output positions (1/8 encoding pixels to latents, 8 decoding). The tile size
 * and overlap are in pixels (multiples of `align`, the VAE's spatial factor).
 */
export async function runTiled(
  x: HostTensor,
  outShape: [number, number, number, number],
  scale: number,
  tile: TileOptions | undefined,
  align: number,
  run: (x: HostTensor) => Promise<HostTensor>,
): Promise<{ out: HostTensor; tiles: number }> {
  const [, , h, w] = x.shape;
  // Tile geometry is in pixels; the decoder's input is in latents.
  const perPixel = scale < 1 ? 1 : 1 / scale;
  if (!tile || (h <= tile.size * perPixel && w <= tile.size * perPixel)) return { out: await run(x), tiles: 1 };
  if (tile.size % align !== 0 || tile.overlap % align !== 0 || tile.overlap < 0 || tile.overlap >= tile.size) {
    throw new TileError(`tile ${tile.size} with overlap ${tile.overlap}: both must be multiples of ${align}, the overlap smaller than the tile`);
  }
  const size = tile.size * perPixel;
  const overlap = tile.overlap * perPixel;
  const th = Math.min(size, h);
  const tw = Math.min(size, w);
  const blender = new TileBlender(outShape);
  let tiles = 0;
  for (const y0 of tileStarts(h, th, overlap)) {
    for (const x0 of tileStarts(w, tw, overlap)) {
      const out = await run(cropSpatial(x, y0, x0, th, tw));
      blender.add(out, y0 * scale, x0 * scale, overlap * scale);
      tiles++;
    }
  }
  return { out: blender.result(), tiles };
}
