import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeVideo } from '../../src/io/video.ts';
import { readNpy } from '../../src/io/npy.ts';
import {
  cameraCentre,
  egoCalibrationFromK,
  invert4x4,
  projectFisheye,
  rescaleExoIntrinsics,
  to4x4,
  transformPoint,
  unprojectPinhole,
} from '../../src/recon/cameras.ts';
import { loadEgoxTake, readDepthFrame, type EgoxTakeWithDepth } from '../../src/io/meta.ts';
import { DEMO_MARKER, DEMO_TAKE, egoCalibrationForSize, writeDemoScene, type DemoSceneOptions } from '../../src/demo/scene/index.ts';
import { EgoRaycaster, ExoRaycaster } from '../../src/demo/scene/raycast.ts';
import { clipTime, egoTrajectory, exoCamera } from '../../src/demo/scene/trajectory.ts';
import { ballAt, BOXES, ROOM, type BallState } from '../../src/demo/scene/world.ts';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-demo-scene-'));
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

// Small but with the real structure: a 6-column margin on each side of the exo crop, 49 frames.
const SMALL: DemoSceneOptions = { exoWidth: 160, exoHeight: 96, depthWidth: 172, egoSize: 96 };

function sha(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

// ---- independent scene geometry for the checks: distance to the nearest analytic surface

function boxDistance(p: number[], lo: readonly number[], hi: readonly number[]): number {
  let outside = 0;
  let inside = Infinity;
  for (let a = 0; a < 3; a++) {
    const d = Math.max(lo[a]! - p[a]!, 0, p[a]! - hi[a]!);
    outside += d * d;
    inside = Math.min(inside, p[a]! - lo[a]!, hi[a]! - p[a]!);
  }
  return outside > 0 ? Math.sqrt(outside) : inside;
}

function surfaceDistance(p: number[], ball: BallState): number {
  let d = Infinity;
  for (let a = 0; a < 3; a++) d = Math.min(d, Math.abs(p[a]! - ROOM.min[a]!), Math.abs(p[a]! - ROOM.max[a]!));
  for (const b of BOXES) d = Math.min(d, boxDistance(p, b.min, b.max));
  return Math.min(d, Math.abs(Math.hypot(p[0]! - ball.cx, p[1]! - ball.cy, p[2]! - ball.cz) - ball.r));
}

/** True when q is in empty space (inside the room, outside furniture and ball), with a small tolerance. */
function isFree(q: number[], ball: BallState): boolean {
  const tol = 1e-6;
  for (let a = 0; a < 3; a++) if (q[a]! < ROOM.min[a]! - tol || q[a]! > ROOM.max[a]! + tol) return false;
  for (const b of BOXES) {
    if (q.every((x, a) => x > b.min[a]! + tol && x < b.max[a]! - tol)) return false;
  }
  return Math.hypot(q[0]! - ball.cx, q[1]! - ball.cy, q[2]! - ball.cz) > ball.r - tol;
}

/** Deterministic pixel sample. */
function* pixels(W: number, H: number, n: number, seed: number): Generator<[number, number]> {
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s % W;
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    yield [u, s % H];
  }
}

/**
 * Unprojects depth pixels the way egox does (A.4 rescale, pinhole with no 0.5 offset, inverse
 * exo extrinsic) and checks each lands on the scene surface with nothing in front of it.
 */
function checkDepthGeometry(take: EgoxTakeWithDepth, frames: number[], perFrame: number): number {
  const [H, W] = take.depthShape;
  const cam = rescaleExoIntrinsics(take.exoIntrinsics, W, H);
  const c2w = invert4x4(to4x4(take.exoExtrinsics));
  const centre = Array.from(cameraCentre(take.exoExtrinsics));
  let worst = 0;
  for (const f of frames) {
    const depth = readDepthFrame(take, f);
    const ball = ballAt(clipTime(f, take.egoExtrinsics.length));
    for (const [u, v] of pixels(W, H, perFrame, 1234 + f)) {
      const z = depth[v * W + u]!;
      const pc = unprojectPinhole(cam, u, v, z);
      const pw = Array.from(transformPoint(c2w, pc[0]!, pc[1]!, pc[2]!));
      const d = surfaceDistance(pw, ball);
      worst = Math.max(worst, d);
      expect(d, `frame ${f} pixel (${u}, ${v}) -> ${pw.map((x) => x.toFixed(4))}`).toBeLessThan(1e-3);
      for (let k = 1; k < 40; k++) {
        const t = k / 40;
        const q = centre.map((c, a) => c + t * (pw[a]! - c));
        expect(isFree(q, ball), `frame ${f} pixel (${u}, ${v}): occluder at ${t} of the ray`).toBe(true);
      }
    }
  }
  return worst;
}

describe('demo scene (small)', () => {
  let dir: string;
  let result: Awaited<ReturnType<typeof writeDemoScene>>;
  beforeAll(async () => {
    dir = path.join(tmpRoot, 'small');
    result = await writeDemoScene(dir, SMALL);
  });

  it('writes the official layout and loads with loadEgoxTake', () => {
    expect(result.metaPath).toBe(path.join(dir, 'meta.json'));
    const take = loadEgoxTake(result.metaPath);
    expect(take.name).toBe(DEMO_TAKE);
    expect(take.egoExtrinsics).toHaveLength(49);
    expect(take.depthFiles.map((f) => path.basename(f))).toEqual(Array.from({ length: 49 }, (_, i) => `${String(i).padStart(5, '0')}.npy`));
    expect(take.depthShape).toEqual([96, 172]);
    expect(take.exoPath).toBe(path.join(dir, 'videos', DEMO_TAKE, 'exo.mp4'));
    expect(take.egoPriorPath).toBe(path.join(dir, 'videos', DEMO_TAKE, 'ego_Prior.mp4'));
    expect(fs.existsSync(take.egoPriorPath)).toBe(false); // the pipeline renders it
    expect(take.egoGtPath).toBe(path.join(dir, 'videos', DEMO_TAKE, 'ego_GT.mp4'));
    expect(Array.from(take.egoIntrinsics)).toEqual([150, 0, 255.5, 0, 150, 255.5, 0, 0, 1]);
    const K = take.exoIntrinsics;
    expect([K[2], K[5], K[0]]).toEqual([1920, 1080, K[4]]);
    expect(take.prompt).toMatch(/^\[Exo view\]\n\*\*Scene Overview:\*\* .+ \*\*Action Analysis:\*\* .+\n\n\[Ego view\]\n\*\*Scene Overview:\*\* .+ \*\*Action Analysis:\*\* .+$/);
    const raw = JSON.parse(fs.readFileSync(result.metaPath, 'utf8')) as { test_datasets: Record<string, unknown>[] };
    expect(raw.test_datasets[0]!['exo_path']).toBe(`./videos/${DEMO_TAKE}/exo.mp4`);
    expect(listFiles(dir).filter((f) => !f.startsWith('depth_maps/'))).toEqual([
      DEMO_MARKER, 'meta.json', `videos/${DEMO_TAKE}/ego_GT.mp4`, `videos/${DEMO_TAKE}/exo.mp4`,
    ]);
  });

  it('depth maps are float32, positive, finite and move only where the ball is', () => {
    const take = result.take;
    let changed = 0;
    const first = readDepthFrame(take, 0);
    for (const f of take.depthFiles) {
      const a = readNpy(f);
      expect(a.dtype).toBe('f4');
      const d = a.data as Float32Array;
      for (let i = 0; i < d.length; i++) {
        if (!(Number.isFinite(d[i]!) && d[i]! > 0.1 && d[i]! < 12)) throw new Error(`${f}[${i}] = ${d[i]}`);
        if (d[i] !== first[i]) changed++;
      }
    }
    // The ball moves, the room does not: some pixels change, most do not.
    expect(changed).toBeGreaterThan(0);
    expect(changed / (first.length * 48)).toBeLessThan(0.1);
  });

  it('unprojecting depth with the A.4 rescaled intrinsics lands on the rendered surfaces', () => {
    const worst = checkDepthGeometry(result.take, [0, 17, 24, 48], 400);
    expect(worst).toBeLessThan(1e-4);
  });

  it('exo.mp4 is the centre crop of the depth-grid render; ego_GT.mp4 is 96x96', async () => {
    const exo = await decodeVideo(result.take.exoPath);
    expect([exo.width, exo.height, exo.frames.length]).toEqual([160, 96, 49]);
    const ego = await decodeVideo(result.take.egoGtPath!);
    expect([ego.width, ego.height, ego.frames.length]).toEqual([96, 96, 49]);
    // Re-render frame 30 and compare the decoded video with its columns 6..165.
    const cam = exoCamera({ depthWidth: 172, depthHeight: 96, nativeWidth: 3840, nativeHeight: 2160, fovDeg: 96 });
    const frame = new ExoRaycaster({ pinhole: cam.pinhole, w2c: cam.w2c, depthWidth: 172, depthHeight: 96 }, 0).frame(ballAt(clipTime(30, 49)));
    let se = 0;
    let seShifted = 0;
    const dec = exo.frames[30]!;
    for (let y = 0; y < 96; y++) {
      for (let x = 0; x < 160; x++) {
        for (let c = 0; c < 3; c++) {
          const v = dec[(y * 160 + x) * 3 + c]!;
          se += (v - frame.rgb[(y * 172 + x + 6) * 3 + c]!) ** 2;
          seShifted += (v - frame.rgb[(y * 172 + x) * 3 + c]!) ** 2;
        }
      }
    }
    const psnr = (s: number): number => 10 * Math.log10((255 * 255) / (s / (160 * 96 * 3)));
    expect(psnr(se)).toBeGreaterThan(30);
    expect(psnr(seShifted)).toBeLessThan(psnr(se) - 6);
  });

  it('the fast exo path (cached room + ball region) equals casting every pixel', () => {
    const cam = exoCamera({ depthWidth: 172, depthHeight: 96, nativeWidth: 3840, nativeHeight: 2160, fovDeg: 96 });
    const caster = new ExoRaycaster({ pinhole: cam.pinhole, w2c: cam.w2c, depthWidth: 172, depthHeight: 96 }, 0);
    for (const f of [0, 11, 29, 48]) {
      const ball = ballAt(clipTime(f, 49));
      const fast = caster.frame(ball);
      const full = caster.frameFull(ball);
      expect(Buffer.from(fast.depth.buffer).equals(Buffer.from(full.depth.buffer)), `depth frame ${f}`).toBe(true);
      expect(Buffer.from(fast.rgb).equals(Buffer.from(full.rgb)), `rgb frame ${f}`).toBe(true);
    }
  });

  it('rewriting gives identical files and leaves no temporary folder', async () => {
    const before = new Map(listFiles(dir).map((f) => [f, sha(path.join(dir, f))]));
    const again = await writeDemoScene(dir, SMALL);
    expect(again.reused).toBe(false);
    const after = new Map(listFiles(dir).map((f) => [f, sha(path.join(dir, f))]));
    expect(after).toEqual(before);
    expect(fs.readdirSync(path.dirname(dir)).filter((n) => n.includes('.tmp-') || n.includes('.old-'))).toEqual([]);
  });

  it('reuse keeps a scene written with the same options, and rewrites on different ones', async () => {
    const exoPath = result.take.exoPath;
    const mtime = fs.statSync(exoPath).mtimeMs;
    const hash = sha(exoPath);
    const depthHash = sha(result.take.depthFiles[20]!);
    const same = await writeDemoScene(dir, { ...SMALL, reuse: true });
    expect(same.reused).toBe(true);
    expect(fs.statSync(exoPath).mtimeMs).toBe(mtime);
    const seeded = await writeDemoScene(dir, { ...SMALL, seed: 7, reuse: true });
    expect(seeded.reused).toBe(false);
    // The seed changes the surface grain, not the geometry.
    expect(sha(exoPath)).not.toBe(hash);
    expect(sha(result.take.depthFiles[20]!)).toBe(depthHash);
  });
});

describe('demo scene: ego cameras', () => {
  let take: EgoxTakeWithDepth;
  beforeAll(async () => {
    const r = await writeDemoScene(path.join(tmpRoot, 'ego'), { ...SMALL, exoWidth: 32, exoHeight: 18, depthWidth: 44, egoSize: 32 });
    take = r.take;
  });

  it('ego extrinsics are sideways Aria poses whose prior render comes out upright', () => {
    const calib = egoCalibrationFromK(take.egoIntrinsics);
    const poses = egoTrajectory(49);
    for (const [i, w2c] of take.egoExtrinsics.entries()) {
      expect(Array.from(w2c, (x) => x + 0)).toEqual(Array.from(poses[i]!.w2c, (x) => x + 0)); // + 0: JSON has no -0
      // Rotation rows must be orthonormal.
      for (let a = 0; a < 3; a++) {
        for (let b = 0; b < 3; b++) {
          const d = w2c[4 * a]! * w2c[4 * b]! + w2c[4 * a + 1]! * w2c[4 * b + 1]! + w2c[4 * a + 2]! * w2c[4 * b + 2]!;
          expect(Math.abs(d - (a === b ? 1 : 0))).toBeLessThan(1e-12);
        }
      }
      const c = cameraCentre(w2c);
      // The head is inside the room at eye height.
      expect(c[2]!).toBeGreaterThan(1.5);
      expect(c[2]!).toBeLessThan(1.7);
      // Camera forward (third row) in world, flattened: points straight ahead of the walker.
      const fwd = [w2c[8]!, w2c[9]!, w2c[10]!];
      const horiz = Math.hypot(fwd[0]!, fwd[1]!);
      const ahead = [c[0]! + (2 * fwd[0]!) / horiz, c[1]! + (2 * fwd[1]!) / horiz];
      // A point 2 m ahead at eye height, one 1 m higher, one on the floor, one to the right.
      const level = projectFisheye(calib, w2c, ahead[0]!, ahead[1]!, c[2]!);
      const high = projectFisheye(calib, w2c, ahead[0]!, ahead[1]!, c[2]! + 1);
      const floor = projectFisheye(calib, w2c, ahead[0]!, ahead[1]!, 0);
      const right = [fwd[1]! / horiz, -fwd[0]! / horiz]; // ahead x up, in the floor plane
      const side = projectFisheye(calib, w2c, ahead[0]! + right[0]!, ahead[1]! + right[1]!, c[2]!);
      expect(level.culled || high.culled || floor.culled || side.culled, `frame ${i}`).toBe(false);
      // Upright: higher world points are higher in the image (smaller row), at about the same column.
      expect(high.row, `frame ${i}`).toBeLessThan(level.row - 40);
      expect(floor.row, `frame ${i}`).toBeGreaterThan(level.row + 40);
      expect(Math.abs(high.col - level.col), `frame ${i}`).toBeLessThan(20);
      // World right is image right.
      expect(side.col, `frame ${i}`).toBeGreaterThan(level.col + 30);
      expect(Math.abs(side.row - level.row), `frame ${i}`).toBeLessThan(20);
    }
  });

  it('ego_GT pixels follow projectFisheye: the ball shows up where the renderer model projects it', () => {
    const size = 112;
    const caster = new EgoRaycaster(egoCalibrationForSize(size), size, 0);
    const calib448 = egoCalibrationFromK([150, 0, 255.5, 0, 150, 255.5, 0, 0, 1]);
    const poses = egoTrajectory(49);
    let seen = 0;
    for (let f = 0; f < 49; f += 6) {
      const s = clipTime(f, 49);
      const ball = ballAt(s);
      const w2c = poses[f]!.w2c;
      const p = projectFisheye(calib448, w2c, ball.cx, ball.cy, ball.cz);
      if (p.culled) continue;
      const row = Math.round(((p.row + 0.5) * size) / 448 - 0.5);
      const col = Math.round(((p.col + 0.5) * size) / 448 - 0.5);
      if (row < 0 || col < 0 || row >= size || col >= size) continue;
      const withBall = caster.frame(w2c, ball);
      const without = caster.frame(w2c, null);
      const i = (row * size + col) * 3;
      expect(withBall.subarray(i, i + 3), `frame ${f} (${row}, ${col})`).not.toEqual(without.subarray(i, i + 3));
      // Far from the ball nothing changes.
      const j = ((size - 1 - row) * size + (size - 1 - col)) * 3;
      if (Math.hypot(size - 1 - 2 * row, size - 1 - 2 * col) > 40) expect(withBall.subarray(j, j + 3)).toEqual(without.subarray(j, j + 3));
      seen++;
    }
    expect(seen).toBeGreaterThan(4);
  });
});

describe('demo scene: bad output folders and options', () => {
  it('refuses a file, a foreign folder and bad sizes with exit code 2, touching nothing', async () => {
    const file = path.join(tmpRoot, 'a-file');
    fs.writeFileSync(file, 'x');
    await expect(writeDemoScene(file, SMALL)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('not a folder') });
    expect(fs.readFileSync(file, 'utf8')).toBe('x');
    const foreign = path.join(tmpRoot, 'foreign');
    fs.mkdirSync(foreign);
    fs.writeFileSync(path.join(foreign, 'notes.txt'), 'keep me');
    await expect(writeDemoScene(foreign, SMALL)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('not an egox demo scene') });
    expect(fs.readdirSync(foreign)).toEqual(['notes.txt']);
    await expect(writeDemoScene(path.join(tmpRoot, 'odd'), { ...SMALL, exoWidth: 161, depthWidth: 173 })).rejects.toMatchObject({ exitCode: 2 });
    await expect(writeDemoScene(path.join(tmpRoot, 'margin'), { ...SMALL, depthWidth: 171 })).rejects.toMatchObject({ exitCode: 2 });
    expect(fs.existsSync(path.join(tmpRoot, 'odd'))).toBe(false);
  });
});

describe('demo scene (full default size)', () => {
  it('matches what egox generate expects: 784x448 exo, [448, 796] depth, exact A.4 pinhole', async () => {
    const dir = path.join(tmpRoot, 'full');
    const r = await writeDemoScene(dir);
    console.log(`demo scene at full size: render ${r.timings.renderMs.toFixed(0)} ms, encode ${r.timings.encodeMs.toFixed(0)} ms, total ${r.timings.totalMs.toFixed(0)} ms`);
    const take = r.take;
    expect(take.depthShape).toEqual([448, 796]);
    expect(take.depthFiles).toHaveLength(49);
    expect(take.egoExtrinsics).toHaveLength(49);
    const cam = rescaleExoIntrinsics(take.exoIntrinsics, 796, 448);
    expect([cam.cx, cam.cy]).toEqual([398, 224]);
    // The pinhole the writer rendered with is the one the rescale produces.
    const rendered = exoCamera({ depthWidth: 796, depthHeight: 448, nativeWidth: 3840, nativeHeight: 2160, fovDeg: 96 }).pinhole;
    expect(rendered).toEqual(cam);
    const exo = await decodeVideo(take.exoPath, { maxFrames: 2 });
    expect([exo.width, exo.height]).toEqual([784, 448]);
    const gt = await decodeVideo(take.egoGtPath!, { maxFrames: 1 });
    expect([gt.width, gt.height]).toEqual([448, 448]);
    checkDepthGeometry(take, [0, 48], 300);
  });
});
