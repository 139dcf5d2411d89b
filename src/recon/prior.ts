/**
 * Renders the ego prior (spec B) from a clip held in memory: the point cloud (static background
 * + per-frame dynamic points) splatted through the Aria fisheye camera at every ego pose,
 * 448x448 RGB per frame. Reading the take's files and writing ego_Prior.mp4 is the pipeline's
 * job (src/pipeline/prior.ts); this part also runs in a browser.
 */
import type { EgoxDevice } from '../runtime/device.ts';
import type { SplatMode } from '../kernels/render/index.ts';
import { EGO_RENDER_SIZE, egoCalibrationFromK, type EgoCalibration } from './cameras.ts';
import { PriorRenderer } from './prior-renderer.ts';
import { InputError } from '../runtime/errors.ts';

/** EgoX clips are 49 frames (A.5). */
export const PRIOR_FRAMES = 49;
export const PRIOR_FPS = 30;
export { PRIOR_POINT_RADIUS_PX, PRIOR_POINTS_PER_PIXEL, PREVIEW_POINT_RADIUS_PX } from './prior-renderer.ts';

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
  const renderer = await PriorRenderer.create(dev, {
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
  const t1 = performance.now();
  const rendered: Uint8Array[] = [];
  const pointsPerFrame: number[] = [];
  const backgroundPoints = renderer.cloud.backgroundPoints;
  try {
    for (const f of indices) {
      const rgb = await renderer.render(f, calib, clip.egoExtrinsics[f]!, options.mode ?? 'composite');
      pointsPerFrame.push(await renderer.pointsRendered());
      rendered.push(rgb);
      options.onFrame?.(f, rgb);
    }
  } finally {
    renderer.release();
  }
  const t2 = performance.now();
  return { frames: rendered, size: EGO_RENDER_SIZE, pointsPerFrame, backgroundPoints, buildMs: t1 - t0, msPerFrame: (t2 - t1) / indices.length };
}
