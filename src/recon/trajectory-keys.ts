/**
 * Trajectory keys: what a user gives per keyframe (exo pixels of the head and optionally of what
 * the person looks at), the CLI's text form FRAME:U,V[:LU,LV], and their checks against the clip.
 */
import { InputError } from '../runtime/errors.ts';

/** One click set: frame index, head pixel and optional look-at pixel (exo video pixels, u = column). */
export interface TrajectoryKey {
  frame: number;
  head: [number, number];
  lookAt?: [number, number];
}

/** A bad key: one line naming the key and what to change. */
export class TrajectoryKeyError extends InputError {}

export const fmtKey = (k: TrajectoryKey) => `${k.frame}:${k.head.join(',')}${k.lookAt ? `:${k.lookAt.join(',')}` : ''}`;

/** Checks keys against the clip and the exo frame; returns them sorted by frame. */
export function checkKeys(keys: readonly TrajectoryKey[], frames: number, exoSize: [number, number]): TrajectoryKey[] {
  if (keys.length === 0) throw new TrajectoryKeyError('no keys: give at least one --key FRAME:U,V (the head pixel in that exo frame)');
  const [EH, EW] = exoSize;
  const seen = new Set<number>();
  for (const k of keys) {
    if (!(Number.isInteger(k.frame) && k.frame >= 0 && k.frame < frames)) {
      throw new TrajectoryKeyError(`key ${fmtKey(k)}: frame ${k.frame} is outside 0..${frames - 1}`);
    }
    if (seen.has(k.frame)) throw new TrajectoryKeyError(`key ${fmtKey(k)}: frame ${k.frame} has two keys; keep one`);
    seen.add(k.frame);
    for (const [what, px] of [['head', k.head], ['look-at', k.lookAt]] as const) {
      if (!px) continue;
      const [u, v] = px;
      if (!(Number.isFinite(u) && Number.isFinite(v) && u >= 0 && v >= 0 && u <= EW - 1 && v <= EH - 1)) {
        throw new TrajectoryKeyError(`key ${fmtKey(k)}: ${what} pixel (${u}, ${v}) is outside the ${EW}x${EH} exo frame (u in 0..${EW - 1}, v in 0..${EH - 1})`);
      }
    }
  }
  return [...keys].sort((a, b) => a.frame - b.frame);
}

const KEY_FORM = 'FRAME:U,V or FRAME:U,V:LU,LV (exo pixels: U = column, V = row; LU,LV = where the person looks)';

/** Parses FRAME:U,V[:LU,LV]. */
export function parseTrajectoryKey(text: string): TrajectoryKey {
  const parts = text.split(':');
  const pixel = (p: string | undefined): [number, number] | null => {
    const xy = (p ?? '').split(',').map((s) => (s.trim() === '' ? NaN : Number(s)));
    return xy.length === 2 && xy.every(Number.isFinite) ? [xy[0]!, xy[1]!] : null;
  };
  const frame = parts[0]?.trim() === '' ? NaN : Number(parts[0]);
  const head = pixel(parts[1]);
  const lookAt = parts.length === 3 ? pixel(parts[2]) : undefined;
  if (parts.length < 2 || parts.length > 3 || !Number.isInteger(frame) || !head || lookAt === null) {
    throw new TrajectoryKeyError(`--key '${text}': expected ${KEY_FORM}`);
  }
  return { frame, head, ...(lookAt ? { lookAt } : {}) };
}
