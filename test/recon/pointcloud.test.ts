import { describe, expect, it } from 'vitest';
import { readPriorGolden } from './prior-golden.ts';
import { useDevice } from '../helpers/gpu.ts';
import { reliableMask } from '../../src/kernels/render/depth-reliable.ts';
import { EgoPointCloud, exoPlacement, unprojectGeometry } from '../../src/recon/pointcloud.ts';
import { rescaleExoIntrinsics } from '../../src/recon/cameras.ts';
import { refBackground, refDynamic, refReliable, type RefCloudInputs, type RefPoint } from '../ref/pointcloud.ts';

const device = useDevice();

const F = 5;
const H = 23;
const W = 37;
const EXO_W = 31; // centre crop of the depth grid, offset 3

/**
 * Depth with smooth sloped regions (reliable), random blocks at other depths (unreliable edges),
 * holes (0) and per-frame noise; a moving "object" block gives masks something to remove.
 */
function syntheticClip(): { depth: Float32Array[]; rgb: Uint8Array[]; masks: Uint8Array[] } {
  const base = new Float32Array(H * W);
  const slope = 0.002 + Math.random() * 0.01;
  for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) base[r * W + c] = 2 + slope * c + 0.5 * slope * r;
  for (let b = 0; b < 3; b++) {
    const r0 = Math.floor(Math.random() * H);
    const c0 = Math.floor(Math.random() * W);
    const z = 1 + Math.random() * 4;
    for (let r = r0; r < Math.min(H, r0 + 6); r++) for (let c = c0; c < Math.min(W, c0 + 8); c++) base[r * W + c] = z;
  }
  const depth: Float32Array[] = [];
  const rgb: Uint8Array[] = [];
  const masks: Uint8Array[] = [];
  for (let f = 0; f < F; f++) {
    const d = new Float32Array(H * W);
    const m = new Uint8Array(H * W);
    for (let p = 0; p < H * W; p++) d[p] = base[p]! * (1 + (Math.random() - 0.5) * 0.004);
    for (let k = 0; k < 6; k++) d[Math.floor(Math.random() * H * W)] = 0; // holes
    const oc = 2 + f * 5; // the object moves right
    for (let r = 8; r < 15; r++) {
      for (let c = oc; c < Math.min(W, oc + 6); c++) {
        d[r * W + c] = 1.2 + 0.001 * c;
        m[r * W + c] = Math.random() < 0.9 ? 1 + Math.floor(Math.random() * 3) : 0; // instance ids, with gaps
      }
    }
    const img = new Uint8Array(H * EXO_W * 3);
    for (let i = 0; i < img.length; i++) img[i] = Math.floor(Math.random() * 256);
    depth.push(d);
    rgb.push(img);
    masks.push(m);
  }
  return { depth, rgb, masks };
}

function randomExtrinsics(): Float64Array {
  const a = Math.random() * Math.PI;
  const c = Math.cos(a);
  const s = Math.sin(a);
  return Float64Array.of(c, -s, 0, Math.random(), 0, 0, -1, Math.random() - 0.5, s, c, 0, 1 + Math.random());
}

/** Decodes the GPU point buffer slots [from, from+n) into RefPoints (non-empty slots only). */
function decode(words: Uint32Array, from: number, n: number): RefPoint[] {
  const f = new Float32Array(words.buffer, words.byteOffset, words.length);
  const out: RefPoint[] = [];
  for (let s = 0; s < n; s++) {
    const w = words[(from + s) * 4 + 3]!;
    if (w >>> 24 === 0) continue;
    const o = (from + s) * 4;
    out.push({ slot: s, xyz: [f[o]!, f[o + 1]!, f[o + 2]!], rgb: [w & 255, (w >>> 8) & 255, (w >>> 16) & 255] });
  }
  return out;
}

function expectSamePoints(got: RefPoint[], want: RefPoint[], label: string): void {
  expect(got.map((p) => p.slot), `${label}: kept cells`).toEqual(want.map((p) => p.slot));
  let maxErr = 0;
  let scale = 0;
  got.forEach((p, i) => {
    const q = want[i]!;
    expect(p.rgb, `${label}: colour of cell ${p.slot}`).toEqual(q.rgb);
    for (let k = 0; k < 3; k++) {
      maxErr = Math.max(maxErr, Math.abs(p.xyz[k]! - q.xyz[k]!));
      scale = Math.max(scale, Math.abs(q.xyz[k]!));
    }
  });
  // f32 unprojection + transform of values ~5: a few ulps.
  expect(maxErr, `${label}: position error`).toBeLessThanOrEqual(1e-5 * Math.max(scale, 1));
}

describe('point cloud kernels vs float64 reference', () => {
  it('reliable-depth rule (5x5, -inf padded max/min, zero-padded mean)', async () => {
    const dev = await device();
    const clip = syntheticClip();
    const stacked = new Float32Array(F * H * W);
    clip.depth.forEach((d, f) => stacked.set(d, f * H * W));
    const t = await dev.upload(stacked, [F, H, W], 'f32');
    const out = dev.empty([F, H, W], 'u32');
    await dev.write(out, new Uint8Array(F * H * W * 4).fill(0xff));
    reliableMask(dev, t, out);
    const got = new Uint32Array((await dev.readBytes(out)).buffer, 0, F * H * W);
    let mismatches = 0;
    let reliable = 0;
    clip.depth.forEach((d, f) => {
      const want = refReliable(d, H, W);
      for (let p = 0; p < H * W; p++) {
        if (got[f * H * W + p] !== want[p]) mismatches++;
        reliable += want[p]!;
      }
    });
    expect(mismatches).toBe(0);
    // both classes occur (the rule is really exercised)
    expect(reliable).toBeGreaterThan(0.3 * F * H * W);
    expect(reliable).toBeLessThan(0.95 * F * H * W);
  });

  it('reliable-depth rule equals torch max_pool2d / avg_pool2d semantics (golden from test/reference/prior_reference.py)', async () => {
    const dev = await device();
    const depth = await readPriorGolden('reliable_depth');
    const want = await readPriorGolden('reliable_mask');
    const [f, h, w] = depth.shape as [number, number, number];
    const t = await dev.upload(depth.data as Float32Array, [f, h, w], 'f32');
    const out = reliableMask(dev, t);
    const got = new Uint32Array((await dev.readBytes(out)).buffer, 0, f * h * w);
    let mismatches = 0;
    for (let i = 0; i < got.length; i++) if (got[i] !== want.data[i]) mismatches++;
    expect(mismatches).toBe(0);
    // and the CPU reference agrees with torch too
    const cpu = refReliable((depth.data as Float32Array).subarray(0, h * w), h, w);
    expect([...cpu]).toEqual([...(want.data as Uint8Array).subarray(0, h * w)]);
  });

  for (const withMasks of [false, true]) {
    it(`mean background + subsampled unprojection ${withMasks ? 'with' : 'without'} dynamic masks, and per-frame dynamic points`, async () => {
      const dev = await device();
      const clip = syntheticClip();
      const K = Float64Array.of(1200 + Math.random() * 100, 0, 1920, 0, 1230, 1080, 0, 0, 1);
      const E = randomExtrinsics();
      const pc = await EgoPointCloud.build(dev, {
        depthShape: [H, W],
        depth: clip.depth,
        rgb: clip.rgb,
        exoShape: [H, EXO_W],
        exoIntrinsics: K,
        exoExtrinsics: E,
        ...(withMasks ? { masks: clip.masks } : {}),
      });
      const geo = unprojectGeometry(rescaleExoIntrinsics(K, W, H), E);
      const ref: RefCloudInputs = {
        H, W, depth: clip.depth, rgb: clip.rgb, exoH: H, exoW: EXO_W, rowOffset: 0, colOffset: 3,
        intr: { fx: geo[12]!, fy: geo[13]!, cx: geo[14]!, cy: geo[15]! }, c2w: geo.subarray(0, 12), step: 2,
        ...(withMasks ? { masks: clip.masks } : {}),
      };
      const wantBg = refBackground(ref);
      expect(pc.backgroundPoints).toBe(wantBg.length);
      expect(wantBg.length).toBeGreaterThan(20);
      const slots = Math.ceil(H / 2) * Math.ceil(W / 2);
      expect(pc.backgroundSlots).toBe(slots);
      expectSamePoints(decode(await pc.readPoints(), 0, slots), wantBg, 'background');
      if (withMasks) {
        expect(pc.dynamicSlots).toBe(slots);
        for (const f of [0, 3]) {
          pc.setFrame(f);
          const wantDyn = refDynamic(ref, f);
          expect(await pc.readDynamicCount()).toBe(wantDyn.length);
          expect(wantDyn.length).toBeGreaterThan(0);
          expectSamePoints(decode(await pc.readPoints(), slots, slots), wantDyn, `dynamic frame ${f}`);
        }
      } else {
        expect(pc.dynamicSlots).toBe(0);
      }
      pc.release();
    });
  }

  it('places the exo frame as a centre crop of the depth grid', () => {
    expect(exoPlacement(448, 796, 448, 784)).toEqual({ rowOffset: 0, colOffset: 6 });
    expect(exoPlacement(448, 784, 448, 784)).toEqual({ rowOffset: 0, colOffset: 0 });
    expect(exoPlacement(448, 796, 440, 784)).toBeNull();
    expect(exoPlacement(448, 795, 448, 784)).toBeNull();
  });
});
