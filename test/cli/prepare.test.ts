import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { egox, egoxAsync } from '../helpers/cli.ts';

const MOGE = 'test/golden/moge/model.pt';
const SOCCER = '../shared/data/egoexo4d/videos/cmu_soccer06_6_877_925/exo.mp4';
const tmp = mkdtempSync(join(tmpdir(), 'egox-cli-prepare-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function ffmpeg(args: string[]): void {
  const r = spawnSync('ffmpeg', ['-v', 'error', '-y', ...args]);
  expect(r.status, r.stderr?.toString()).toBe(0);
}

describe('egox prepare', () => {
  it('a panning video: writes the take and says the camera seems to move', { timeout: 300_000 }, async () => {
    // A 600x340 window sliding 8 px a frame across the soccer clip.
    const pan = join(tmp, 'pan.mp4');
    ffmpeg(['-i', SOCCER, '-vf', "crop=600:340:'8*n':40", '-frames:v', '12', pan]);
    const out = join(tmp, 'pan-out');
    const r = await egoxAsync(['prepare', pan, '--out', out, '--frames', '9', '--depth-model', MOGE, '--num-tokens', '100', '--prompt', 'p'], { timeoutMs: 280_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/note: pan: the camera seems to move/);
    expect(r.stdout).toMatch(/camera +SEEMS TO MOVE/);
    expect(readdirSync(join(out, 'depth_maps', 'pan'))).toHaveLength(9);
    expect(existsSync(join(out, 'videos', 'pan', 'exo.mp4'))).toBe(true);
  });

  it('bad input: one line, exit 2, nothing written', { timeout: 300_000 }, () => {
    const text = join(tmp, 'notes.mp4');
    writeFileSync(text, 'not a video\n');
    const still = join(tmp, 'still');
    mkdirSync(still);
    ffmpeg(['-i', SOCCER, '-frames:v', '1', join(still, 'a.png')]);
    for (let i = 1; i < 6; i++) copyFileSync(join(still, 'a.png'), join(still, `a${i}.png`));
    const badMeta = join(tmp, 'bad-meta');
    mkdirSync(badMeta);
    writeFileSync(join(badMeta, 'meta.json'), '{"test_datasets": [');
    const out = join(tmp, 'never');
    const cases: [string[], RegExp, Record<string, string>?][] = [
      [[join(tmp, 'missing.mp4')], /missing\.mp4: not found/],
      [[text], /notes\.mp4: not a readable video/],
      [[SOCCER, '--frames', '60'], /gives 50 frames .* EgoX needs 60: give an earlier --start/],
      [[SOCCER, '--start', '100'], /gives 0 frames from --start 100s/],
      [[still, '--frames', '5'], /same picture/],
      [[SOCCER, SOCCER], /two videos give the take name 'cmu_soccer06_6_877_925'/],
      [[SOCCER, text, '--take', 'x'], /--take names one take/],
      [[SOCCER, '--intrinsics', '1,2,3'], /--intrinsics '1,2,3': expected fx,fy,cx,cy/],
      [[SOCCER, '--depth-every', '0'], /--depth-every '0'/],
      [[SOCCER, '--depth-model', join(tmp, 'none.pt')], /none\.pt/],
    ];
    for (const [args, fragment] of cases) {
      const model = args.includes('--depth-model') ? [] : ['--depth-model', MOGE];
      const r = egox(['prepare', ...args, '--out', out, ...model, '--num-tokens', '100']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(fragment);
      expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
    }
    const noModel = egox(['prepare', SOCCER, '--out', out], { env: { EGOX_DEPTH_MODEL: '' } });
    expect(noModel.code).toBe(2);
    expect(noModel.stderr).toMatch(/no depth model: pass --depth-model/);
    const meta = egox(['prepare', SOCCER, '--out', badMeta, '--depth-model', MOGE]);
    expect(meta.code).toBe(2);
    expect(meta.stderr).toMatch(/meta\.json.*not valid JSON/);
    expect(readdirSync(badMeta)).toEqual(['meta.json']);
  });
});
