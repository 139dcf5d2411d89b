/**
 * The ego-prior point cloud on the GPU (spec B.2/B.3): the static background (mean over the clip
 * of static, reliable depth and colour, subsampled, unprojected with the rescaled exo intrinsics of
 * A.4, moved to the world by inv(E_exo)) followed by one slot region for the current frame's
 * dynamic points. The point buffer has a fixed layout, [background cells | dynamic cells], with
 * empty cells zeroed, so the splatter needs no compaction and point order (which breaks depth
 * ties) matches the official "background first, then dynamic" concatenation.
 */
import type { EgoxDevice } from '../runtime/device.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { backgroundPointsProgram, dynamicPointsProgram, meanBackgroundProgram, subsampledGrid, type PointCloudSpec } from '../kernels/render/index.ts';
import { splatClearProgram } from '../kernels/render/index.ts';
import { invert4x4, rescaleExoIntrinsics, to4x4, type Pinhole } from './cameras.ts';

export interface PointCloudInputs {
  /** [H, W] of every depth map. */
  depthShape: [number, number];
  /** Metric z-depth per frame, row-major [H*W]. */
  depth: readonly Float32Array[];
  /** Exo RGB24 frames, [exoH*exoW*3] each; at least as many as depth frames. */
  rgb: readonly Uint8Array[];
  /** [exoH, exoW]. */
  exoShape: [number, number];
  /** Exo K (3x3 row-major) in the camera's native grid (rescaled to the depth grid as A.4). */
  exoIntrinsics: ArrayLike<number>;
  /** Exo world-to-camera 3x4 row-major. */
  exoExtrinsics: ArrayLike<number>;
  /** Per-frame dynamic masks over the depth grid ([H*W], non-zero = dynamic); none = all static. */
  masks?: readonly Uint8Array[];
  /** Row/column subsampling (default 2, ViPE's spatial_subsample). */
  step?: number;
  /**
   * Append the current frame's masked points after the background (B.3; default true when masks
   * are given). false = the renderer's --only_bg: masked pixels are holes.
   */
  dynamicPoints?: boolean;
}

/**
 * Where the exo frame sits in the depth grid: same height and a narrower (or equal) width with an
 * even margin = a centre crop (Ego-Exo4D: 784 inside 796, offset 6). Anything else: null (the
 * caller decodes the video at the depth grid size instead).
 */
export function exoPlacement(depthH: number, depthW: number, exoH: number, exoW: number): { rowOffset: number; colOffset: number } | null {
  if (exoH !== depthH || exoW > depthW || (depthW - exoW) % 2 !== 0) return null;
  return { rowOffset: 0, colOffset: (depthW - exoW) / 2 };
}

/** [camera-to-world 3x4 (12), fx, fy, cx, cy] as the kernels read it. */
export function unprojectGeometry(intr: Pinhole, exoExtrinsics: ArrayLike<number>): Float32Array {
  const c2w = invert4x4(to4x4(exoExtrinsics));
  const g = new Float32Array(16);
  for (let i = 0; i < 12; i++) g[i] = c2w[i]!;
  g[12] = intr.fx;
  g[13] = intr.fy;
  g[14] = intr.cx;
  g[15] = intr.cy;
  return g;
}

export class EgoPointCloud {
  /** [backgroundSlots + dynamicSlots, 4] u32 points (see src/kernels/render/pointcloud.ts). */
  readonly points: Tensor;
  readonly backgroundSlots: number;
  readonly dynamicSlots: number;
  /** Background points kept (filled by build()). */
  backgroundPoints = 0;
  private readonly counter: Tensor;

  private constructor(
    private readonly dev: EgoxDevice,
    readonly spec: PointCloudSpec,
    private readonly depth: Tensor,
    private readonly rgb: Tensor,
    private readonly masks: Tensor | null,
    private readonly geo: Tensor,
    dynamicPoints: boolean,
  ) {
    const g = subsampledGrid(spec);
    this.backgroundSlots = g.count;
    this.dynamicSlots = spec.masks && dynamicPoints ? g.count : 0;
    this.points = dev.empty([this.backgroundSlots + this.dynamicSlots, 4], 'u32', 'pointcloud');
    this.counter = dev.empty([2], 'u32', 'pointcloud-counter');
  }

  /** Uploads the clip and builds the static background on the GPU. */
  static async build(dev: EgoxDevice, inp: PointCloudInputs): Promise<EgoPointCloud> {
    const [H, W] = inp.depthShape;
    const [EH, EW] = inp.exoShape;
    const F = inp.depth.length;
    if (F === 0) throw new Error('point cloud: no depth frames');
    if (inp.rgb.length < F) throw new Error(`point cloud: ${inp.rgb.length} exo frames for ${F} depth frames`);
    if (inp.masks && inp.masks.length < F) throw new Error(`point cloud: ${inp.masks.length} masks for ${F} depth frames`);
    const place = exoPlacement(H, W, EH, EW);
    if (!place) throw new Error(`point cloud: exo frames ${EW}x${EH} are not a centre crop of the ${W}x${H} depth grid; decode the video at ${W}x${H}`);
    const spec: PointCloudSpec = {
      frames: F,
      height: H,
      width: W,
      exoHeight: EH,
      exoWidth: EW,
      rowOffset: place.rowOffset,
      colOffset: place.colOffset,
      step: inp.step ?? 2,
      masks: inp.masks !== undefined,
    };
    const depth = dev.empty([F, H, W], 'f32', 'pc-depth');
    for (let f = 0; f < F; f++) {
      const d = inp.depth[f]!;
      if (d.length !== H * W) throw new Error(`point cloud: depth frame ${f} has ${d.length} values, expected ${H}x${W}`);
      await dev.write(depth, new Uint8Array(d.buffer, d.byteOffset, d.byteLength), f * H * W * 4);
    }
    const frameBytes = EH * EW * 3;
    const rgb = dev.empty([Math.ceil((F * frameBytes) / 4)], 'u32', 'pc-rgb');
    const rgbBytes = new Uint8Array(rgb.numel * 4);
    for (let f = 0; f < F; f++) {
      const fr = inp.rgb[f]!;
      if (fr.length !== frameBytes) throw new Error(`point cloud: exo frame ${f} has ${fr.length} bytes, expected ${EW}x${EH}x3`);
      rgbBytes.set(fr, f * frameBytes);
    }
    await dev.write(rgb, rgbBytes);
    let masks: Tensor | null = null;
    if (inp.masks) {
      const bytes = new Uint8Array(Math.ceil((F * H * W) / 4) * 4);
      for (let f = 0; f < F; f++) {
        const m = inp.masks[f]!;
        if (m.length !== H * W) throw new Error(`point cloud: mask ${f} has ${m.length} values, expected ${H}x${W}`);
        bytes.set(m, f * H * W);
      }
      masks = dev.empty([bytes.length / 4], 'u32', 'pc-masks');
      await dev.write(masks, bytes);
    }
    const geo = await dev.upload(unprojectGeometry(rescaleExoIntrinsics(inp.exoIntrinsics, W, H), inp.exoExtrinsics), [16], 'f32');
    const pc = new EgoPointCloud(dev, spec, depth, rgb, masks, geo, inp.dynamicPoints ?? true);
    await pc.buildBackground();
    return pc;
  }

  private async buildBackground(): Promise<void> {
    const { dev, spec } = this;
    const HW = spec.height * spec.width;
    const meanDepth = dev.empty([HW], 'f32', 'pc-mean-depth');
    const meanRgb = dev.empty([HW], 'u32', 'pc-mean-rgb');
    const mask = this.masks ? [this.masks] : [];
    dev.run(meanBackgroundProgram(spec), [this.depth, this.rgb, ...mask, meanDepth, meanRgb]);
    dev.run(splatClearProgram(2), [this.counter], { value: 0 });
    dev.run(backgroundPointsProgram(spec), [meanDepth, meanRgb, this.geo, this.points, this.counter]);
    this.backgroundPoints = new Uint32Array((await dev.readBytes(this.counter)).buffer)[0]!;
    meanDepth.release();
    meanRgb.release();
  }

  /** Number of point slots the splatter must take (background + dynamic region). */
  get slots(): number {
    return this.backgroundSlots + this.dynamicSlots;
  }

  /**
   * Records frame `f`'s dynamic points into the dynamic region (no-op without them). The
   * count of kept dynamic points becomes readable with `readDynamicCount()` after the next sync.
   */
  setFrame(f: number): void {
    if (!this.masks || this.dynamicSlots === 0) return;
    if (f < 0 || f >= this.spec.frames) throw new Error(`point cloud: frame ${f} out of range 0..${this.spec.frames - 1}`);
    this.dev.run(splatClearProgram(2), [this.counter], { value: 0 });
    this.dev.run(dynamicPointsProgram(this.spec), [this.depth, this.rgb, this.masks, this.geo, this.points, this.counter], {
      frame: f,
      outOffset: this.backgroundSlots,
    });
  }

  /** Dynamic points kept by the last setFrame (0 without dynamic points). */
  async readDynamicCount(): Promise<number> {
    if (!this.masks || this.dynamicSlots === 0) return 0;
    return new Uint32Array((await this.dev.readBytes(this.counter)).buffer)[1]!;
  }

  /** Reads the point buffer (tests / export): [slots*4] u32. */
  async readPoints(): Promise<Uint32Array> {
    const b = await this.dev.readBytes(this.points);
    return new Uint32Array(b.buffer, 0, this.slots * 4);
  }

  release(): void {
    for (const t of [this.points, this.counter, this.depth, this.rgb, this.geo]) t.release();
    this.masks?.release();
  }
}
