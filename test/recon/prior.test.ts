// End to end on a tiny synthetic take: renderPrior (GPU point cloud + splat) must equal the
// float64 CPU references chained together (test/ref/pointcloud.ts -> test/ref/splat.ts) on the
// same decoded exo frames, with and without instance masks; writePrior makes a 448x448 30 fps mp4.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useDevice } from '../helpers/gpu.ts';
import { writeNpy } from '../../src/io/npy.ts';
import { writePng } from '../../src/io/png.ts';
import { decodeVideo, encodeVideo, probeVideo } from '../../src/io/video.ts';
import { loadEgoxTake } from '../../src/io/meta.ts';
import { packFisheyeParams, parseEgoCalibration, rescaleExoIntrinsics } from '../../src/recon/cameras.ts';
import { renderPrior, writePrior } from '../../src/pipeline/prior.ts';
import { readMaskFolder, MaskError } from '../../src/pipeline/prior.ts';
import { unprojectGeometry } from '../../src/recon/pointcloud.ts';
import { refBackground, refDynamic, type RefCloudInputs } from '../ref/pointcloud.ts';
import { diffSplat, refSplat, type RefPoint } from '../ref/splat.ts';

const device = useDevice();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-prior-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const F = 3;
const H = 24;
const W = 40;
const EXO_W = 36; // centre crop, offset 2
const K = [[30, 0, 20], [0, 30, 12], [0, 0, 1]];
// Exo camera a little off the origin; the ego camera looks from nearby, turned slightly.
const E_EXO = [[1, 0, 0, 0.1], [0, 1, 0, -0.05], [0, 0, 1, 0.2]];
const egoPose = (f: number) => {
  const a = 0.05 * f;
  return [[Math.cos(a), 0, Math.sin(a), 0.05 * f], [0, 1, 0, 0.02], [-Math.sin(a), 0, Math.cos(a), 0.1]];
};

/** Writes meta.json, depth_maps/<take>/*.npy, videos/<take>/exo.mp4 and masks/*.png. */
async function makeTake(): Promise<{ depth: Float32Array[]; masks: Uint8Array[] }> {
  const take = 'synthetic_take';
  fs.mkdirSync(path.join(dir, 'videos', take), { recursive: true });
  fs.mkdirSync(path.join(dir, 'depth_maps', take), { recursive: true });
  fs.mkdirSync(path.join(dir, 'masks'), { recursive: true });
  const depth: Float32Array[] = [];
  const masks: Uint8Array[] = [];
  const frames: Uint8Array[] = [];
  for (let f = 0; f < F; f++) {
    const d = new Float32Array(H * W);
    const m = new Uint8Array(H * W);
    for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) d[r * W + c] = 2.5 + 0.004 * c + 0.002 * r + (Math.random() - 0.5) * 0.004;
    // a box that moves: nearer, masked as an instance
    for (let r = 6; r < 14; r++) for (let c = 8 + 4 * f; c < 16 + 4 * f; c++) { d[r * W + c] = 1.6; m[r * W + c] = 7; }
    depth.push(d);
    masks.push(m);
    writeNpy(path.join(dir, 'depth_maps', take, `${String(f).padStart(5, '0')}.npy`), { dtype: 'f4', shape: [H, W], data: d });
    writePng(path.join(dir, 'masks', `${String(f).padStart(5, '0')}.png`), W, H, 1, m);
    const img = new Uint8Array(H * EXO_W * 3);
    for (let i = 0; i < H * EXO_W; i++) {
      img[3 * i] = 40 + ((i * 7) % 180);
      img[3 * i + 1] = 200 - ((i * 3) % 150);
      img[3 * i + 2] = 60 + f * 40;
    }
    frames.push(img);
  }
  await encodeVideo(path.join(dir, 'videos', take, 'exo.mp4'), frames, { width: EXO_W, height: H, fps: 20, crf: 10 });
  const meta = {
    test_datasets: [
      {
        exo_path: `./videos/${take}/exo.mp4`,
        ego_prior_path: `./videos/${take}/ego_Prior.mp4`,
        prompt: 'synthetic',
        camera_intrinsics: K,
        camera_extrinsics: E_EXO,
        ego_intrinsics: [[150, 0, 255.5], [0, 150, 255.5], [0, 0, 1]],
        ego_extrinsics: Array.from({ length: F }, (_, f) => egoPose(f)),
      },
    ],
  };
  fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
  return { depth, masks };
}

function toRefPoints(pts: { xyz: [number, number, number]; rgb: [number, number, number] }[]): RefPoint[] {
  return pts.map((p) => ({ x: Math.fround(p.xyz[0]), y: Math.fround(p.xyz[1]), z: Math.fround(p.xyz[2]), rgb: p.rgb, valid: true }));
}

describe('renderPrior on a synthetic take', () => {
  it('matches the chained float64 references, with masks (holes or drawn per frame) and without', async () => {
    const dev = await device();
    const clip = await makeTake();
    const take = loadEgoxTake(path.join(dir, 'meta.json'), undefined, { requiredEgoPoses: F, requiredDepthFrames: F });
    const rgb = (await decodeVideo(take.exoPath)).frames;
    const calib = parseEgoCalibration('180,230,220');
    const geo = unprojectGeometry(rescaleExoIntrinsics(take.exoIntrinsics, W, H), take.exoExtrinsics);
    const base: RefCloudInputs = {
      H, W, depth: clip.depth, rgb, exoH: H, exoW: EXO_W, rowOffset: 0, colOffset: 2,
      intr: { fx: geo[12]!, fy: geo[13]!, cx: geo[14]!, cy: geo[15]! }, c2w: geo.subarray(0, 12), step: 2,
    };
    const spec = { width: 448, height: 448, radius: 10 / 448, pointsPerPixel: 20 };
    for (const setting of ['none', 'masks-holes', 'masks-drawn'] as const) {
      const withMasks = setting !== 'none';
      const r = await renderPrior(dev, take, {
        egoCalibration: calib,
        dynamic: 'none',
        ...(withMasks ? { masksDir: path.join(dir, 'masks'), dynamicPoints: setting === 'masks-drawn' } : {}),
        frameIndices: [0, 2],
      });
      expect(r.frameIndices).toEqual([0, 2]);
      expect(r.dynamicSource).toBe(withMasks ? 'masks' : 'none');
      const inp = withMasks ? { ...base, masks: clip.masks } : base;
      const bg = refBackground(inp);
      expect(r.backgroundPoints).toBe(bg.length);
      for (const [k, f] of [0, 2].entries()) {
        const pts = toRefPoints(setting === 'masks-drawn' ? [...bg, ...refDynamic(inp, f)] : bg);
        expect(r.pointsPerFrame[k]).toBe(pts.length);
        const want = refSplat(pts, packFisheyeParams(calib, take.egoExtrinsics[f]!, 448), spec);
        let lit = 0;
        for (let i = 0; i < want.length; i++) if (want[i]! > 0) lit++;
        expect(lit, `${setting} frame ${f} draws something`).toBeGreaterThan(1000);
        // f32 vs f64: floor(x * 255) may land one off, and a pixel right at the near-black cut-off
        // may fall on the other side (0 vs <= 3); anything else is an error.
        const d = diffSplat(r.frames[k]!, want);
        expect(d.other, `${setting} frame ${f}`).toBe(0);
        expect(d.offByOne, `${setting} frame ${f}`).toBeLessThanOrEqual(Math.ceil(0.002 * 448 * 448));
        expect(d.cutoffFlips, `${setting} frame ${f}`).toBeLessThanOrEqual(Math.ceil(0.0002 * 448 * 448));
      }
    }
  });

  it('writes ego_Prior.mp4 (448x448, 30 fps) and PNGs', async () => {
    const frames = [0, 1].map((k) => new Uint8Array(448 * 448 * 3).fill(60 + 100 * k));
    const out = path.join(dir, 'out');
    const written = await writePrior(out, { frames, size: 448 }, { png: true });
    expect(written.map((p) => path.relative(out, p))).toEqual(['png/frame_00000.png', 'png/frame_00001.png', 'ego_Prior.mp4']);
    expect(await probeVideo(path.join(out, 'ego_Prior.mp4'))).toMatchObject({ width: 448, height: 448, fps: 30, frames: 2 });
  });

  it('reads instance masks at the depth-grid or exo size and rejects other sizes', () => {
    const mdir = path.join(dir, 'mask-sizes');
    fs.mkdirSync(mdir, { recursive: true });
    const exoMask = new Uint8Array(H * EXO_W * 3);
    exoMask[(5 * EXO_W + 0) * 3 + 2] = 9; // blue channel only: still an instance
    writePng(path.join(mdir, 'a.png'), EXO_W, H, 3, exoMask);
    const m = readMaskFolder(mdir, 1, [H, W], [H, EXO_W]);
    expect(m[0]!.reduce((s, v) => s + v, 0)).toBe(1);
    expect(m[0]![5 * W + 2]).toBe(1); // exo column 0 = depth column 2
    writePng(path.join(mdir, 'b.png'), 10, 10, 1, new Uint8Array(100));
    expect(() => readMaskFolder(mdir, 2, [H, W], [H, EXO_W])).toThrow(/mask is 10x10; expected the depth grid 40x24 or the exo frame 36x24/);
    expect(() => readMaskFolder(mdir, 3, [H, W], [H, EXO_W])).toThrow(MaskError);
    expect(() => readMaskFolder(path.join(dir, 'nope'), 1, [H, W], [H, EXO_W])).toThrow(/cannot read folder/);
  });
});
