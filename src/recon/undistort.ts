/**
 * Re-implementation of OpenCV's `cv2.undistortPoints(pts, K, D, R=I, P=I)` with its default
 * termination (TermCriteria COUNT, 5 iterations: a plain fixed-point iteration, no error test)
 * for the rational + tangential + thin-prism model. EgoX's GGA calls it with the Aria
 * coefficients in fisheye order, which OpenCV reads in its own order (spec D.1.3); reproducing
 * that reading is the point of this module, so D is always taken in OpenCV's order:
 * (k1, k2, p1, p2[, k3[, k4, k5, k6[, s1, s2, s3, s4]]]).
 * Written from a reading of OpenCV's undistort.dispatch.cpp (undistortPointsInternal).
 */

/** OpenCV's default iteration count for undistortPoints without explicit criteria. */
export const OPENCV_UNDISTORT_ITERATIONS = 5;

export interface UndistortIntrinsics {
  fx: number;
  fy: number;
  cx: number;
  cy: number;
}

/**
 * Undistorts pixel points to normalised camera coordinates (R = I, P = I), float64.
 * @param pts interleaved (u0, v0, u1, v1, ...), u = column, v = row
 * @param K   intrinsics, or a 3x3 row-major matrix
 * @param D   4, 5, 8 or 12 coefficients in OpenCV order (a 14-vector is accepted only with zero tilt)
 * @returns interleaved normalised (x, y)
 */
export function undistortPointsOpenCV(
  pts: ArrayLike<number>,
  K: UndistortIntrinsics | ArrayLike<number>,
  D: ArrayLike<number>,
  iterations = OPENCV_UNDISTORT_ITERATIONS,
): Float64Array {
  const { fx, fy, cx, cy } = 'fx' in K ? K : { fx: K[0]!, fy: K[4]!, cx: K[2]!, cy: K[5]! };
  const n = D.length;
  if (n !== 0 && n !== 4 && n !== 5 && n !== 8 && n !== 12 && n !== 14) {
    throw new Error(`undistortPointsOpenCV: distortion vector must have 4, 5, 8, 12 or 14 entries, got ${n}`);
  }
  if (n === 14 && (D[12] !== 0 || D[13] !== 0)) {
    throw new Error('undistortPointsOpenCV: tilted-sensor coefficients (tauX, tauY) are not supported');
  }
  if (pts.length % 2 !== 0) throw new Error('undistortPointsOpenCV: points must be interleaved (x, y) pairs');
  const k = new Float64Array(12);
  for (let i = 0; i < Math.min(n, 12); i++) k[i] = D[i]!;
  const [k1, k2, p1, p2, k3, k4, k5, k6, s1, s2, s3, s4] = k as unknown as number[];
  // OpenCV multiplies by precomputed reciprocals, not divides; keep that for bit-level agreement.
  const ifx = 1 / fx!;
  const ify = 1 / fy!;
  const out = new Float64Array(pts.length);
  for (let i = 0; i < pts.length; i += 2) {
    const u = pts[i]!;
    const v = pts[i + 1]!;
    const x0 = (u - cx) * ifx;
    const y0 = (v - cy) * ify;
    let x = x0;
    let y = y0;
    if (n > 0) {
      for (let it = 0; it < iterations; it++) {
        const r2 = x * x + y * y;
        // inverse of the rational radial factor: (1 + k4 r2 + k5 r4 + k6 r6) / (1 + k1 r2 + k2 r4 + k3 r6)
        const icdist = (1 + ((k6! * r2 + k5!) * r2 + k4!) * r2) / (1 + ((k3! * r2 + k2!) * r2 + k1!) * r2);
        if (icdist < 0) {
          // OpenCV gives up and returns the undistorted-by-nothing point (regression 14583).
          x = x0;
          y = y0;
          break;
        }
        const dx = 2 * p1! * x * y + p2! * (r2 + 2 * x * x) + s1! * r2 + s2! * r2 * r2;
        const dy = p1! * (r2 + 2 * y * y) + 2 * p2! * x * y + s3! * r2 + s4! * r2 * r2;
        x = (x0 - dx) * icdist;
        y = (y0 - dy) * icdist;
      }
    }
    out[i] = x;
    out[i + 1] = y;
  }
  return out;
}

/**
 * The forward model (normalised undistorted -> normalised distorted) OpenCV's solver inverts;
 * used by tests to check residuals and by callers that need the distorted position.
 */
export function distortPointOpenCV(x: number, y: number, D: ArrayLike<number>): [number, number] {
  const k = new Float64Array(12);
  for (let i = 0; i < Math.min(D.length, 12); i++) k[i] = D[i]!;
  const r2 = x * x + y * y;
  const radial = (1 + ((k[4]! * r2 + k[1]!) * r2 + k[0]!) * r2) / (1 + ((k[7]! * r2 + k[6]!) * r2 + k[5]!) * r2);
  return [
    x * radial + 2 * k[2]! * x * y + k[3]! * (r2 + 2 * x * x) + k[8]! * r2 + k[9]! * r2 * r2,
    y * radial + k[2]! * (r2 + 2 * y * y) + 2 * k[3]! * x * y + k[10]! * r2 + k[11]! * r2 * r2,
  ];
}
