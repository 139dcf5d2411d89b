// Trajectories on a synthetic scene with known answers: a level exo camera looking at a floor
// and a back wall, a head (sphere) walking across, its gaze either along the walk or at points
// on the wall; plus the pose convention and every bad key.
import { describe, expect, it } from 'vitest';
import { projectFisheye, DEFAULT_EGO_CALIBRATION } from '../../src/recon/cameras.ts';
import { ariaAxes } from '../../src/recon/aria-pose.ts';
import { exoView, fromDepthGrid, type ExoView } from '../../src/recon/exo-view.ts';
import { buildTrajectory, TrajectoryKeyError, type TrajectoryKey } from '../../src/recon/trajectory.ts';
import { parseTrajectoryKey } from '../../src/recon/trajectory-keys.ts';
import { add, angleDeg, norm, normalize, scale, sub, type Vec3 } from '../../src/recon/vec3.ts';
import { paintSphere } from './trajectory-truth.ts';

const H = 120;
const W = 200;
const FRAMES = 49;
const RADIUS = 0.1;
const EXO_C: Vec3 = [0, -5, 1.5];
// Level camera looking along +y: x right, y down (-z), z forward (+y); K already on the grid (cx = W/2).
const F = 240;
const K = [F, 0, W / 2, 0, F, H / 2, 0, 0, 1];
const E = [1, 0, 0, 0, 0, 0, -1, 1.5, 0, 1, 0, 5];
const view: ExoView = exoView(K, E, [H, W], [H, W]);

function toCam(p: Vec3): Vec3 {
  return [p[0] - EXO_C[0], -(p[2] - EXO_C[2]), p[1] - EXO_C[1]];
}

function pixelOf(p: Vec3): [number, number] {
  const q = toCam(p);
  const e = fromDepthGrid(view, (F * q[0]) / q[2] + W / 2, (F * q[1]) / q[2] + H / 2);
  return [e.u, e.v];
}

/** Floor z = 0 and wall y = 3 as z-depth, with the head painted in. */
function sceneDepth(head: Vec3): Float32Array {
  const d = new Float32Array(H * W);
  for (let r = 0; r < H; r++) {
    for (let c = 0; c < W; c++) {
      const b = (r - H / 2) / F;
      d[r * W + c] = Math.min(8, b > 0 ? 1.5 / b : Infinity);
    }
  }
  paintSphere(view, d, toCam(head), RADIUS);
  return d;
}

/** A uniform walk with a small wave in height (so travel is not trivially along an axis). */
const headAt = (f: number): Vec3 => [-1.2 + (2.4 * f) / (FRAMES - 1), -1 + f / (FRAMES - 1), 1.6];

function run(keys: TrajectoryKey[], depth: (f: number) => Float32Array) {
  return buildTrajectory({ view, frames: FRAMES, depth, up: [0, 0, 1] }, keys, { headRadius: RADIUS, eyeOffset: RADIUS });
}

describe('buildTrajectory on a synthetic scene', () => {
  const depths = Array.from({ length: FRAMES }, (_, f) => sceneDepth(headAt(f)));
  const depth = (f: number) => depths[f]!;

  it('without look-at pixels the gaze follows the walk; centres and axes match on every frame', () => {
    const keys = [0, 8, 16, 24, 32, 40, 48].map((f) => ({ frame: f, head: pixelOf(headAt(f)) }));
    const t = run(keys, depth);
    expect(t.keyGaze.every((g) => g === 'travel')).toBe(true);
    const walk = normalize(sub(headAt(1), headAt(0)));
    for (let f = 0; f < FRAMES; f++) {
      const truth = add(headAt(f), scale(walk, RADIUS));
      expect(norm(sub(t.centres[f]!, truth))).toBeLessThan(0.01);
      expect(angleDeg(t.forwards[f]!, walk)).toBeLessThan(0.5);
      const axes = ariaAxes(t.poses[f]!);
      expect(norm(sub(axes.centre, t.centres[f]!))).toBeLessThan(1e-9);
      expect(angleDeg(axes.up, [0, 0, 1])).toBeLessThan(1e-6); // upright: head up = scene up
    }
  });

  it('look-at pixels on the wall give the gaze exactly at the keys and closely between them', () => {
    const target = (f: number): Vec3 => [1.5 - (3 * f) / (FRAMES - 1), 3, 1.0 + 0.5 * Math.sin(f / 10)];
    const fwd = (f: number) => normalize(sub(target(f), headAt(f)));
    const keys = [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48].map((f) => ({ frame: f, head: pixelOf(headAt(f)), lookAt: pixelOf(target(f)) }));
    const t = run(keys, depth);
    for (let f = 0; f < FRAMES; f++) {
      const truth = add(headAt(f), scale(fwd(f), RADIUS));
      const onKey = f % 4 === 0;
      expect(norm(sub(t.centres[f]!, truth))).toBeLessThan(onKey ? 0.005 : 0.01);
      expect(angleDeg(t.forwards[f]!, fwd(f))).toBeLessThan(onKey ? 0.5 : 1.5);
    }
  });

  it('writes the sideways Aria convention: the renderer sees up as up and right as right', () => {
    const t = run([{ frame: 0, head: pixelOf(headAt(0)) }, { frame: 48, head: pixelOf(headAt(48)) }], depth);
    const { centre, forward } = ariaAxes(t.poses[24]!);
    const right = normalize([forward[1], -forward[0], 0]);
    const ahead = add(centre, scale(forward, 3));
    const at = (p: Vec3) => projectFisheye(DEFAULT_EGO_CALIBRATION, t.poses[24]!, p[0], p[1], p[2]);
    const mid = at(ahead);
    expect(at(add(ahead, [0, 0, 0.5])).row).toBeLessThan(mid.row - 5); // above: higher in the image
    expect(at(add(ahead, scale(right, 0.5))).col).toBeGreaterThan(mid.col + 5); // right: further right
  });
});

describe('trajectory keys', () => {
  const depth = () => sceneDepth(headAt(0));
  const bad = (keys: TrajectoryKey[], pattern: RegExp) => {
    let err: unknown;
    try {
      run(keys, depth);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TrajectoryKeyError);
    expect((err as TrajectoryKeyError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(pattern);
    expect((err as Error).message).not.toMatch(/\n/);
  };
  const head = pixelOf(headAt(0));

  it('rejects no keys, frames out of range, pixels outside the frame, two keys on one frame', () => {
    bad([], /at least one --key/);
    bad([{ frame: 49, head }], /frame 49 is outside 0\.\.48/);
    bad([{ frame: -1, head }], /outside 0\.\.48/);
    bad([{ frame: 0, head: [W, 10] }], /head pixel \(200, 10\) is outside the 200x120 exo frame/);
    bad([{ frame: 0, head, lookAt: [10, -1] }], /look-at pixel .* outside/);
    bad([{ frame: 3, head }, { frame: 3, head }], /two keys/);
  });

  it('rejects a pixel with no valid depth and a look-at on the head', () => {
    const holey = sceneDepth(headAt(0));
    holey.fill(NaN, 0, W * 10);
    expect(() => buildTrajectory({ view, frames: FRAMES, depth: () => holey, up: [0, 0, 1] }, [{ frame: 0, head: [50, 5] }])).toThrow(/no valid depth in frame 0/);
    bad([{ frame: 0, head, lookAt: head }], /lies on the head/);
  });

  it('parses FRAME:U,V[:LU,LV] and rejects other forms in one line', () => {
    expect(parseTrajectoryKey('12:300.5,200')).toEqual({ frame: 12, head: [300.5, 200] });
    expect(parseTrajectoryKey('0:1,2:3,4')).toEqual({ frame: 0, head: [1, 2], lookAt: [3, 4] });
    for (const s of ['', '12', '12:300', '1.5:3,4', 'a:1,2', '1:2,3:4', '1:2,3:4,5:6', '1:,3']) {
      expect(() => parseTrajectoryKey(s)).toThrow(TrajectoryKeyError);
    }
  });
});
