/**
 * Renders a take's ego prior (spec B): the clip's point cloud (static background + per-frame
 * dynamic points) splatted through the Aria fisheye camera at every ego pose, 448x448 RGB per
 * frame, then written as ego_Prior.mp4 (H.264 yuv420p, 30 fps) and optionally PNGs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EgoxDevice } from '../runtime/device.ts';
import { Splatter, unpackRgb, type SplatMode, type SplatSpec } from '../kernels/render/index.ts';
import { decodeVideo, encodeVideo, probeVideo } from '../io/video.ts';
import { writePng } from '../io/png.ts';
import { EGO_RENDER_SIZE, egoCalibrationFromK, FISHEYE_PARAMS, packFisheyeParams, type EgoCalibration } from './cameras.ts';
import { readDepthFrame, type EgoxTakeWithDepth } from './meta.ts';
import { EgoPointCloud, exoPlacement } from './pointcloud.ts';
import { readMaskFolder } from './dynamic-mask.ts';
import { estimateDynamicMasks, type MotionMaskOptions } from './dynamic-mask-estimate.ts';
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

export interface PriorOptions {
  /** Ego camera; default: the meta's ego_intrinsics with the default Aria distortion. */
  egoCalibration?: EgoCalibration;
  /** Render the first N frames (default all 49). The background always uses the whole clip. */
  frames?: number;
  /** Render exactly these frame indices instead (e.g. every 4th for a quick check). */
  frameIndices?: readonly number[];
  /** Folder of per-frame instance-mask PNGs (0 = background). */
  masksDir?: string;
  /** Without masksDir: 'auto' estimates moving pixels from the clip (default), 'none' keeps everything static. */
  dynamic?: DynamicSource;
  /**
   * Draw each frame's masked (dynamic) points at their current place (the renderer without
   * --only_bg). Default false: masked pixels stay holes, as in the shipped Ego-Exo4D priors,
   * which were rendered with --only_bg.
   */
  dynamicPoints?: boolean;
  /** Tuning of the motion estimate ('auto'). */
  motion?: MotionMaskOptions;
  /**
   * 'composite' = the official K-nearest alpha compositing (default); 'zbuffer' = fast preview:
   * the nearest point per pixel, flat colour, 1.5 px points (so it has small holes).
   */
  mode?: SplatMode;
  /** Called with every rendered frame (448*448*3 RGB) as soon as it is read back. */
  onFrame?: (index: number, rgb: Uint8Array) => void;
}

export interface PriorResult {
  /** One 448*448*3 RGB24 frame per rendered frame. */
  frames: Uint8Array[];
  /** Clip frame index of each rendered frame. */
  frameIndices: number[];
  size: number;
  /** Mean render time per frame (dynamic points + splat + readback), ms. */
  msPerFrame: number;
  /** Loading, mask estimation and background building, ms. */
  setupMs: number;
  /** Points splatted per frame (background + that frame's dynamic points). */
  pointsPerFrame: number[];
  backgroundPoints: number;
  /** Where the dynamic masks came from. */
  dynamicSource: 'masks' | 'estimated' | 'none';
}

/** Exo frames on the depth grid: a centre crop when possible (Ego-Exo4D), else scaled to the grid. */
async function loadExoFrames(take: EgoxTakeWithDepth, frames: number): Promise<{ rgb: Uint8Array[]; shape: [number, number] }> {
  const [H, W] = take.depthShape;
  const info = await probeVideo(take.exoPath);
  const place = exoPlacement(H, W, info.height, info.width);
  const v = place
    ? await decodeVideo(take.exoPath, { maxFrames: frames })
    : await decodeVideo(take.exoPath, { width: W, height: H, maxFrames: frames });
  if (v.frames.length < frames) {
    throw new PriorInputError(`${take.exoPath}: has ${v.frames.length} frames but the clip needs ${frames} (one per depth map and ego pose); give a longer video`);
  }
  return { rgb: v.frames, shape: [v.height, v.width] };
}

export async function renderPrior(dev: EgoxDevice, take: EgoxTakeWithDepth, options: PriorOptions = {}): Promise<PriorResult> {
  const t0 = performance.now();
  const clip = Math.min(PRIOR_FRAMES, take.depthFiles.length, take.egoExtrinsics.length);
  const n = options.frames ?? clip;
  if (!(Number.isInteger(n) && n >= 1 && n <= clip)) {
    throw new PriorFramesError(options.frames, clip);
  }
  const indices = options.frameIndices ? [...options.frameIndices] : Array.from({ length: n }, (_, i) => i);
  for (const f of indices) if (!(Number.isInteger(f) && f >= 0 && f < clip)) throw new Error(`renderPrior: frame index ${f} outside 0..${clip - 1}`);
  const depth = Array.from({ length: clip }, (_, f) => readDepthFrame(take, f));
  const exo = await loadExoFrames(take, clip);
  let masks: Uint8Array[] | undefined;
  let dynamicSource: PriorResult['dynamicSource'] = 'none';
  if (options.masksDir !== undefined) {
    masks = readMaskFolder(options.masksDir, clip, take.depthShape, exo.shape);
    dynamicSource = 'masks';
  } else if ((options.dynamic ?? 'auto') === 'auto') {
    masks = estimateDynamicMasks({ depth, depthShape: take.depthShape, rgb: exo.rgb, exoShape: exo.shape }, options.motion);
    dynamicSource = 'estimated';
  }
  const pc = await EgoPointCloud.build(dev, {
    depthShape: take.depthShape,
    depth,
    rgb: exo.rgb,
    exoShape: exo.shape,
    exoIntrinsics: take.exoIntrinsics,
    exoExtrinsics: take.exoExtrinsics,
    ...(masks ? { masks } : {}),
    dynamicPoints: options.dynamicPoints ?? false,
  });
  const calib = options.egoCalibration ?? egoCalibrationFromK(take.egoIntrinsics);
  const S = EGO_RENDER_SIZE;
  const cams = new Float32Array(clip * FISHEYE_PARAMS.FLOATS);
  for (let f = 0; f < clip; f++) packFisheyeParams(calib, take.egoExtrinsics[f]!, S, cams.subarray(f * FISHEYE_PARAMS.FLOATS, (f + 1) * FISHEYE_PARAMS.FLOATS));
  const camT = await dev.upload(cams, [clip, FISHEYE_PARAMS.FLOATS], 'f32');
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
  const frames: Uint8Array[] = [];
  const pointsPerFrame: number[] = [];
  try {
    for (const f of indices) {
      pc.setFrame(f);
      splatter.run(pc.points, pc.slots, camT, f, out, options.mode ?? 'composite');
      const rgb = unpackRgb(await dev.readBytes(out), S * S);
      pointsPerFrame.push(pc.backgroundPoints + (await pc.readDynamicCount()));
      frames.push(rgb);
      options.onFrame?.(f, rgb);
    }
  } finally {
    splatter.release();
    out.release();
    camT.release();
    pc.release();
  }
  const t2 = performance.now();
  return { frames, frameIndices: indices, size: S, msPerFrame: (t2 - t1) / indices.length, setupMs: t1 - t0, pointsPerFrame, backgroundPoints: pc.backgroundPoints, dynamicSource };
}

export interface WritePriorOptions {
  /** Also write frame_00000.png ... into `<outDir>/png/`. */
  png?: boolean;
  fps?: number;
}

/** Writes `<outDir>/ego_Prior.mp4` (and PNGs); returns the paths written. */
export async function writePrior(outDir: string, result: Pick<PriorResult, 'frames' | 'size'>, opts: WritePriorOptions = {}): Promise<string[]> {
  fs.mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  if (opts.png) {
    const dir = path.join(outDir, 'png');
    fs.mkdirSync(dir, { recursive: true });
    result.frames.forEach((fr, i) => {
      const file = path.join(dir, `frame_${String(i).padStart(5, '0')}.png`);
      writePng(file, result.size, result.size, 3, fr);
      written.push(file);
    });
  }
  const mp4 = path.join(outDir, 'ego_Prior.mp4');
  await encodeVideo(mp4, result.frames, { width: result.size, height: result.size, fps: opts.fps ?? PRIOR_FPS });
  written.push(mp4);
  return written;
}
