// `egox trajectory` end to end on a copy of the shared meta.json (videos and depth maps linked,
// one depth frame with a hole): good keys rewrite one take's poses and keep a backup; every bad
// key or option is one line, exit code 2, and leaves meta.json as it was with no backup.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { egox } from '../helpers/cli.ts';
import { readNpy, writeNpy } from '../../src/io/npy.ts';

const DATA = path.resolve('../shared/data/egoexo4d');
const SOCCER = 'cmu_soccer06_6_877_925';
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-trajectory-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** A take folder: meta.json copied, videos linked, soccer's depth linked except frame 0 (rows 0..19 NaN). */
function takeFolder(): string {
  fs.copyFileSync(path.join(DATA, 'meta.json'), path.join(root, 'meta.json'));
  fs.symlinkSync(path.join(DATA, 'videos'), path.join(root, 'videos'));
  for (const take of fs.readdirSync(path.join(DATA, 'depth_maps'))) {
    const dir = path.join(root, 'depth_maps', take);
    fs.mkdirSync(dir, { recursive: true });
    for (const f of fs.readdirSync(path.join(DATA, 'depth_maps', take))) {
      const src = path.join(DATA, 'depth_maps', take, f);
      if (take === SOCCER && f === fs.readdirSync(path.dirname(src)).sort()[0]) {
        const a = readNpy(src);
        const d = Float32Array.from(a.data as Float32Array);
        d.fill(NaN, 0, 20 * a.shape[1]!);
        writeNpy(path.join(dir, f), { ...a, data: d });
      } else fs.symlinkSync(src, path.join(dir, f));
    }
  }
  return path.join(root, 'meta.json');
}

const meta = takeFolder();
const backups = () => fs.readdirSync(root).filter((n) => n.endsWith('.bak'));

describe('egox trajectory', () => {
  it('bad keys and options: one line, exit 2, meta.json untouched, no backup', () => {
    const before = fs.readFileSync(meta);
    const cases: [string[], RegExp][] = [
      [[], /at least one --key/],
      [['--key', '49:300,200'], /frame 49 is outside 0\.\.48/],
      [['--key', '0:784,10'], /head pixel \(784, 10\) is outside the 784x448 exo frame/],
      [['--key', '4:300,200:-1,5'], /look-at pixel \(-1, 5\) is outside/],
      [['--key', '3:300'], /expected FRAME:U,V/],
      [['--key', '0:300,10'], /no valid depth in frame 0/],
      [['--key', '0:300,200', '--head-radius', '-0.1'], /--head-radius -0\.1: give a distance/],
      [['--key', '0:300,200', '--up', '0,0'], /--up 0,0: give/],
    ];
    for (const [args, pattern] of cases) {
      const r = egox(['trajectory', '--meta', meta, '--take', SOCCER, ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
      expect(fs.readFileSync(meta).equals(before)).toBe(true);
      expect(backups()).toEqual([]);
    }
  });

  it('good keys: 49 new poses in that take only, the old file kept as a backup', () => {
    const before = fs.readFileSync(meta);
    const old = JSON.parse(before.toString('utf8'));
    const r = egox(['trajectory', '--meta', meta, '--take', SOCCER, '--key', '0:378,217:451,320', '--key', '24:433,206:443,219', '--key', '48:483,190']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/poses\s+49 written/);
    expect(backups()).toHaveLength(1);
    expect(fs.readFileSync(path.join(root, backups()[0]!)).equals(before)).toBe(true);
    const now = JSON.parse(fs.readFileSync(meta, 'utf8'));
    expect(now.test_datasets[1]).toEqual(old.test_datasets[1]);
    const poses = now.test_datasets[0].ego_extrinsics as number[][][];
    expect(poses).toHaveLength(49);
    expect(poses).not.toEqual(old.test_datasets[0].ego_extrinsics);
    for (const m of poses) {
      // A rotation: orthonormal rows.
      const R = m.map((row) => row.slice(0, 3));
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) expect(R[i]!.reduce((s, x, k) => s + x * R[j]![k]!, 0)).toBeCloseTo(i === j ? 1 : 0, 9);
    }
  });
});
