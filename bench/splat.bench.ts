// Ego-prior point splatting (src/kernels/render/splat.ts) at the EgoX render size: 448x448, 5 px
// points, K = 20, through the default Aria fisheye. Points are spread over the view at 1-10 m
// (about one point per pixel for 200k points: every pixel sees dozens of candidates, like the
// nearby floor of a real take). One run = one frame: project, bin, sort, rasterise.
// Peers: the same kernel family's per-pixel K-list insertion variant ('array'); the z-buffer
// preview (1.5 px points, nearest point per pixel) has none.
import type { BenchCase, BenchContext, BenchInstance } from './types.ts';
import { Splatter, type SplatSpec } from '../src/kernels/render/splat.ts';
import { DEFAULT_EGO_CALIBRATION, packFisheyeParams } from '../src/recon/cameras.ts';

const SIZE = 448;
// As the prior renderer: 5 px splats, 1.5 px points in the z-buffer preview.
const SPEC: SplatSpec = { width: SIZE, height: SIZE, radius: 10 / SIZE, pointsPerPixel: 20, zbufferRadius: 3 / SIZE };
const POSE = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0];

/** Points in front of the identity camera, uniform in angle (within ~80 degrees) and in depth 1..10 m. */
function scenePoints(n: number): Uint32Array {
  const f = new Float32Array(n * 4);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < n; i++) {
    const z = 1 + 9 * Math.random();
    const a = (Math.random() * 2 - 1) * 1.4;
    const b = (Math.random() * 2 - 1) * 1.4;
    f[4 * i] = a * z;
    f[4 * i + 1] = b * z;
    f[4 * i + 2] = z;
    u[4 * i + 3] = (Math.random() * 0xffffff) | (1 << 24);
  }
  return u;
}

function splatCase(points: number, mode: 'composite' | 'zbuffer'): BenchCase {
  return {
    kernel: 'splat',
    shape: `${points / 1000}k points -> ${SIZE}x${SIZE} ${mode === 'composite' ? '5px K=20 alpha' : '1.5px z-buffer'}`,
    items: { count: points, unit: 'points' },
    async setup(ctx: BenchContext): Promise<BenchInstance> {
      const { dev } = ctx;
      const pts = await dev.upload(scenePoints(points), [points, 4], 'u32');
      const cam = await dev.upload(packFisheyeParams(DEFAULT_EGO_CALIBRATION, POSE, SIZE), [1, 32], 'f32');
      const out = dev.empty([SIZE * SIZE], 'u32');
      const main = new Splatter(dev, SPEC, points, 'presorted');
      const peerSplatter = mode === 'composite' ? new Splatter(dev, SPEC, points, 'array') : undefined;
      return {
        run: () => void main.run(pts, points, cam, 0, out, mode),
        peers: peerSplatter
          ? [{ name: 'splat per-pixel K-list (array variant)', run: () => void peerSplatter.run(pts, points, cam, 0, out), sync: () => dev.sync() }]
          : [],
        dispose: () => {
          main.release();
          peerSplatter?.release();
          for (const t of [pts, cam, out]) t.release();
        },
      };
    },
  };
}

export const cases = ({ quick }: { quick: boolean }): BenchCase[] => [
  splatCase(200_000, 'composite'),
  splatCase(200_000, 'zbuffer'),
  ...(quick ? [] : [splatCase(400_000, 'composite'), splatCase(400_000, 'zbuffer')]),
];
