/**
 * Does the exo camera move? The image translation between the first frame and later ones,
 * found by exhaustive search on a half-resolution grey image (mean absolute difference over the
 * overlap). A static camera gives no shift even while people move (the background dominates);
 * a pan or tilt gives a steady one. Low-texture scenes defeat the per-pixel static test of
 * depth-align.ts, not this one, as long as some edges are visible.
 */

export interface ShiftEstimate {
  /** Pixels (full resolution) the view of frame f moved by since the first frame (+x: panned right, the scene slides left). */
  dx: number;
  dy: number;
}

export interface CameraMotion {
  /** Frame index -> shift against the first frame (within the search radius), for the frames compared. */
  shifts: Map<number, ShiftEstimate>;
  /** Half the compared frames or more are shifted by 2 px or more. */
  moves: boolean;
}

/** Grey image at half resolution (2x2 means). */
function halfGrey(rgb: Uint8Array, width: number, height: number): Float32Array {
  const w = width >> 1;
  const h = height >> 1;
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (const [oy, ox] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
        const p = 3 * ((2 * y + oy) * width + 2 * x + ox);
        s += 0.299 * rgb[p]! + 0.587 * rgb[p + 1]! + 0.114 * rgb[p + 2]!;
      }
      out[y * w + x] = s / 4;
    }
  }
  return out;
}

const STILL_MARGIN = 0.8;

/** The shift (in half-resolution pixels, |d| <= radius) minimising the mean |a(x) - b(x + d)|. */
function bestShift(a: Float32Array, b: Float32Array, w: number, h: number, radius: number): [number, number] {
  let best = Infinity;
  let still = Infinity;
  let at: [number, number] = [0, 0];
  for (let dy = -radius; dy <= radius; dy++) {
    for (let dx = -radius; dx <= radius; dx++) {
      let sum = 0;
      let n = 0;
      const y0 = Math.max(0, -dy);
      const y1 = Math.min(h, h - dy);
      const x0 = Math.max(0, -dx);
      const x1 = Math.min(w, w - dx);
      for (let y = y0; y < y1; y++) {
        const ra = y * w;
        const rb = (y + dy) * w + dx;
        for (let x = x0; x < x1; x++) {
          sum += Math.abs(a[ra + x]! - b[rb + x]!);
          n++;
        }
      }
      const cost = sum / n;
      if (dx === 0 && dy === 0) still = cost;
      if (cost < best) {
        best = cost;
        at = [dx, dy];
      }
    }
  }
  // A shift must explain the change clearly better than no motion (moving people, noise and
  // flat regions change the cost a little at every shift).
  return best < STILL_MARGIN * still ? at : [0, 0];
}

export interface MotionOptions {
  /** Compare every `every`-th frame with the first and the one before (default 2). */
  every?: number;
  /** Search radius in half-resolution pixels (default 8, i.e. 16 px). */
  radius?: number;
}

export function estimateCameraMotion(frames: readonly Uint8Array[], width: number, height: number, o: MotionOptions = {}): CameraMotion {
  const every = o.every ?? 2;
  const radius = o.radius ?? 8;
  const w = width >> 1;
  const h = height >> 1;
  const first = halfGrey(frames[0]!, width, height);
  let previous = first;
  const shifts = new Map<number, ShiftEstimate>();
  let moved = 0;
  for (let f = every; f < frames.length; f += every) {
    const grey = halfGrey(frames[f]!, width, height);
    // Against the first frame (slow drift) and the previous sample (a pan past the radius).
    const [dx, dy] = bestShift(first, grey, w, h, radius);
    const [sx, sy] = bestShift(previous, grey, w, h, radius);
    previous = grey;
    shifts.set(f, { dx: -2 * dx || 0, dy: -2 * dy || 0 });
    if (dx !== 0 || dy !== 0 || sx !== 0 || sy !== 0) moved++;
  }
  return { shifts, moves: shifts.size > 0 && moved * 2 >= shifts.size };
}
