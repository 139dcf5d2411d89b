// Writing poses into one take of a meta.json: exact values back through the loader, the other
// take and every other field untouched, a byte-identical backup, no temporary file left behind.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadEgoxMeta } from '../../src/io/meta.ts';
import { mergedMetaText, writeEgoExtrinsics } from '../../src/io/meta-write.ts';

const META = '../shared/data/egoexo4d/meta.json';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-meta-write-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const randomPoses = (n: number) => Array.from({ length: n }, () => Float64Array.from({ length: 12 }, () => Math.random() * 20 - 10));

describe('writeEgoExtrinsics', () => {
  it('replaces one take\'s poses and keeps a backup of the old file', () => {
    const file = path.join(tmp, 'meta.json');
    fs.copyFileSync(META, file);
    const before = fs.readFileSync(file);
    const old = JSON.parse(before.toString('utf8'));
    const poses = randomPoses(49);
    const r = writeEgoExtrinsics(file, 1, poses, new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)));
    expect(path.basename(r.backupPath)).toBe('meta.json.20260102T030405006.bak');
    expect(fs.readFileSync(r.backupPath).equals(before)).toBe(true);
    const now = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(now.test_datasets[0]).toEqual(old.test_datasets[0]);
    const { ego_extrinsics: _new, ...rest } = now.test_datasets[1];
    const { ego_extrinsics: _old, ...restOld } = old.test_datasets[1];
    expect(rest).toEqual(restOld);
    const loaded = loadEgoxMeta(file)[1]!;
    expect(loaded.egoExtrinsics).toHaveLength(49);
    loaded.egoExtrinsics.forEach((m, i) => expect(Array.from(m)).toEqual(Array.from(poses[i]!)));
    expect(fs.readdirSync(tmp).filter((n) => n.includes('.tmp-'))).toEqual([]);
    // A second write in the same millisecond keeps both backups.
    const again = writeEgoExtrinsics(file, 1, randomPoses(49), new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)));
    expect(again.backupPath).not.toBe(r.backupPath);
    expect(fs.existsSync(r.backupPath) && fs.existsSync(again.backupPath)).toBe(true);
  });
});

describe('mergedMetaText', () => {
  const entry = (take: string, prompt: string) => ({ exo_path: `./videos/${take}/exo.mp4`, prompt });

  it('starts a new file, keeps other takes of an existing one and replaces the same take in place', () => {
    const file = path.join(tmp, 'merge', 'meta.json');
    expect(JSON.parse(mergedMetaText(file, [entry('a', '1')]))).toEqual({ test_datasets: [entry('a', '1')] });
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ note: 'kept', test_datasets: [entry('a', '1'), entry('b', '2')] }));
    const merged = JSON.parse(mergedMetaText(file, [entry('b', 'new'), entry('c', '3')]));
    expect(merged).toEqual({ note: 'kept', test_datasets: [entry('a', '1'), entry('b', 'new'), entry('c', '3')] });
  });

  it('refuses a meta.json it cannot add to, naming it', () => {
    const file = path.join(tmp, 'broken.json');
    fs.writeFileSync(file, '{"test_datasets": ');
    expect(() => mergedMetaText(file, [])).toThrow(/broken\.json.*not valid JSON/);
    fs.writeFileSync(file, '{"takes": []}');
    expect(() => mergedMetaText(file, [])).toThrow(/holds no test_datasets list/);
  });
});
