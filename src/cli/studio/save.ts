// The studio's save: keys from the page -> the 49 poses by the same library `egox trajectory`
// uses -> the prior rendered in memory -> meta.json rewritten (old one kept as a backup) and
// ego_Prior.mp4 written. Every path is checked against the studio folder before anything is
// written, and the slow part (the render) runs before the first write.
import * as path from 'node:path';
import type { EgoxDevice } from '../../runtime/device.ts';
import { InputError } from '../../runtime/errors.ts';
import { encodeVideo } from '../../io/video.ts';
import type { EgoxTakeWithDepth } from '../../io/meta.ts';
import { renderPrior, PRIOR_FPS } from '../../pipeline/prior.ts';
import { saveTrajectory, trajectoryForTake } from '../../pipeline/trajectory.ts';
import type { TrajectoryKey } from '../../recon/trajectory.ts';
import type { StudioFolder } from './folder.ts';

export class StudioRequestError extends InputError {}

export interface SaveResult {
  metaPath: string;
  backupPath: string;
  priorPath: string;
  poses: number[][];
}

const pixel = (v: unknown): v is [number, number] => Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isFinite(x));

/** Keys as the page sends them: [{frame, head: [u, v], lookAt?: [u, v]}]. */
export function parseKeys(body: unknown): TrajectoryKey[] {
  const keys = (body as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new StudioRequestError('save: expected {"keys": [{"frame": F, "head": [u, v], "lookAt"?: [u, v]}, ...]}');
  return keys.map((k: { frame?: unknown; head?: unknown; lookAt?: unknown }, i) => {
    if (typeof k !== 'object' || k === null || typeof k.frame !== 'number' || !pixel(k.head) || (k.lookAt !== undefined && !pixel(k.lookAt))) {
      throw new StudioRequestError(`save: key ${i} must be {"frame": F, "head": [u, v], "lookAt"?: [u, v]}`);
    }
    return { frame: k.frame, head: k.head, ...(k.lookAt ? { lookAt: k.lookAt } : {}) };
  });
}

export async function saveTake(dev: EgoxDevice, folder: StudioFolder, take: EgoxTakeWithDepth, keys: readonly TrajectoryKey[]): Promise<SaveResult> {
  // Throws OutsideFolderError before anything is computed or written.
  const metaPath = folder.resolve(take.metaPath);
  const priorPath = folder.resolve(take.egoPriorPath);
  const trajectory = await trajectoryForTake(take, keys);
  const prior = await renderPrior(dev, { ...take, egoExtrinsics: trajectory.poses });
  const written = saveTrajectory({ ...take, metaPath }, trajectory);
  await encodeVideo(priorPath, prior.frames, { width: prior.size, height: prior.size, fps: PRIOR_FPS });
  return { metaPath: written.metaPath, backupPath: path.basename(written.backupPath), priorPath, poses: trajectory.poses.map((p) => Array.from(p)) };
}
