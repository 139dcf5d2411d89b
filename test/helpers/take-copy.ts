// A private copy of one shared take (meta.json with that take alone, exo.mp4, the depth maps)
// in a temporary folder, for tests that write into a take folder. Never inside the repo.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const SHARED_META = '../shared/data/egoexo4d/meta.json';

export function copySharedTake(name: string): { dir: string; meta: string; remove: () => void } {
  const src = path.dirname(path.resolve(SHARED_META));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `egox-take-${name}-`));
  const root = JSON.parse(fs.readFileSync(SHARED_META, 'utf8')) as { test_datasets: { exo_path: string }[] };
  const entry = root.test_datasets.find((t) => path.basename(path.dirname(t.exo_path)) === name);
  if (!entry) throw new Error(`no take ${name} in ${SHARED_META}`);
  fs.mkdirSync(path.join(dir, 'videos', name), { recursive: true });
  fs.copyFileSync(path.join(src, 'videos', name, 'exo.mp4'), path.join(dir, 'videos', name, 'exo.mp4'));
  fs.cpSync(path.join(src, 'depth_maps', name), path.join(dir, 'depth_maps', name), { recursive: true });
  const meta = path.join(dir, 'meta.json');
  fs.writeFileSync(meta, JSON.stringify({ test_datasets: [entry] }, null, 2));
  return { dir, meta, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
