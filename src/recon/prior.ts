/**
 * Renders the ego prior (spec B) from a clip held in memory: the point cloud (static background
 * + per-frame dynamic points) splatted through the Aria fisheye camera at every ego pose,
 * 448x448 RGB per frame. Reading the take's files and writing ego_Prior.mp4 is the pipeline's
 * job (src/pipeline/prior.ts); this part also runs in a browser.
 */
import type { EgoxDevice } from '../runtime/device.ts';
import { Splatter, unpackRgb, type SplatMode, type SplatSpec } from '../kernels/render/index.ts';
import { EGO_RENDER_SIZE, egoCalibrationFromK, FISHEYE_PARAMS, packFisheyeParams, type EgoCalibration } from './cameras.ts';
import { EgoPointCloud } from './pointcloud.ts';
import { InputError } from '../runtime/errors.ts';

/** EgoX clips are 49 frames (A.5). */
export const PRIOR_FRAMES = 49;
/** Point size of the renderer: 5 px on the 448 render = 5 * 2 / 448 NDC (B.5). */
export const PRIOR_POINT_RADIUS_PX = 5;
export const PRIOR_POINTS_PER_PIXEL = 20;
export const PRIOR_FPS = 30;
/** Point radius of the z-buffer preview (cost grows with the pixels a point covers). */
export const PREVIEW_POINT_RADIUS_PX = 1.5;

export type DynamicSource = 'auto' | 'none';

/** Bad prior options or inputs (frame counts): one line, exit code 2. */
export class PriorInputError extends InputError {}

/** A frame count the clip cannot give; carries the numbers so the CLI can name its option. */
export class PriorFramesError extends PriorInputError {
  constructor(
    readonly frames: number | undefined,
    readonly clipFrames: number,
  ) {
    super(`frames ${frames}: ${priorFramesProblem(clipFrames)}`);
  }
}

export function priorFramesProblem(clipFrames: number): string {
  return `must be a whole number in 1..${clipFrames} (the clip has ${clipFrames} frames)`;
}

/** A clip on the depth grid: what the renderer needs, already in memory. */
export interface PriorClip {
  /** Per-frame metric z-depth, [H, W] each. */
  depth: readonly Float32Array[];
  depthShape: [number, number];
  /** Per-frame exo RGB24 frames of `exoShape`. */
  rgb: readonly Uint8Array[];
  exoShape: [number, number];
  /** Exo pinhole K (3x3) and world-to-camera [R|t] (3x4), row-major. */
  exoIntrinsics: Float64Array;
  exoExtrinsics: Float64Array;
  /** Ego K (3x3) and per-frame world-to-camera [R|t] (3x4), row-major. */
  egoIntrinsics: Float64Array;
  egoExtrinsics: readonly Float64Array[];
  /** Per-frame dynamic masks on the depth grid (1 = moving), if any. */
  masks?: readonly Uint8Array[];
}

export interface RenderPriorOptions {
  /** Ego camera; default: the clip's ego intrinsics with the default Aria distortion. */
  egoCalibration?: EgoCalibration;
  /** Draw each frame's masked points at their current place (default false: holes, as shipped). */
  dynamicPoints?: boolean;
  /** 'composite' = the official K-nearest alpha compositing (default); 'zbuffer' = fast preview. */
  mode?: SplatMode;
  /** Called with every rendered frame (448*448*3 RGB) as soon as it is read back. */
  onFrame?: (index: number, rgb: Uint8Array) => void;
}

export interface RenderedPrior {
  /** One 448*448*3 RGB24 frame per rendered frame. */
  frames: Uint8Array[];
  size: number;
  /** Points splatted per frame (background + that frame's dynamic points). */
  pointsPerFrame: number[];
  backgroundPoints: number;
  /** Building the point cloud, ms. */
  buildMs: number;
  /** Mean render time per frame (dynamic points + splat + readback), ms. */
  msPerFrame: number;
}

/** Renders the prior at clip frames `indices`. */
export async function renderPriorFrames(dev: EgoxDevice, clip: PriorClip, indices: readonly number[], options: RenderPriorOptions = {}): Promise<RenderedPrior> {
  const t0 = performance.now();
  const frames = clip.depth.length;
  const pc = await EgoPointCloud.build(dev, {
    depthShape: clip.depthShape,
    depth: [...clip.depth],
    rgb: [...clip.rgb],
    exoShape: clip.exoShape,
    exoIntrinsics: clip.exoIntrinsics,
    exoExtrinsics: clip.exoExtrinsics,
    ...(clip.masks ? { masks: [...clip.masks] } : {}),
    dynamicPoints: options.dynamicPoints ?? false,
  });
  const calib = options.egoCalibration ?? egoCalibrationFromK(clip.egoIntrinsics);
  const S = EGO_RENDER_SIZE;
  const cams = new Float32Array(frames * FISHEYE_PARAMS.FLOATS);
  for (let f = 0; f < frames; f++) packFisheyeParams(calib, clip.egoExtrinsics[f]!, S, cams.subarray(f * FISHEYE_PARAMS.FLOATS, (f + 1) * FISHEYE_PARAMS.FLOATS));
  const camT = await dev.upload(cams, [frames, FISHEYE_PARAMS.FLOATS], 'f32');
  const spec: SplatSpec = {
    width: S,
    height: S,
    radius: (PRIOR_POINT_RADIUS_PX * 2) / S,
    pointsPerPixel: PRIOR_POINTS_PER_PIXEL,
    zbufferRadius: (PREVIEW_POINT_RADIUS_PX * 2) / S,
  };
  const splatter = new Splatter(dev, spec, pc.slots);
  const out = dev.empty([S * S], 'u32', 'prior-frame');
  await dev.sync();
  const t1 = performance.now();
  const rendered: Uint8Array[] = [];
  const pointsPerFrame: number[] = [];
  try {
    for (const f of indices) {
      pc.setFrame(f);
      splatter.run(pc.points, pc.slots, camT, f, out, options.mode ?? 'composite');
      const rgb = unpackRgb(await dev.readBytes(out), S * S);
      pointsPerFrame.push(pc.backgroundPoints + (await pc.readDynamicCount()));
      rendered.push(rgb);
      options.onFrame?.(f, rgb);
    }
  } finally {
    splatter.release();
    out.release();
    camT.release();
    pc.release();
  }
  const t2 = performance.now();
  return { frames: rendered, size: S, pointsPerFrame, backgroundPoints: pc.backgroundPoints, buildMs: t1 - t0, msPerFrame: (t2 - t1) / indices.length };
}
