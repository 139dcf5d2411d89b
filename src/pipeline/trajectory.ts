/**
 * `egox trajectory` on a take on disk: reads the exo frame size and the depth maps the keys
 * need, estimates the ground plane from the first frame's point cloud (unless the world's up is
 * given), builds the 49 poses with
 * src/recon/trajectory.ts and writes them into the take's meta.json.
 */
import { probeVideo } from '../io/video.ts';
import { readDepthFrame, type EgoxTakeWithDepth } from '../io/meta.ts';
import { writeEgoExtrinsics, type MetaWriteResult } from '../io/meta-write.ts';
import { depthToWorldPoints, exoUp, exoView } from '../recon/exo-view.ts';
import { estimateGroundPlane, type GroundPlane } from '../recon/ground-plane.ts';
import { buildTrajectory, type Trajectory, type TrajectoryKey, type TrajectoryOptions } from '../recon/trajectory.ts';
import { PRIOR_FRAMES } from '../recon/prior.ts';
import { normalize, type Vec3 } from '../recon/vec3.ts';

export interface TakeTrajectory extends Trajectory {
  /** The scene's up used, and where it came from. */
  up: Vec3;
  upSource: 'ground-plane' | 'exo-camera' | 'given';
  /** The ground-plane estimate (absent when `up` was given). */
  ground?: GroundPlane;
}

export interface TakeTrajectoryOptions extends TrajectoryOptions {
  /** The world's up when known (e.g. z for Ego-Exo4D worlds); default: the ground-plane estimate. */
  up?: Vec3;
}

/** Builds the poses of a take from keys (throws TrajectoryKeyError, exit 2, for a bad key). */
export async function trajectoryForTake(take: EgoxTakeWithDepth, keys: readonly TrajectoryKey[], options: TakeTrajectoryOptions = {}): Promise<TakeTrajectory> {
  const info = await probeVideo(take.exoPath);
  const view = exoView(take.exoIntrinsics, take.exoExtrinsics, take.depthShape, [info.height, info.width]);
  const cache = new Map<number, Float32Array>();
  const depth = (f: number) => {
    if (!cache.has(f)) cache.set(f, readDepthFrame(take, f));
    return cache.get(f)!;
  };
  const frames = Math.min(PRIOR_FRAMES, take.depthFiles.length);
  if (options.up) {
    return { ...buildTrajectory({ view, frames, depth, up: options.up }, keys, options), up: normalize(options.up), upSource: 'given' };
  }
  const ground = estimateGroundPlane(depthToWorldPoints(view, depth(0)), exoUp(view));
  const upSource = ground.source === 'ransac' ? 'ground-plane' : 'exo-camera';
  return { ...buildTrajectory({ view, frames, depth, up: ground.normal }, keys, options), up: ground.normal, upSource, ground };
}

/** Writes the poses into the take's meta.json (backup kept, atomic rename). */
export function saveTrajectory(take: EgoxTakeWithDepth, trajectory: Pick<Trajectory, 'poses'>): MetaWriteResult {
  return writeEgoExtrinsics(take.metaPath, take.index, trajectory.poses);
}
