/**
 * A point cloud built once and rendered from any camera, one frame at a time: what `egox prior`
 * does for every pose (renderPriorFrames in prior.ts runs this) and what the studio page does
 * live for the pose being edited, with the same kernels and the same numbers. `view` renders the
 * same points through any other fisheye camera and size (the studio's orbit view).
 */
import type { EgoxDevice } from '../runtime/device.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { Splatter, unpackRgb, type SplatMode, type SplatSpec } from '../kernels/render/index.ts';
import { EGO_RENDER_SIZE, FISHEYE_PARAMS, packFisheyeParams, type EgoCalibration } from './cameras.ts';
import { EgoPointCloud, type PointCloudInputs } from './pointcloud.ts';

/** Point size of the renderer: 5 px on the 448 render = 5 * 2 / 448 NDC (B.5). */
export const PRIOR_POINT_RADIUS_PX = 5;
export const PRIOR_POINTS_PER_PIXEL = 20;
/** Point radius of the z-buffer preview (cost grows with the pixels a point covers). */
export const PREVIEW_POINT_RADIUS_PX = 1.5;

/** The prior's splat spec at `size` pixels (EgoX: 448). */
export function priorSplatSpec(size = EGO_RENDER_SIZE): SplatSpec {
  return {
    width: size,
    height: size,
    radius: (PRIOR_POINT_RADIUS_PX * 2) / size,
    pointsPerPixel: PRIOR_POINTS_PER_PIXEL,
    zbufferRadius: (PREVIEW_POINT_RADIUS_PX * 2) / size,
  };
}

interface Target {
  splatter: Splatter;
  out: Tensor;
  size: number;
}

export class PriorRenderer {
  private readonly targets = new Map<number, Target>();
  private readonly camera: Tensor;

  private constructor(
    private readonly dev: EgoxDevice,
    readonly cloud: EgoPointCloud,
  ) {
    this.camera = dev.empty([1, FISHEYE_PARAMS.FLOATS], 'f32', 'prior-camera');
  }

  /** Uploads the clip and builds the background point cloud (see EgoPointCloud.build). */
  static async create(dev: EgoxDevice, clip: PointCloudInputs): Promise<PriorRenderer> {
    const r = new PriorRenderer(dev, await EgoPointCloud.build(dev, clip));
    r.target(EGO_RENDER_SIZE);
    await dev.sync();
    return r;
  }

  private target(size: number): Target {
    let t = this.targets.get(size);
    if (!t) {
      t = { splatter: new Splatter(this.dev, priorSplatSpec(size), this.cloud.slots), out: this.dev.empty([size * size], 'u32', 'prior-frame'), size };
      this.targets.set(size, t);
    }
    return t;
  }

  /**
   * Clip frame `frame` (its dynamic points, if any) seen through `calib` at world-to-camera
   * `w2c` (3x4 row-major): size*size RGB24 bytes.
   */
  async render(frame: number, calib: EgoCalibration, w2c: ArrayLike<number>, mode: SplatMode = 'composite', size = EGO_RENDER_SIZE): Promise<Uint8Array> {
    const t = this.target(size);
    await this.dev.write(this.camera, new Uint8Array(packFisheyeParams(calib, w2c, size).buffer));
    this.cloud.setFrame(frame);
    t.splatter.run(this.cloud.points, this.cloud.slots, this.camera, 0, t.out, mode);
    return unpackRgb(await this.dev.readBytes(t.out), size * size);
  }

  /** Points splatted by the last render (background + that frame's dynamic points). */
  async pointsRendered(): Promise<number> {
    return this.cloud.backgroundPoints + (await this.cloud.readDynamicCount());
  }

  release(): void {
    for (const t of this.targets.values()) {
      t.splatter.release();
      t.out.release();
    }
    this.targets.clear();
    this.camera.release();
    this.cloud.release();
  }
}
