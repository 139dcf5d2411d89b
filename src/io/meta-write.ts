/**
 * Writes new ego poses into one take of a meta.json: the old file is kept as a timestamped
 * backup beside it, the new one is written to a temporary file in the same folder and renamed
 * over the old (atomic on one file system), and every other field and take is left as it was.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MetaError } from './meta.ts';

export interface MetaWriteResult {
  metaPath: string;
  backupPath: string;
}

/** Backup name: meta.json.YYYYMMDDTHHMMSSmmm.bak (never overwrites an earlier backup). */
function backupName(file: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('.', '').replace('Z', '');
  let name = `${file}.${stamp}.bak`;
  for (let i = 1; fs.existsSync(name); i++) name = `${file}.${stamp}-${i}.bak`;
  return name;
}

/** Replaces `ego_extrinsics` of test_datasets[takeIndex] with `poses` (3x4 row-major each). */
export function writeEgoExtrinsics(metaPath: string, takeIndex: number, poses: readonly ArrayLike<number>[], now = new Date()): MetaWriteResult {
  const file = path.resolve(metaPath);
  let root: { test_datasets?: Record<string, unknown>[] };
  try {
    root = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new MetaError(file, undefined, undefined, `cannot re-read it to write the poses (${(e as Error).message})`);
  }
  const entry = root.test_datasets?.[takeIndex];
  if (typeof entry !== 'object' || entry === null) throw new MetaError(file, `test_datasets[${takeIndex}]`, undefined, 'changed since it was loaded; run again');
  entry['ego_extrinsics'] = poses.map((m) => {
    if (m.length !== 12 || !Array.from(m).every(Number.isFinite)) throw new Error('writeEgoExtrinsics: every pose must be 12 finite numbers (3x4)');
    return [0, 1, 2].map((r) => [m[4 * r]!, m[4 * r + 1]!, m[4 * r + 2]!, m[4 * r + 3]!]);
  });
  const text = JSON.stringify(root, null, 2) + '\n';
  const backupPath = backupName(file, now);
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.copyFileSync(file, backupPath, fs.constants.COPYFILE_EXCL);
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new MetaError(file, undefined, undefined, `cannot write it (${(e as NodeJS.ErrnoException).code ?? String(e)}); is the folder writable?`);
  }
  return { metaPath: file, backupPath };
}

/** The take name of a raw meta entry (the folder holding exo_path), or undefined. */
function entryTake(entry: unknown): string | undefined {
  const exo = (entry as { exo_path?: unknown } | null)?.exo_path;
  return typeof exo === 'string' ? path.basename(path.dirname(exo.replace(/\\/g, '/'))) : undefined;
}

/**
 * The text of a meta.json holding `entries`: those of an existing file at `metaPath` are kept,
 * except an entry for the same take, which the new one replaces in place. Nothing is written.
 */
export function mergedMetaText(metaPath: string, entries: readonly Record<string, unknown>[]): string {
  const file = path.resolve(metaPath);
  let list: unknown[] = [];
  let root: Record<string, unknown> = {};
  if (fs.existsSync(file)) {
    try {
      root = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new MetaError(file, undefined, undefined, `exists but is not valid JSON (${(e as Error).message}); fix or move it, egox adds its takes to it`);
    }
    if (typeof root !== 'object' || root === null || !Array.isArray(root['test_datasets'])) {
      throw new MetaError(file, undefined, 'test_datasets', 'exists but holds no test_datasets list; fix or move it, egox adds its takes to it');
    }
    list = [...(root['test_datasets'] as unknown[])];
  }
  for (const entry of entries) {
    const name = entryTake(entry);
    const at = list.findIndex((e) => entryTake(e) === name);
    if (at >= 0) list[at] = entry;
    else list.push(entry);
  }
  return JSON.stringify({ ...root, test_datasets: list }, null, 2) + '\n';
}
