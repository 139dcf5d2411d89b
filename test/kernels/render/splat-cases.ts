// The splatting kernel's checks against its float64 reference (test/ref/splat.ts), written once
// and run both by vitest under Node (splat.test.ts) and inside Chromium's WebGPU
// (test/browser/kernels.test.ts), with the same bounds.
import { Splatter, unpackRgb, type SplatSpec } from '../../../src/kernels/render/splat.ts';
import { packFisheyeParams, parseEgoCalibration } from '../../../src/recon/cameras.ts';
import { diffSplat, refSplat, refZbuffer, type RefPoint, type RefSplatStats } from '../../ref/splat.ts';
import type { EgoxDevice } from '../../../src/runtime/device.ts';
import type { Check, KernelCase } from '../../helpers/checks.ts';

export const W = 37;
export const H = 29;
/** 5 px points on this image: NDC radius = 5 * 2 / min(W, H). */
export const SPEC: SplatSpec = { width: W, height: H, radius: (5 * 2) / Math.min(W, H), pointsPerPixel: 20 };

/** Random rotation (via a random unit quaternion) as a 3x4 world-to-camera with translation t. */
export function randomPose(t: [number, number, number]): Float64Array {
  let q = [0, 0, 0, 0].map(() => Math.random() * 2 - 1);
  const n = Math.hypot(...q);
  q = q.map((v) => v / n);
  const [w, x, y, z] = q as [number, number, number, number];
  const R = [
    1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
    2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
    2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
  ];
  return Float64Array.of(R[0]!, R[1]!, R[2]!, t[0], R[3]!, R[4]!, R[5]!, t[1], R[6]!, R[7]!, R[8]!, t[2]);
}

/** World point whose OpenCV camera coordinates under pose e are (xc, yc, zc): p = R^T (c - t). */
export function fromCamera(e: Float64Array, xc: number, yc: number, zc: number): [number, number, number] {
  const c = [xc - e[3]!, yc - e[7]!, zc - e[11]!];
  return [0, 1, 2].map((j) => e[j]! * c[0]! + e[4 + j]! * c[1]! + e[8 + j]! * c[2]!) as [number, number, number];
}

const randomByte = (): number => Math.floor(Math.random() * 256);

/**
 * Points in front of the camera spread over the view (a few also outside it), plus invalid
 * slots, points behind the camera and non-finite points. `zValues` given: every depth is drawn
 * from that small set, so many points tie exactly (identity rotation keeps z exact in f32).
 */
export function randomPoints(e: Float64Array, n: number, zValues?: number[]): RefPoint[] {
  const pts: RefPoint[] = [];
  for (let i = 0; i < n; i++) {
    const zc = zValues ? zValues[Math.floor(Math.random() * zValues.length)]! : 0.5 + Math.random() * 3;
    const xc = (Math.random() * 2 - 1) * 1.1 * zc;
    const yc = (Math.random() * 2 - 1) * 1.1 * zc;
    const [x, y, z] = fromCamera(e, xc, yc, zc);
    const dark = Math.random() < 0.1;
    const rgb: [number, number, number] = dark ? [Math.floor(Math.random() * 3), Math.floor(Math.random() * 3), Math.floor(Math.random() * 3)] : [randomByte(), randomByte(), randomByte()];
    const kind = Math.random();
    if (kind < 0.05) pts.push({ x, y, z, rgb, valid: false });
    else if (kind < 0.08) pts.push({ ...(() => { const b = fromCamera(e, xc, yc, -zc); return { x: b[0], y: b[1], z: b[2] }; })(), rgb, valid: true });
    else if (kind < 0.09) pts.push({ x: NaN, y, z, rgb, valid: true });
    else pts.push({ x, y, z, rgb, valid: true });
  }
  return pts;
}

export function packPoints(pts: RefPoint[]): Uint32Array {
  const f = new Float32Array(pts.length * 4);
  const u = new Uint32Array(f.buffer);
  pts.forEach((p, i) => {
    f[4 * i] = p.x;
    f[4 * i + 1] = p.y;
    f[4 * i + 2] = p.z;
    u[4 * i + 3] = p.rgb[0] | (p.rgb[1] << 8) | (p.rgb[2] << 16) | (p.valid ? 1 << 24 : 0);
  });
  return u;
}

/** The reference sees exactly what the kernel sees: float32 coordinates and camera. */
export function asF32(pts: RefPoint[]): RefPoint[] {
  return pts.map((p) => ({ ...p, x: Math.fround(p.x), y: Math.fround(p.y), z: Math.fround(p.z) }));
}

export async function runSplat(dev: EgoxDevice, pts: RefPoint[], cams: Float32Array[], mode: 'composite' | 'zbuffer', spec: SplatSpec = SPEC): Promise<Uint8Array[]> {
  const points = await dev.upload(packPoints(pts), [pts.length, 4], 'u32');
  const camT = await dev.upload(Float32Array.from(cams.flatMap((c) => [...c])), [cams.length, 32], 'f32');
  const splatter = new Splatter(dev, spec, pts.length + 13);
  const outs: Uint8Array[] = [];
  for (let c = 0; c < cams.length; c++) {
    const out = dev.empty([W * H], 'u32');
    await dev.write(out, new Uint8Array(W * H * 4).fill(0xff)); // poison
    splatter.run(points, pts.length, camT, c, out, mode);
    outs.push(unpackRgb(await dev.readBytes(out), W * H));
    out.release();
  }
  splatter.release();
  points.release();
  camT.release();
  return outs;
}

// Off-axis principal point and strong-ish distortion so every term of the model matters.
export const CALIB = parseEgoCalibration('14,17.5,13,-0.02,0.09,-0.06,0.005,0.003,-0.0006,0.004,-0.003,-0.002,-0.0005,0.001,0.0007');

/** Bounds of the composite mode: f32 vs f64 may move floor(x*255) by one or flip the near-black cut-off. */
export const SPLAT_OFF_BY_ONE_FRACTION = 0.005;
export const SPLAT_CUTOFF_FLIP_FRACTION = 0.002;
/** z-buffer mode: pixels decided by a point within 1e-4 of the disc edge are skipped, at most this share. */
export const ZBUFFER_AMBIGUOUS_FRACTION = 0.01;

function compositeChecks(got: Uint8Array, want: Uint8Array, label: string): Check[] {
  const d = diffSplat(got, want);
  return [
    { what: `${label}: pixels differing by more than one step`, value: d.other, equals: 0 },
    { what: `${label}: pixels off by one step`, value: d.offByOne, max: Math.ceil(SPLAT_OFF_BY_ONE_FRACTION * W * H) },
    { what: `${label}: near-black cut-off flips`, value: d.cutoffFlips, max: Math.ceil(SPLAT_CUTOFF_FLIP_FRACTION * W * H) },
  ];
}

function litPixels(rgb: Uint8Array): number {
  let lit = 0;
  for (let p = 0; p < W * H; p++) if (rgb[3 * p]! + rgb[3 * p + 1]! + rgb[3 * p + 2]! > 0) lit++;
  return lit;
}

const IDENTITY = (): Float64Array => Float64Array.of(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0);

export const SPLAT_CASES: KernelCase[] = [
  {
    name: 'composites the K nearest points within the radius (random poses, dense points, ties in depth)',
    run: async (dev) => {
      const general = randomPose([Math.random() - 0.5, Math.random() - 0.5, Math.random()]);
      const ident = IDENTITY();
      // ~700 points on 1073 pixels with 78-pixel discs: most pixels see far more than K = 20.
      const sets = [
        [asF32(randomPoints(general, 700)), packFisheyeParams(CALIB, general, H), 'general'],
        [asF32(randomPoints(ident, 700, [1, 1.25, 1.5, 2])), packFisheyeParams(CALIB, ident, H), 'ties'],
      ] as const;
      const checks: Check[] = [];
      for (const [pts, cam, label] of sets) {
        const [got] = await runSplat(dev, pts, [cam], 'composite');
        const stats: RefSplatStats = { overflowPixels: 0, tiedNeighbours: 0 };
        const want = refSplat(pts, cam, SPEC, stats);
        // the inputs really exercise the K limit and (for the 'ties' set) equal depths
        checks.push({ what: `${label}: pixels over K`, value: stats.overflowPixels, above: 0.3 * W * H });
        if (label === 'ties') checks.push({ what: 'ties: tied neighbours', value: stats.tiedNeighbours, above: W * H });
        checks.push(...compositeChecks(got!, want, label));
        checks.push({ what: `${label}: lit pixels`, value: litPixels(want), above: 0.5 * W * H });
      }
      return checks;
    },
  },
  {
    name: 'renders several cameras from one point buffer (camera index) and handles more points than fit in a workgroup',
    run: async (dev) => {
      const poses = [0, 1, 2].map(() => randomPose([Math.random() - 0.5, Math.random() - 0.5, Math.random()]));
      const pts = asF32(randomPoints(poses[0]!, 1500).concat(randomPoints(poses[1]!, 600), randomPoints(poses[2]!, 300)));
      const cams = poses.map((p) => packFisheyeParams(CALIB, p, H));
      const got = await runSplat(dev, pts, cams, 'composite');
      return cams.flatMap((cam, c) => compositeChecks(got[c]!, refSplat(pts, cam, SPEC), `camera ${c}`));
    },
  },
  {
    name: 'z-buffer preview: nearest point per pixel, ties to the lowest index, exact bytes (splat radius and a smaller preview radius)',
    run: async (dev) => {
      const ident = IDENTITY();
      const general = randomPose([0.1, -0.2, 0.3]);
      const preview = { ...SPEC, zbufferRadius: (1.5 * 2) / Math.min(W, H) };
      const cases = [
        [asF32(randomPoints(ident, 500, [1, 2])), ident, SPEC, 'ties'],
        [asF32(randomPoints(general, 500)), general, SPEC, 'general'],
        [asF32(randomPoints(general, 900)), general, preview, 'preview radius'],
      ] as const;
      const checks: Check[] = [];
      for (const [pts, pose, spec, label] of cases) {
        const cam = packFisheyeParams(CALIB, pose, H);
        const [got] = await runSplat(dev, pts, [cam], 'zbuffer', spec);
        const ambiguous = new Uint8Array(W * H);
        const want = refZbuffer(pts, cam, { ...spec, radius: spec.zbufferRadius ?? spec.radius }, ambiguous);
        // Exact bytes except where a point within 1e-4 of the disc edge could win in float32
        // (one point decides a pixel here, so such a point flips it).
        let differing = 0;
        let skipped = 0;
        for (let p = 0; p < W * H; p++) {
          if (ambiguous[p]) skipped++;
          else if (got![3 * p] !== want[3 * p] || got![3 * p + 1] !== want[3 * p + 1] || got![3 * p + 2] !== want[3 * p + 2]) differing++;
        }
        checks.push(
          { what: `${label}: differing pixels`, value: differing, equals: 0 },
          { what: `${label}: ambiguous pixels skipped`, value: skipped, max: Math.ceil(ZBUFFER_AMBIGUOUS_FRACTION * W * H) },
          { what: `${label}: lit pixels`, value: litPixels(want), above: 0.3 * W * H },
        );
      }
      return checks;
    },
  },
];
