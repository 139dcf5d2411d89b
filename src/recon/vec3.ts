/** Plain 3-vectors (float64 tuples) for the small amount of CPU geometry recon does per frame. */
export type Vec3 = [number, number, number];

export const add = (a: Vec3, b: Vec3): Vec3 => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
export const sub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
export const scale = (a: Vec3, s: number): Vec3 => [a[0] * s, a[1] * s, a[2] * s];
export const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
export const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
export const norm = (a: Vec3): number => Math.hypot(a[0], a[1], a[2]);

/** a / |a|; a zero vector stays zero (callers check the length where it matters). */
export function normalize(a: Vec3): Vec3 {
  const n = norm(a);
  return n > 0 ? [a[0] / n, a[1] / n, a[2] / n] : [0, 0, 0];
}

/** a with its component along the unit vector n removed. */
export function rejectFrom(a: Vec3, n: Vec3): Vec3 {
  return sub(a, scale(n, dot(a, n)));
}

/** Angle between two directions, degrees. */
export function angleDeg(a: Vec3, b: Vec3): number {
  const c = dot(a, b) / (norm(a) * norm(b));
  return (Math.acos(Math.max(-1, Math.min(1, c))) * 180) / Math.PI;
}

/** Row r of a row-major 3x4 [R|t] as a vector (the camera's r-th axis in world coordinates). */
export function rotationRow(w2c: ArrayLike<number>, r: number): Vec3 {
  return [w2c[4 * r]!, w2c[4 * r + 1]!, w2c[4 * r + 2]!];
}
