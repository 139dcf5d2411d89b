/**
 * The demo scene's world: a textured room (floor, four walls, ceiling), a table and a cabinet as
 * axis-aligned boxes, and one moving object, a ball that rolls across the floor over the clip.
 * Units are metres, world Z is up (as in Ego-Exo4D's world frame) and the floor is z = 0.
 * Geometry here is exact and analytic, so tests can check rendered depth against it.
 */
import { checker, mixInto, pulse, scaleInto, squareWave, valueNoise } from './textures.ts';

/** Interior of the room (the camera rays start inside it). */
export const ROOM = Object.freeze({ min: [-3, -3, 0] as const, max: [3, 3, 2.8] as const });

/** Surface ids: which material a ray hit. */
export const SURFACE = Object.freeze({
  FLOOR: 0,
  CEILING: 1,
  WALL_X_MIN: 2,
  WALL_X_MAX: 3,
  WALL_Y_MIN: 4,
  WALL_Y_MAX: 5,
  TABLE_TOP: 6,
  TABLE_SIDE: 7,
  CABINET: 8,
  BALL: 9,
});

export interface SceneBox {
  name: string;
  min: readonly [number, number, number];
  max: readonly [number, number, number];
  /** Surface id of the +z face and of the other faces. */
  top: number;
  side: number;
}

/** Static furniture; the cameras never start inside one. */
export const BOXES: readonly SceneBox[] = Object.freeze([
  { name: 'table', min: [1.0, 1.4, 0], max: [2.2, 2.4, 0.75], top: SURFACE.TABLE_TOP, side: SURFACE.TABLE_SIDE },
  { name: 'cabinet', min: [-2.2, 2.45, 0], max: [-1.0, 3.0, 1.9], top: SURFACE.CABINET, side: SURFACE.CABINET },
]);

export const BALL_RADIUS = 0.3;
const BALL_START = [-0.6, 1.2] as const;
const BALL_END = [1.8, -0.6] as const;

/** The ball at one instant: centre, radius and the world-to-ball rotation of its texture (row-major 3x3). */
export interface BallState {
  cx: number;
  cy: number;
  cz: number;
  r: number;
  rot: Float64Array;
}

/**
 * The ball at clip time s in [0, 1]: constant speed along a straight line on the floor, rolling
 * without slipping (angle = distance / radius about up x direction), so its texture visibly turns.
 */
export function ballAt(s: number): BallState {
  const dx = BALL_END[0] - BALL_START[0];
  const dy = BALL_END[1] - BALL_START[1];
  const len = Math.hypot(dx, dy);
  const mx = dx / len;
  const my = dy / len;
  // Rolling axis = up x motion = (-my, mx, 0); texture rotation undoes the rolled angle.
  const ax = -my;
  const ay = mx;
  const angle = -(s * len) / BALL_RADIUS;
  const c = Math.cos(angle);
  const sn = Math.sin(angle);
  const t = 1 - c;
  // Rodrigues for a unit axis (ax, ay, 0).
  const rot = Float64Array.of(c + t * ax * ax, t * ax * ay, sn * ay, t * ax * ay, c + t * ay * ay, -sn * ax, -sn * ay, sn * ax, c);
  return { cx: BALL_START[0] + s * dx, cy: BALL_START[1] + s * dy, cz: BALL_RADIUS, r: BALL_RADIUS, rot };
}

/**
 * World box enclosing everything the ball changes in an image: the ball and its contact shadow
 * on the floor (which fades out within about 2.1 radii).
 */
export function ballInfluenceBox(b: BallState): { min: [number, number, number]; max: [number, number, number] } {
  const reach = 2.3 * b.r;
  return { min: [b.cx - reach, b.cy - reach, 0], max: [b.cx + reach, b.cy + reach, b.cz + b.r] };
}

// ------------------------------------------------------------------ materials

const LIGHT = (() => {
  const l = [0.35, 0.25, 1];
  const n = Math.hypot(l[0]!, l[1]!, l[2]!);
  return [l[0]! / n, l[1]! / n, l[2]! / n] as const;
})();

const BALL_PALETTE: readonly (readonly number[])[] = [
  [0.9, 0.12, 0.1], [0.98, 0.85, 0.1], [0.1, 0.3, 0.9], [0.97, 0.97, 0.97],
  [0.1, 0.7, 0.2], [0.98, 0.5, 0.05], [0.55, 0.15, 0.75], [0.1, 0.8, 0.85],
];

const GRAIN_CELL = 0.05;
const GRAIN_AMPLITUDE = 0.08;

// Material colours, allocated once (albedo runs for every pixel).
const FLOOR_DARK: readonly number[] = [0.42, 0.28, 0.17];
const FLOOR_LIGHT: readonly number[] = [0.8, 0.64, 0.44];
const CEILING_PAINT: readonly number[] = [0.93, 0.93, 0.9];
const CEILING_LINE: readonly number[] = [0.62, 0.62, 0.64];
const GREEN_DARK: readonly number[] = [0.36, 0.62, 0.38];
const GREEN_LIGHT: readonly number[] = [0.66, 0.86, 0.6];
const TILE_ORANGE: readonly number[] = [0.96, 0.62, 0.3];
const TILE_PINK: readonly number[] = [0.9, 0.42, 0.62];
const GROUT: readonly number[] = [0.25, 0.2, 0.2];
const LILAC_DARK: readonly number[] = [0.55, 0.5, 0.7];
const LILAC_LIGHT: readonly number[] = [0.82, 0.8, 0.88];
const WINDOW_FRAME: readonly number[] = [0.95, 0.95, 0.93];
const SKY_LOW: readonly number[] = [0.5, 0.72, 0.98];
const SKY_HIGH: readonly number[] = [0.88, 0.94, 1.0];
const BAND_NAVY: readonly number[] = [0.18, 0.2, 0.32];
const BLUE_DARK: readonly number[] = [0.28, 0.42, 0.74];
const BLUE_LIGHT: readonly number[] = [0.58, 0.72, 0.92];
const CLOTH_RED: readonly number[] = [0.8, 0.14, 0.14];
const CLOTH_WHITE: readonly number[] = [0.95, 0.93, 0.9];
const WOOD_DARK: readonly number[] = [0.3, 0.19, 0.1];
const WOOD_LIGHT: readonly number[] = [0.4, 0.26, 0.14];
const CABINET_TEAL: readonly number[] = [0.22, 0.52, 0.52];
const CABINET_SEAM: readonly number[] = [0.08, 0.22, 0.24];

/** Albedo of a room or furniture surface at texture coordinates (u, v) in metres; fp = pixel footprint in metres. */
function albedo(surface: number, u: number, v: number, fp: number, out: Float64Array): void {
  switch (surface) {
    case SURFACE.FLOOR: // wooden checkerboard, 0.5 m tiles
      mixInto(out, FLOOR_DARK, FLOOR_LIGHT, checker(u, v, fp));
      return;
    case SURFACE.CEILING: {
      mixInto(out, CEILING_PAINT, CEILING_LINE, Math.max(pulse(u / 0.6 + 0.025, 0.05, fp / 0.6), pulse(v / 0.6 + 0.025, 0.05, fp / 0.6)));
      return;
    }
    case SURFACE.WALL_X_MIN: // green horizontal stripes
      mixInto(out, GREEN_DARK, GREEN_LIGHT, 0.5 + 0.5 * squareWave(v / 0.4, fp / 0.4));
      return;
    case SURFACE.WALL_X_MAX: {
      // orange-to-pink gradient along the wall, 0.4 m tiles with dark grout lines
      mixInto(out, TILE_ORANGE, TILE_PINK, (u + 3) / 6);
      scaleInto(out, 0.8 + 0.25 * checker(u / 0.8, v / 0.8, fp / 0.8));
      const q = 0.025 / 0.4;
      const line = Math.max(pulse(u / 0.4 + q / 2, q, fp / 0.4), pulse(v / 0.4 + q / 2, q, fp / 0.4));
      mixInto(out, out, GROUT, line);
      return;
    }
    case SURFACE.WALL_Y_MIN: // lilac diagonal stripes
      mixInto(out, LILAC_DARK, LILAC_LIGHT, 0.5 + 0.5 * squareWave((u + v) / 0.5, (fp * 1.42) / 0.5));
      return;
    case SURFACE.WALL_Y_MAX: {
      // blue vertical stripes, a dark band at hip height, a window with a white cross frame
      if (u > 0.3 && u < 1.5 && v > 1.15 && v < 2.2) {
        const frame = Math.abs(u - 0.9) < 0.035 || Math.abs(v - 1.675) < 0.035 || u < 0.36 || u > 1.44 || v < 1.21 || v > 2.14;
        if (frame) mixInto(out, WINDOW_FRAME, WINDOW_FRAME, 0);
        else mixInto(out, SKY_LOW, SKY_HIGH, (v - 1.15) / 1.05);
        return;
      }
      if (v > 0.85 && v < 0.95) {
        mixInto(out, BAND_NAVY, BAND_NAVY, 0);
        return;
      }
      mixInto(out, BLUE_DARK, BLUE_LIGHT, 0.5 + 0.5 * squareWave(u / 0.3, fp / 0.3));
      if (v < 0.85) scaleInto(out, 0.75);
      return;
    }
    case SURFACE.TABLE_TOP: // red and white checked tablecloth
      mixInto(out, CLOTH_RED, CLOTH_WHITE, checker(u / 0.3, v / 0.3, fp / 0.3));
      return;
    case SURFACE.TABLE_SIDE: // dark wood with grain bands
      mixInto(out, WOOD_DARK, WOOD_LIGHT, 0.5 + 0.5 * squareWave(v / 0.08, fp / 0.08));
      return;
    case SURFACE.CABINET: {
      // teal panels: vertical seams every 0.4 m, shelf lines every 0.63 m
      const seam = Math.max(pulse(u / 0.4 + 0.05, 0.1, fp / 0.4), pulse(v / 0.633 + 0.04, 0.08, fp / 0.633));
      mixInto(out, CABINET_TEAL, CABINET_SEAM, seam);
      return;
    }
    default:
      throw new Error(`demo scene: unknown surface ${surface}`);
  }
}

/**
 * Shaded colour (linear [0, 1] RGB, written to out) of the surface point p with unit normal n,
 * seen with a pixel footprint of `fp` metres. `ball` casts its contact shadow on the floor; seed
 * varies the surface grain.
 */
export function shadePoint(
  surface: number,
  px: number,
  py: number,
  pz: number,
  nx: number,
  ny: number,
  nz: number,
  fp: number,
  ball: BallState | null,
  seed: number,
  out: Float64Array,
): void {
  const lambert = Math.max(0, nx * LIGHT[0] + ny * LIGHT[1] + nz * LIGHT[2]);
  if (surface === SURFACE.BALL && ball) {
    const lx = px - ball.cx;
    const ly = py - ball.cy;
    const lz = pz - ball.cz;
    const r = ball.rot;
    const bx = r[0]! * lx + r[1]! * ly + r[2]! * lz;
    const by = r[3]! * lx + r[4]! * ly + r[5]! * lz;
    const bz = r[6]! * lx + r[7]! * ly + r[8]! * lz;
    const c = BALL_PALETTE[(bx > 0 ? 1 : 0) | (by > 0 ? 2 : 0) | (bz > 0 ? 4 : 0)]!;
    mixInto(out, c, c, 0);
    scaleInto(out, 0.35 + 0.65 * lambert);
    return;
  }
  // Texture coordinates: the two world axes spanning the face (normals are axis-aligned here).
  let u: number;
  let v: number;
  if (Math.abs(nz) > 0.5) {
    u = px;
    v = py;
  } else if (Math.abs(nx) > 0.5) {
    u = py;
    v = pz;
  } else {
    u = px;
    v = pz;
  }
  albedo(surface, u, v, fp, out);
  // Grain fades out once a pixel covers a grain cell (it would only alias).
  const fade = Math.min(1, Math.max(0, 1 - fp / GRAIN_CELL));
  let k = 0.62 + 0.38 * lambert;
  if (fade > 0) k *= 1 + GRAIN_AMPLITUDE * fade * (2 * valueNoise(u / GRAIN_CELL, v / GRAIN_CELL, seed * 16 + surface) - 1);
  if (surface === SURFACE.FLOOR && ball) {
    const d2 = (px - ball.cx) ** 2 + (py - ball.cy) ** 2;
    k *= 1 - 0.55 * Math.exp(-d2 / (0.81 * ball.r * ball.r));
  }
  scaleInto(out, k);
}
