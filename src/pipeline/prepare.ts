// `egox prepare` as a library call: plain videos -> EgoX takes in the official layout under one
// folder (videos/<take>/exo.mp4, depth_maps/<take>/NNNNN.npy, meta.json). The depth grid is the
// exo frame itself (784x448, like the official in-the-wild examples) and the intrinsics are
// written for it with the principal point at the grid centre, which is where both egox and the
// official infer.py put it (egox-official.md A.4), so both read the take the same way. The exo
// camera is the world (identity extrinsics). Until the user places the head (`egox trajectory`),
// every ego pose sits at the exo camera looking the same way. Outputs are staged and moved into
// place only when every take is done.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeNpy } from '../io/npy.ts';
import { mergedMetaText } from '../io/meta-write.ts';
import { MogeModel, type MogeOptions } from '../model/moge/index.ts';
import { ariaW2c } from '../recon/aria-pose.ts';
import { estimateCameraMotion } from '../recon/camera-motion.ts';
import { encodeVideo, probeVideo } from '../io/video.ts';
import type { EgoxDevice } from '../runtime/device.ts';
import { estimateClipDepth } from './prepare-depth.ts';
import { EXO_HEIGHT, EXO_WIDTH, PrepareInputError, readExoClip, type ExoClip } from './prepare-frames.ts';
import { OutputStage } from './staging.ts';

export interface PrepareOptions {
  videos: string[];
  out: string;
  /** Take name (one video only); default the video's file name. */
  take?: string;
  startSeconds?: number;
  frames?: number;
  fps?: number;
  prompt?: string;
  /** MoGe-2 model.pt (or a safetensors folder with config.json). */
  depthModel: string;
  /** fx, fy, cx, cy in pixels of the input video. */
  intrinsics?: [number, number, number, number];
  numTokens?: number;
  /** Network on every k-th frame, linear in between (default 1). */
  depthEvery?: number;
  load?: MogeOptions;
  onProgress?: (e: PrepareProgress) => void;
  onNote?: (line: string) => void;
}

export type PrepareProgress =
  | { type: 'take'; take: string; index: number; count: number; detail: string }
  | { type: 'depth'; take: string; done: number; total: number; elapsedMs: number };

export interface PreparedTake {
  take: string;
  video: string;
  frames: number;
  fps: number;
  intrinsics: number[][];
  focalSource: 'given' | 'estimated' | 'fallback';
  cameraMoves: boolean;
  /** Per-frame depth scale applied by the static-background alignment. */
  scales: number[];
  staticFraction: number[];
  keyframes: number;
  numTokens: number;
  networkMsPerFrame: number;
}

export interface PrepareResult {
  takes: PreparedTake[];
  metaPath: string;
  files: string[];
}

export const PREPARE_DEFAULTS = Object.freeze({ frames: 49, startSeconds: 0, depthEvery: 1 });

/** The official ego camera intrinsics (Aria, used as-is on 448x448; egox-official.md A.2). */
const EGO_INTRINSICS = [[150, 0, 255.5], [0, 150, 255.5], [0, 0, 1]];
const PLACEHOLDER_PROMPT =
  '[Exo view]\n**Scene Overview:** A scene seen by a static camera.\n**Action Analysis:** A person moves in the scene.\n\n[Ego view]\n**Scene Overview:** The same scene seen through the eyes of the person.\n**Action Analysis:** The view follows the head of the person.';

const TAKE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The video's file name; an official take's exo.mp4 gives its folder's name. */
function takeNameOf(video: string): string {
  const full = path.resolve(video);
  let base = path.basename(full).replace(/\.[^.]+$/, '');
  if (base === 'exo') base = path.basename(path.dirname(full));
  return base.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._-]+/, '') || 'take';
}

/** Everything the user typed, checked before the device, the weights or any decoding. */
function checkOptions(o: PrepareOptions): { names: string[]; frames: number; start: number; every: number } {
  if (o.videos.length === 0) throw new PrepareInputError('no VIDEO given; give a video file or a folder of PNG frames');
  if (o.take !== undefined && o.videos.length > 1) throw new PrepareInputError(`--take names one take, but ${o.videos.length} videos were given; leave it out (each take is named after its video)`);
  if (o.take !== undefined && !TAKE_NAME.test(o.take)) throw new PrepareInputError(`--take '${o.take}': use letters, digits, '.', '_' and '-' (it becomes a folder name)`);
  const names = o.take !== undefined ? [o.take] : o.videos.map(takeNameOf);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new PrepareInputError(`two videos give the take name '${dup}'; rename one of them (takes are named after their video files)`);
  for (const v of o.videos) if (!fs.existsSync(v)) throw new PrepareInputError(`${v}: not found; give a video file or a folder of PNG frames`);
  const frames = o.frames ?? PREPARE_DEFAULTS.frames;
  if (!(Number.isInteger(frames) && frames >= 2)) throw new PrepareInputError(`--frames ${frames}: give a whole number of at least 2 (EgoX uses 49)`);
  const start = o.startSeconds ?? PREPARE_DEFAULTS.startSeconds;
  if (!(Number.isFinite(start) && start >= 0)) throw new PrepareInputError(`--start ${start}: give the seconds to skip, 0 or more`);
  if (o.fps !== undefined && !(Number.isFinite(o.fps) && o.fps > 0)) throw new PrepareInputError(`--fps ${o.fps}: give a positive frame rate`);
  const every = o.depthEvery ?? PREPARE_DEFAULTS.depthEvery;
  if (!(Number.isInteger(every) && every >= 1)) throw new PrepareInputError(`--depth-every ${every}: give a whole number of at least 1`);
  if (o.intrinsics && !o.intrinsics.every((x) => Number.isFinite(x) && x > 0)) throw new PrepareInputError(`--intrinsics ${o.intrinsics.join(',')}: give fx,fy,cx,cy as four positive numbers in pixels of the input video`);
  OutputStage.check(o.out);
  // A meta.json already in --out must be one egox can add to.
  mergedMetaText(path.join(o.out, 'meta.json'), []);
  return { names, frames, start, every };
}

/** The user's intrinsics (input-video pixels) on the 784x448 grid. */
function intrinsicsOnGrid(k: [number, number, number, number], clip: ExoClip): { fx: number; fy: number; cx: number; cy: number } {
  const sx = clip.crop.scaledWidth / clip.source.width;
  const sy = clip.crop.scaledHeight / clip.source.height;
  // Pixel centres at integers: continuous coordinate c + 0.5 scales.
  return { fx: k[0] * sx, fy: k[1] * sy, cx: (k[2] + 0.5) * sx - 0.5 - clip.crop.x, cy: (k[3] + 0.5) * sy - 0.5 - clip.crop.y };
}

/** A static ego camera at the exo camera, looking along it (sideways Aria convention). */
function placeholderEgoPoses(frames: number): number[][][] {
  const w2c = ariaW2c([0, 0, 0], [0, 0, 1], [1, 0, 0]);
  const m = [0, 1, 2].map((r) => Array.from(w2c.subarray(4 * r, 4 * r + 4), (x) => x + 0));
  return Array.from({ length: frames }, () => m.map((row) => row.slice()));
}

export async function prepareTakes(dev: EgoxDevice, o: PrepareOptions): Promise<PrepareResult> {
  const { names, frames, start, every } = checkOptions(o);
  const note = o.onNote ?? (() => {});
  // An unreadable video fails before the weights load or any progress is shown.
  for (const v of o.videos) await probeVideo(v);
  const model = await MogeModel.open(dev, o.depthModel, o.load ?? {});
  const stage = OutputStage.open(o.out);
  try {
    const takes: PreparedTake[] = [];
    const entries: Record<string, unknown>[] = [];
    for (const [i, video] of o.videos.entries()) {
      const take = names[i]!;
      const progress = (detail: string) => o.onProgress?.({ type: 'take', take, index: i, count: o.videos.length, detail });
      const clip = await readExoClip(video, { startSeconds: start, frames, fps: o.fps });
      progress(`${frames} frames from ${start}s at ${clip.fps.toFixed(2)} fps, ${clip.source.width}x${clip.source.height} -> ${EXO_WIDTH}x${EXO_HEIGHT}`);
      const motion = estimateCameraMotion(clip.frames, EXO_WIDTH, EXO_HEIGHT);
      const given = o.intrinsics ? intrinsicsOnGrid(o.intrinsics, clip) : undefined;
      if (given && (Math.abs(given.cx - EXO_WIDTH / 2) > 0.02 * EXO_WIDTH || Math.abs(given.cy - EXO_HEIGHT / 2) > 0.02 * EXO_HEIGHT)) {
        note(`${take}: the principal point (${given.cx.toFixed(1)}, ${given.cy.toFixed(1)}) on the 784x448 frame is off its centre; EgoX's readers put it at the centre (${EXO_WIDTH / 2}, ${EXO_HEIGHT / 2}), so meta.json gets the centre`);
      }
      progress(`depth with MoGe-2 on ${every === 1 ? 'every frame' : `every ${every}th frame`}`);
      const t0 = performance.now();
      const d = await estimateClipDepth(model, clip.frames, EXO_WIDTH, EXO_HEIGHT, {
        numTokens: o.numTokens,
        every,
        focalPixels: given?.fx,
        onFrame: (done, total) => o.onProgress?.({ type: 'depth', take, done, total, elapsedMs: performance.now() - t0 }),
        note: (s) => note(`${take}: ${s}`),
      });
      const networkMsPerFrame = (performance.now() - t0) / d.keyframes.length;
      const cameraMoves = motion.moves || d.alignment.cameraMoves;
      if (cameraMoves) {
        const median = d.alignment.staticFraction.slice().sort((a, b) => a - b)[d.alignment.staticFraction.length >> 1]!;
        const last = [...motion.shifts.values()].at(-1);
        const why = motion.moves && last ? `the view shifts by (${last.dx}, ${last.dy}) px` : `only ${(100 * median).toFixed(0)}% of the pixels stay put in the median frame`;
        note(`${take}: the camera seems to move (${why}); EgoX needs a static exo camera, so expect a smeared prior`);
      }
      progress('write exo.mp4 and depth maps');
      await encodeVideo(stage.path(`videos/${take}/exo.mp4`), clip.frames, { width: EXO_WIDTH, height: EXO_HEIGHT, fps: clip.fps });
      d.depth.forEach((depth, f) =>
        writeNpy(stage.path(`depth_maps/${take}/${String(f).padStart(5, '0')}.npy`), { dtype: 'f4', shape: [EXO_HEIGHT, EXO_WIDTH], data: depth }),
      );
      const fx = given?.fx ?? d.focalPixels;
      const fy = given?.fy ?? d.focalPixels;
      const intrinsics = [[fx, 0, EXO_WIDTH / 2], [0, fy, EXO_HEIGHT / 2], [0, 0, 1]];
      entries.push({
        exo_path: `./videos/${take}/exo.mp4`,
        ego_prior_path: `./videos/${take}/ego_Prior.mp4`,
        prompt: o.prompt ?? PLACEHOLDER_PROMPT,
        camera_intrinsics: intrinsics,
        camera_extrinsics: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]],
        ego_intrinsics: EGO_INTRINSICS,
        ego_extrinsics: placeholderEgoPoses(frames),
      });
      takes.push({
        take,
        video,
        frames,
        fps: clip.fps,
        intrinsics,
        focalSource: given ? 'given' : d.focalSource,
        cameraMoves,
        scales: d.alignment.scales,
        staticFraction: d.alignment.staticFraction,
        keyframes: d.keyframes.length,
        numTokens: d.numTokens,
        networkMsPerFrame,
      });
    }
    const metaPath = path.join(o.out, 'meta.json');
    fs.writeFileSync(stage.path('meta.json'), mergedMetaText(metaPath, entries));
    // A take prepared again must not keep depth files of an older, longer run.
    for (const t of takes) fs.rmSync(path.join(o.out, 'depth_maps', t.take), { recursive: true, force: true });
    const files = stage.commit();
    return { takes, metaPath: path.resolve(metaPath), files };
  } catch (e) {
    stage.abort();
    throw e;
  } finally {
    await model.close();
  }
}
