// Point splatting of the ego prior (spec B.4/B.5): project points through the renderer's Aria
// fisheye camera, keep for every pixel the K nearest-in-z points whose squared NDC distance to the
// pixel centre is < r^2 (PyTorch3D's rule), composite them front to back with weight 1 - d^2/r^2
// on black, clamp, apply the near-black cut-off and quantise to uint8.
//
// Passes (all on the GPU, no CPU loop over points):
//   1. project  (one thread per point): NDC + view z, and per-tile counts (atomicAdd);
//   2. scan     (one workgroup): exclusive prefix sum of the tile counts -> list offsets;
//   3. scatter  (one thread per point): point indices and their z bits into their tiles' lists
//               (atomic cursor: the order inside a list is arbitrary);
//   4. sort     (one thread per tile): the list by (z, point index), so ties are deterministic
//               whatever order the atomics produced; writes contiguous records (ndc, colour);
//   5. raster   (one workgroup per TxT tile, one thread per pixel): walk the sorted records,
//               composite the first K inside the pixel's disc, stop.
// Variant 'array' replaces 4-5 by a per-pixel K-list insertion over the unsorted list (no sort
// pass; slower on lavapipe, kept as the peer in bench/splat.bench.ts and as a cross-check).
// The z-buffer preview mode keeps only the nearest point per pixel, flat-coloured, with its own
// (small) point radius: atomicMin on the depth bits (positive floats order like their u32 bits),
// then atomicMin on the index among the points at that depth, then a resolve pass.
//
// Points: [N, 4] u32 = (x, y, z) world float bits + colour word r | g<<8 | b<<16 | valid<<24.
// Cameras: [F, 32] f32 packed by packFisheyeParams (src/recon/cameras.ts); the projection below
// mirrors projectFisheyePacked step by step. Output: [H*W] u32 = r | g<<8 | b<<16.
// Pixel centres follow PyTorch3D's non-square NDC: x_j = (W - 2j - 1)/m, y_i = (H - 2i - 1)/m,
// m = min(W, H) (for a square image: x_j = 1 - (2j+1)/W as in B.4).

import type { EgoxDevice } from '../../runtime/device.ts';
import type { KernelProgram } from '../../runtime/program.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { type SplatSpec, CAM_FLOATS, WG_POINTS, tileOf, splatTiles, splatListCapacity, checkSpec } from './splat-common.ts';
import { splatProjectProgram, splatScanProgram, splatScatterProgram } from './splat-binning.ts';
import { splatClearProgram, splatRasterProgram, splatSortProgram } from './splat-raster.ts';
import { zbufferProgram, zbufferResolveProgram } from './zbuffer.ts';

export { splatListCapacity, splatTiles, type RasterVariant, type SplatSpec } from './splat-common.ts';
export { splatProjectProgram, splatScanProgram, splatScatterProgram } from './splat-binning.ts';
export { splatClearProgram, splatRasterProgram, splatSortProgram } from './splat-raster.ts';
export { zbufferProgram, zbufferResolveProgram } from './zbuffer.ts';

export type SplatMode = 'composite' | 'zbuffer';

/** Scratch buffers of one splatter, reused across frames (pooled tensors). */
export class Splatter {
  readonly spec: SplatSpec;
  readonly capacity: number;
  private readonly proj: Tensor;
  private readonly tileCount: Tensor;
  private readonly offsets: Tensor;
  private readonly cursor: Tensor;
  private readonly pairs: Tensor;
  private readonly pairs2: Tensor;
  private readonly rec: Tensor;
  private readonly zbuf: Tensor;
  private readonly ibuf: Tensor;

  /**
   * `capacity` = the most points one call will splat. `variant` picks the rasteriser:
   * 'presorted' (sort tile lists, then walk them; default) or 'array' (per-pixel K-list insertion).
   */
  constructor(private readonly dev: EgoxDevice, spec: SplatSpec, capacity: number, readonly variant: 'presorted' | 'array' = 'presorted') {
    checkSpec(spec);
    this.spec = { ...spec, tile: tileOf(spec) };
    this.capacity = capacity;
    const tiles = splatTiles(spec).count;
    const pixels = spec.width * spec.height;
    this.proj = dev.empty([Math.max(capacity, 1), 4], 'u32', 'splat-proj');
    this.tileCount = dev.empty([tiles], 'u32', 'splat-tile-count');
    this.offsets = dev.empty([tiles + 1], 'u32', 'splat-offsets');
    this.cursor = dev.empty([tiles], 'u32', 'splat-cursor');
    const cap = splatListCapacity(spec, capacity);
    this.pairs = dev.empty([cap, 2], 'u32', 'splat-pairs');
    // merge-sort scratch and sorted records: presorted variant only
    this.pairs2 = dev.empty([variant === 'presorted' ? cap : 1, 2], 'u32', 'splat-pairs2');
    this.rec = dev.empty([variant === 'presorted' ? cap : 1, 4], 'u32', 'splat-records');
    this.zbuf = dev.empty([pixels], 'u32', 'zbuffer-depth');
    this.ibuf = dev.empty([pixels], 'u32', 'zbuffer-index');
  }

  /**
   * Records the splat of points[0..n) seen by camera `camIndex` of `cameras` into `out`
   * ([H*W] u32, r | g<<8 | b<<16). Nothing runs until the device flushes.
   */
  run(points: Tensor, n: number, cameras: Tensor, camIndex: number, out: Tensor, mode: SplatMode = 'composite'): Tensor {
    const { dev, spec } = this;
    if (n > this.capacity) throw new Error(`splat: ${n} points exceed the splatter's capacity ${this.capacity}`);
    if (points.numel < n * 4) throw new Error(`splat: points tensor holds ${points.numel / 4} points, n = ${n}`);
    if ((camIndex + 1) * CAM_FLOATS > cameras.numel) throw new Error(`splat: camera ${camIndex} not in a tensor of ${cameras.numel / CAM_FLOATS}`);
    if (out.numel !== spec.width * spec.height) throw new Error(`splat: out has ${out.numel} elements, expected ${spec.width * spec.height}`);
    const pointGroups = Math.ceil(n / WG_POINTS);
    const pointDispatch = <P extends KernelProgram>(p: P): P => ({ ...p, dispatch: pointGroups });
    if (mode === 'composite') {
      dev.run(splatClearProgram(this.tileCount.numel), [this.tileCount], { value: 0 });
      dev.run(pointDispatch(splatProjectProgram({ ...spec, countTiles: true })), [points, cameras, this.proj, this.tileCount], { n, camIndex });
      dev.run(splatScanProgram(spec), [this.tileCount, this.offsets, this.cursor]);
      dev.run(pointDispatch(splatScatterProgram(spec)), [this.proj, this.cursor, this.pairs], { n });
      if (this.variant === 'presorted') {
        dev.run(splatSortProgram(spec), [this.offsets, this.pairs, this.pairs2, this.proj, this.rec]);
        dev.run(splatRasterProgram(spec, 'presorted'), [this.rec, this.offsets, out]);
      } else {
        dev.run(splatRasterProgram(spec, 'array'), [this.proj, this.offsets, this.pairs, out]);
      }
    } else {
      dev.run(splatClearProgram(this.zbuf.numel), [this.zbuf], { value: 0xffffffff });
      dev.run(splatClearProgram(this.ibuf.numel), [this.ibuf], { value: 0xffffffff });
      dev.run(pointDispatch(splatProjectProgram({ ...spec, countTiles: false })), [points, cameras, this.proj], { n, camIndex });
      dev.run(pointDispatch(zbufferProgram(spec, 'depth')), [this.proj, this.zbuf], { n });
      dev.run(pointDispatch(zbufferProgram(spec, 'index')), [this.proj, this.zbuf, this.ibuf], { n });
      dev.run(zbufferResolveProgram(spec), [this.proj, this.ibuf, out]);
    }
    return out;
  }

  release(): void {
    for (const t of [this.proj, this.tileCount, this.offsets, this.cursor, this.pairs, this.pairs2, this.rec, this.zbuf, this.ibuf]) t.release();
  }
}

/** Unpacks [H*W] u32 pixels (r | g<<8 | b<<16) to RGB24 bytes. */
export function unpackRgb(packed: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    out[3 * p] = packed[4 * p]!;
    out[3 * p + 1] = packed[4 * p + 1]!;
    out[3 * p + 2] = packed[4 * p + 2]!;
  }
  return out;
}
