/**
 * The ego prior of a take on disk: reads its depth maps, exo frames and masks, renders them
 * with src/recon/prior.ts, and writes ego_Prior.mp4 (H.264 yuv420p, 30 fps) and optionally PNGs.
 */
import { OutputStage } from './staging.ts';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EgoxDevice } from '../runtime/device.ts';
import type { SplatMode } from '../kernels/render/index.ts';
import { decodeVideo, encodeVideo, probeVideo } from '../io/video.ts';
import { readPng, writePng } from '../io/png.ts';
import { readDepthFrame, type EgoxTakeWithDepth } from '../io/meta.ts';
import type { EgoCalibration } from '../recon/cameras.ts';
import { exoPlacement } from '../recon/pointcloud.ts';
import { pngToMask } from '../recon/dynamic-mask.ts';
import { estimateDynamicMasks, type MotionMaskOptions } from '../recon/dynamic-mask-estimate.ts';
import { InputError } from '../runtime/errors.ts';
import { PRIOR_FPS, PRIOR_FRAMES, PriorFramesError, PriorInputError, renderPriorFrames, type DynamicSource } from '../recon/prior.ts';

export { PRIOR_FPS, PRIOR_FRAMES, PriorInputError, type DynamicSource } from '../recon/prior.ts';

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
export async function loadPriorExoFrames(take: EgoxTakeWithDepth, frames: number): Promise<{ rgb: Uint8Array[]; shape: [number, number] }> {
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
  const exo = await loadPriorExoFrames(take, clip);
  let masks: Uint8Array[] | undefined;
  let dynamicSource: PriorResult['dynamicSource'] = 'none';
  if (options.masksDir !== undefined) {
    masks = readMaskFolder(options.masksDir, clip, take.depthShape, exo.shape);
    dynamicSource = 'masks';
  } else if ((options.dynamic ?? 'auto') === 'auto') {
    masks = estimateDynamicMasks({ depth, depthShape: take.depthShape, rgb: exo.rgb, exoShape: exo.shape }, options.motion);
    dynamicSource = 'estimated';
  }
  const loadMs = performance.now() - t0;
  const r = await renderPriorFrames(
    dev,
    {
      depth,
      depthShape: take.depthShape,
      rgb: exo.rgb,
      exoShape: exo.shape,
      exoIntrinsics: take.exoIntrinsics,
      exoExtrinsics: take.exoExtrinsics,
      egoIntrinsics: take.egoIntrinsics,
      egoExtrinsics: take.egoExtrinsics.slice(0, clip),
      ...(masks ? { masks } : {}),
    },
    indices,
    { egoCalibration: options.egoCalibration, dynamicPoints: options.dynamicPoints, mode: options.mode, onFrame: options.onFrame },
  );
  return {
    frames: r.frames,
    frameIndices: indices,
    size: r.size,
    msPerFrame: r.msPerFrame,
    setupMs: loadMs + r.buildMs,
    pointsPerFrame: r.pointsPerFrame,
    backgroundPoints: r.backgroundPoints,
    dynamicSource,
  };
}

/** Bad --masks folder or mask file. */
export class MaskError extends InputError {
  constructor(message: string) {
    super(message.replace(/\s*\n\s*/g, ' '));
  }
}

/** The mask folder as a whole is unusable; carries the folder so the CLI can name its option. */
export class MaskFolderError extends MaskError {
  constructor(
    readonly folder: string,
    readonly problem: string,
  ) {
    super(`mask folder ${folder}: ${problem}`);
  }
}

/**
 * Reads the first `frames` masks (*.png, sorted by name) of a folder onto the depth grid. A mask
 * may have the depth grid's size or the exo frame's size (then placed like the exo frame; depth
 * pixels outside it count as static).
 */
export function readMaskFolder(dir: string, frames: number, depthShape: [number, number], exoShape: [number, number]): Uint8Array[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    throw new MaskFolderError(dir, `cannot read folder (${(e as NodeJS.ErrnoException).code ?? String(e)}); give a folder of per-frame PNG masks`);
  }
  const files = names.filter((n) => n.toLowerCase().endsWith('.png')).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (files.length < frames) throw new MaskFolderError(dir, `holds ${files.length} PNG files, need one per frame (${frames}), named so they sort in frame order`);
  const [H, W] = depthShape;
  const [EH, EW] = exoShape;
  const place = exoPlacement(H, W, EH, EW);
  return files.slice(0, frames).map((name) => {
    const file = path.join(dir, name);
    const img = readPng(file);
    const m = pngToMask(img);
    if (img.width === W && img.height === H) return m;
    if (place && img.width === EW && img.height === EH) {
      const out = new Uint8Array(H * W);
      for (let r = 0; r < EH; r++) out.set(m.subarray(r * EW, (r + 1) * EW), (r + place.rowOffset) * W + place.colOffset);
      return out;
    }
    throw new MaskError(`${file}: mask is ${img.width}x${img.height}; expected the depth grid ${W}x${H}${place ? ` or the exo frame ${EW}x${EH}` : ''}`);
  });
}

export interface WritePriorOptions {
  /** Also write frame_00000.png ... into `<outDir>/png/`. */
  png?: boolean;
  fps?: number;
}

/** The files writePrior puts in the output folder (PNGs first, the video last). */
export function priorOutputs(frames: number, png: boolean): string[] {
  const names = png ? Array.from({ length: frames }, (_, i) => `png/frame_${String(i).padStart(5, '0')}.png`) : [];
  return [...names, 'ego_Prior.mp4'];
}

/** Writes `<outDir>/ego_Prior.mp4` (and PNGs), all or none (staged); returns the paths written. */
export async function writePrior(outDir: string, result: Pick<PriorResult, 'frames' | 'size'>, opts: WritePriorOptions = {}): Promise<string[]> {
  const names = priorOutputs(result.frames.length, Boolean(opts.png));
  const stage = OutputStage.open(outDir);
  try {
    result.frames.forEach((fr, i) => {
      if (opts.png) writePng(stage.path(names[i]!), result.size, result.size, 3, fr);
    });
    await encodeVideo(stage.path(names[names.length - 1]!), result.frames, { width: result.size, height: result.size, fps: opts.fps ?? PRIOR_FPS });
    return stage.commit();
  } catch (e) {
    stage.abort();
    throw e;
  }
}
