/**
 * The built-in default input of `egox demo`: a synthetic scene rendered by egox itself on the CPU
 * and written in the official EgoX layout (spec A.1, A.2), so the whole generate path runs with
 * no download:
 *
 *   <out>/meta.json                           {test_datasets: [{exo_path, ego_prior_path, ego_gt_path, prompt, cameras}]}
 *   <out>/videos/<take>/exo.mp4               exo RGB, the centre crop of the depth grid (H.264 yuv420p)
 *   <out>/videos/<take>/ego_GT.mp4            the ego view through the Aria fisheye model, upright
 *   <out>/depth_maps/<take>/00000.npy ...     exo metric z-depth, float32 [H, depthWidth]
 *
 * ego_Prior.mp4 is only named in meta.json: the pipeline renders it with egox's own renderer.
 * Deterministic (same options, same bytes), written into a temporary sibling folder and renamed
 * into place, so a failed run leaves the previous scene (or nothing) behind.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeVideo } from '../../io/video.ts';
import { writeNpy } from '../../io/npy.ts';
import { egoCalibrationFromK, EGO_RENDER_SIZE, type EgoCalibration } from '../../recon/cameras.ts';
import { loadEgoxTake, type EgoxTakeWithDepth } from '../../io/meta.ts';
import { EgoRaycaster, ExoRaycaster } from './raycast.ts';
import { clipTime, EGO_INTRINSICS, egoTrajectory, exoCamera } from './trajectory.ts';
import { ballAt } from './world.ts';
import { InputError } from '../../runtime/errors.ts';

/** Bumped whenever the rendered content changes, so a reused folder is never stale. */
export const DEMO_SCENE_VERSION = 1;

export const DEMO_TAKE = 'synthetic_room';

/** Marker file that says a folder holds a demo scene (and with which options) and may be replaced. */
export const DEMO_MARKER = '.egox-demo-scene.json';

export interface DemoSceneOptions {
  /** Take name = folder under videos/ and depth_maps/ (default 'synthetic_room'). */
  take?: string;
  /** Clip length (default 49, what EgoX uses). */
  frames?: number;
  /** exo.mp4 size (default 784 x 448, the EgoX exo size). */
  exoWidth?: number;
  exoHeight?: number;
  /** Depth grid width (default 796, as Ego-Exo4D); its height is exoHeight and exo.mp4 is its centre crop. */
  depthWidth?: number;
  /** ego_GT.mp4 side (default 448). */
  egoSize?: number;
  /** Frame rate of both videos (default 30, the rate EgoX writes). */
  fps?: number;
  /** Varies the surface grain (default 0). */
  seed?: number;
  /** Horizontal field of view of the exo depth grid, degrees (default 96). */
  exoFovDeg?: number;
  /** Native exo grid for which camera_intrinsics is stated (default 3840 x 2160, as Ego-Exo4D). */
  nativeWidth?: number;
  nativeHeight?: number;
  /** Keep an existing scene written with the same options instead of rewriting it (default false). */
  reuse?: boolean;
}

export type ResolvedDemoSceneOptions = Required<Omit<DemoSceneOptions, 'reuse'>>;

export interface DemoSceneResult {
  metaPath: string;
  take: EgoxTakeWithDepth;
  /** True when `reuse` found the same scene already there and nothing was written. */
  reused: boolean;
  /** Wall times in ms: ray casting (exo + ego), video encoding, everything. */
  timings: { renderMs: number; encodeMs: number; totalMs: number };
}

/** Bad demo-scene option or unusable output folder (exit code 2). */
export class DemoSceneError extends InputError {}

/** The caption, in the two-block format of EgoX's captioner (A.2). */
export const DEMO_PROMPT =
  '[Exo view]\n' +
  '**Scene Overview:** The scene is set in a small, brightly lit room with a wooden checkerboard floor. ' +
  'The wall on the left is painted with blue vertical stripes, a dark horizontal band and a window with a white frame; ' +
  'a teal cabinet stands against it. The wall on the right is covered with orange and pink square tiles, and a table ' +
  'with a red and white checked tablecloth stands in the far corner. ' +
  '**Action Analysis:** A multicoloured ball rolls across the floor from the left side of the room toward the right, ' +
  'casting a soft shadow, while a person walks slowly forward into the room, looking around.\n\n' +
  '[Ego view]\n' +
  '**Scene Overview:** From the person\'s point of view, the checkerboard floor stretches ahead toward the blue striped ' +
  'wall with its window on the left and the tiled orange wall on the right, with the table and its checked tablecloth ' +
  'in the corner between them. ' +
  '**Action Analysis:** The person walks forward, glancing slightly left and right, while the multicoloured ball rolls ' +
  'across the floor in front of them from left to right.';

function positiveInt(name: string, v: number, even: boolean): number {
  if (!Number.isInteger(v) || v <= 0) throw new DemoSceneError(`demo scene: ${name} must be a positive integer, got ${v}`);
  if (even && v % 2 !== 0) throw new DemoSceneError(`demo scene: ${name} must be even (H.264 yuv420p), got ${v}`);
  return v;
}

/** Fills defaults and checks the options; a bad one is a DemoSceneError. */
export function resolveDemoSceneOptions(o: DemoSceneOptions = {}): ResolvedDemoSceneOptions {
  const r: ResolvedDemoSceneOptions = {
    take: o.take ?? DEMO_TAKE,
    frames: o.frames ?? 49,
    exoWidth: o.exoWidth ?? 784,
    exoHeight: o.exoHeight ?? 448,
    depthWidth: o.depthWidth ?? 796,
    egoSize: o.egoSize ?? EGO_RENDER_SIZE,
    fps: o.fps ?? 30,
    seed: o.seed ?? 0,
    exoFovDeg: o.exoFovDeg ?? 96,
    nativeWidth: o.nativeWidth ?? 3840,
    nativeHeight: o.nativeHeight ?? 2160,
  };
  if (!/^[A-Za-z0-9_.-]+$/.test(r.take) || r.take === '.' || r.take === '..') {
    throw new DemoSceneError(`demo scene: take '${r.take}' must be a plain folder name (letters, digits, _ . -)`);
  }
  positiveInt('frames', r.frames, false);
  positiveInt('exoWidth', r.exoWidth, true);
  positiveInt('exoHeight', r.exoHeight, true);
  positiveInt('depthWidth', r.depthWidth, false);
  positiveInt('egoSize', r.egoSize, true);
  positiveInt('nativeWidth', r.nativeWidth, false);
  positiveInt('nativeHeight', r.nativeHeight, false);
  if (r.depthWidth < r.exoWidth || (r.depthWidth - r.exoWidth) % 2 !== 0) {
    throw new DemoSceneError(`demo scene: depthWidth ${r.depthWidth} must be exoWidth ${r.exoWidth} plus an even margin (exo.mp4 is its centre crop)`);
  }
  if (!(r.fps > 0 && r.fps <= 240)) throw new DemoSceneError(`demo scene: fps must be in (0, 240], got ${r.fps}`);
  if (!Number.isInteger(r.seed)) throw new DemoSceneError(`demo scene: seed must be an integer, got ${r.seed}`);
  if (!(r.exoFovDeg >= 20 && r.exoFovDeg <= 150)) throw new DemoSceneError(`demo scene: exoFovDeg must be in [20, 150], got ${r.exoFovDeg}`);
  return r;
}

/** The renderer's ego calibration (meta ego_intrinsics, default Aria distortion) scaled to a size x size image. */
export function egoCalibrationForSize(size: number): EgoCalibration {
  const c = egoCalibrationFromK(EGO_INTRINSICS);
  const k = size / EGO_RENDER_SIZE;
  return { ...c, f: c.f * k, cx: c.cx * k, cy: c.cy * k };
}

/** Row-major 3x4 / 3x3 as nested lists (meta.json layout). */
function rows(m: ArrayLike<number>, r: number, c: number): number[][] {
  return Array.from({ length: r }, (_, i) => Array.from({ length: c }, (_, j) => m[i * c + j]!));
}

/** JSON with every innermost number list on one line (matrix rows), like a readable meta.json. */
function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/\[\s+([-+0-9.eE,\s]+?)\s+\]/g, (_, inner: string) => `[${inner.split(/,\s*/).join(', ')}]`) + '\n';
}

/** Centre crop of an RGB24 frame from width W to w (same height). */
function cropColumns(rgb: Uint8Array, W: number, H: number, w: number): Uint8Array {
  const off = (W - w) / 2;
  const out = new Uint8Array(w * H * 3);
  for (let y = 0; y < H; y++) out.set(rgb.subarray((y * W + off) * 3, (y * W + off + w) * 3), y * w * 3);
  return out;
}

/** Refuses an output path that is a file, or a non-empty folder that is not a demo scene. */
function checkOutDir(dir: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    return;
  }
  if (!st.isDirectory()) throw new DemoSceneError(`${dir}: exists and is not a folder; give a folder path for the demo scene`);
  const entries = fs.readdirSync(dir);
  if (entries.length > 0 && !entries.includes(DEMO_MARKER)) {
    throw new DemoSceneError(`${dir}: holds files that are not an egox demo scene (no ${DEMO_MARKER}); give an empty or new folder`);
  }
}

function markerText(o: ResolvedDemoSceneOptions): string {
  return formatJson({ version: DEMO_SCENE_VERSION, options: o });
}

function loadTake(metaPath: string, o: ResolvedDemoSceneOptions): EgoxTakeWithDepth {
  return loadEgoxTake(metaPath, o.take, { requiredEgoPoses: o.frames, requiredDepthFrames: o.frames });
}

/** Renders every file of the scene into `dir` (an empty folder). */
async function renderInto(dir: string, o: ResolvedDemoSceneOptions): Promise<{ renderMs: number; encodeMs: number }> {
  const t0 = performance.now();
  const videoDir = path.join(dir, 'videos', o.take);
  const depthDir = path.join(dir, 'depth_maps', o.take);
  fs.mkdirSync(videoDir, { recursive: true });
  fs.mkdirSync(depthDir, { recursive: true });

  const H = o.exoHeight;
  const exo = exoCamera({ depthWidth: o.depthWidth, depthHeight: H, nativeWidth: o.nativeWidth, nativeHeight: o.nativeHeight, fovDeg: o.exoFovDeg });
  const poses = egoTrajectory(o.frames);
  const exoCaster = new ExoRaycaster({ pinhole: exo.pinhole, w2c: exo.w2c, depthWidth: o.depthWidth, depthHeight: H }, o.seed);
  const egoCaster = new EgoRaycaster(egoCalibrationForSize(o.egoSize), o.egoSize, o.seed);
  const exoFrames: Uint8Array[] = [];
  const egoFrames: Uint8Array[] = [];
  const digits = Math.max(5, String(o.frames - 1).length);
  for (let i = 0; i < o.frames; i++) {
    const ball = ballAt(clipTime(i, o.frames));
    const f = exoCaster.frame(ball);
    writeNpy(path.join(depthDir, `${String(i).padStart(digits, '0')}.npy`), { dtype: 'f4', shape: [H, o.depthWidth], data: f.depth });
    exoFrames.push(cropColumns(f.rgb, o.depthWidth, H, o.exoWidth));
    egoFrames.push(egoCaster.frame(poses[i]!.w2c, ball));
  }
  const t1 = performance.now();
  // The two encodes are separate ffmpeg processes: run them side by side.
  await Promise.all([
    encodeVideo(path.join(videoDir, 'exo.mp4'), exoFrames, { width: o.exoWidth, height: H, fps: o.fps }),
    encodeVideo(path.join(videoDir, 'ego_GT.mp4'), egoFrames, { width: o.egoSize, height: o.egoSize, fps: o.fps }),
  ]);
  const t2 = performance.now();

  const rel = (...p: string[]): string => './' + path.posix.join(...p);
  const entry = {
    exo_path: rel('videos', o.take, 'exo.mp4'),
    ego_prior_path: rel('videos', o.take, 'ego_Prior.mp4'),
    ego_gt_path: rel('videos', o.take, 'ego_GT.mp4'),
    prompt: DEMO_PROMPT,
    camera_intrinsics: rows(exo.K, 3, 3),
    camera_extrinsics: rows(exo.w2c, 3, 4),
    ego_intrinsics: rows(EGO_INTRINSICS, 3, 3),
    ego_extrinsics: poses.map((p) => rows(p.w2c, 3, 4)),
  };
  fs.writeFileSync(path.join(dir, 'meta.json'), formatJson({ test_datasets: [entry] }));
  fs.writeFileSync(path.join(dir, DEMO_MARKER), markerText(o));
  return { renderMs: t1 - t0, encodeMs: t2 - t1 };
}

/**
 * Writes the demo scene to `outDir` (created or replaced; a non-empty folder that is not a demo
 * scene is refused) and returns its meta.json path and the loaded take.
 */
export async function writeDemoScene(outDir: string, options: DemoSceneOptions = {}): Promise<DemoSceneResult> {
  const t0 = performance.now();
  const o = resolveDemoSceneOptions(options);
  const dir = path.resolve(outDir);
  const metaPath = path.join(dir, 'meta.json');
  checkOutDir(dir);

  if (options.reuse) {
    let same = false;
    try {
      same = fs.readFileSync(path.join(dir, DEMO_MARKER), 'utf8') === markerText(o);
    } catch {
      same = false;
    }
    if (same) {
      try {
        const take = loadTake(metaPath, o);
        if (fs.existsSync(take.exoPath) && (!take.egoGtPath || fs.existsSync(take.egoGtPath))) {
          return { metaPath, take, reused: true, timings: { renderMs: 0, encodeMs: 0, totalMs: performance.now() - t0 } };
        }
      } catch {
        // Damaged scene: fall through and write it again.
      }
    }
  }

  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = path.join(parent, `.${path.basename(dir)}.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  let times: { renderMs: number; encodeMs: number };
  try {
    times = await renderInto(tmp, o);
    if (fs.existsSync(dir)) {
      // Swap by renames so the old scene stays whole until the new one is complete.
      const old = path.join(parent, `.${path.basename(dir)}.old-${process.pid}`);
      fs.rmSync(old, { recursive: true, force: true });
      fs.renameSync(dir, old);
      fs.renameSync(tmp, dir);
      fs.rmSync(old, { recursive: true, force: true });
    } else {
      fs.renameSync(tmp, dir);
    }
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const take = loadTake(metaPath, o);
  return { metaPath, take, reused: false, timings: { ...times, totalMs: performance.now() - t0 } };
}
