// A meta.json of several tiny takes for batch tests: the two shared real takes, and copies of
// them under other names (their folders link to the shared videos and depth maps, so the copies
// are the same take seen under another name). A take can be broken on purpose.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SHARED } from './generate-fixture.ts';

export const SHARED_TAKES = ['cmu_soccer06_6_877_925', 'iiith_cooking_57_2_2451_2499'] as const;

export interface BatchTake {
  name: string;
  /** The shared take it copies. */
  from: (typeof SHARED_TAKES)[number];
  /** 'exo': its exo.mp4 is not a video. */
  broken?: 'exo';
}

/** The four takes of the test: the two shared ones and a copy of each under another name. */
export const FOUR_TAKES: BatchTake[] = [
  { name: SHARED_TAKES[0], from: SHARED_TAKES[0] },
  { name: 'copy_of_soccer', from: SHARED_TAKES[0] },
  { name: SHARED_TAKES[1], from: SHARED_TAKES[1] },
  { name: 'copy_of_cooking', from: SHARED_TAKES[1] },
];

/** Writes `<dir>/meta.json` (+ videos/<take>/, depth_maps/<take> links) and returns its path. */
export function writeBatchMeta(dir: string, takes: BatchTake[]): string {
  const shared = path.resolve(SHARED);
  const meta = JSON.parse(fs.readFileSync(path.join(shared, 'meta.json'), 'utf8')) as { test_datasets: Record<string, unknown>[] };
  const byName = new Map(meta.test_datasets.map((t) => [path.basename(path.dirname(String(t.exo_path))), t]));
  fs.mkdirSync(path.join(dir, 'depth_maps'), { recursive: true });
  const entries = takes.map((t) => {
    const src = byName.get(t.from)!;
    const videos = path.join(dir, 'videos', t.name);
    fs.mkdirSync(videos, { recursive: true });
    for (const f of ['exo.mp4', 'ego_Prior.mp4', 'ego_GT.mp4']) {
      const target = path.join(videos, f);
      if (fs.existsSync(target)) continue;
      if (f === 'exo.mp4' && t.broken === 'exo') fs.writeFileSync(target, 'not a video\n');
      else fs.symlinkSync(path.join(shared, 'videos', t.from, f), target);
    }
    const depth = path.join(dir, 'depth_maps', t.name);
    if (!fs.existsSync(depth)) fs.symlinkSync(path.join(shared, 'depth_maps', t.from), depth);
    return { ...src, exo_path: `./videos/${t.name}/exo.mp4`, ego_prior_path: `./videos/${t.name}/ego_Prior.mp4`, ego_gt_path: `./videos/${t.name}/ego_GT.mp4` };
  });
  const file = path.join(dir, 'meta.json');
  fs.writeFileSync(file, JSON.stringify({ test_datasets: entries }));
  return file;
}
