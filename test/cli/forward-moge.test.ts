import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { egox } from '../helpers/cli.ts';
import { relL2 } from '../helpers/gpu.ts';
import { readGoldenF32 } from '../helpers/golden.ts';
import { writeSafetensors } from '../../src/io/safetensors-writer.ts';

const GOLDEN = 'test/golden/moge';
const tmp = mkdtempSync(join(tmpdir(), 'egox-fwd-moge-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('egox forward moge', () => {
  it.each(['weights.safetensors', 'model.pt'])('writes the network outputs, depth and intrinsics that match the reference (%s)', { timeout: 300_000 }, async (model) => {
    const cases = await readGoldenF32(`${GOLDEN}/cases.safetensors`);
    const image = cases.get('1.image')!;
    const input = join(tmp, 'in.safetensors');
    await writeSafetensors(input, { image: { dtype: 'F32', shape: image.shape, data: image.data } });
    const out = join(tmp, 'out.safetensors');
    const r = egox(['forward', 'moge', '--model', `${GOLDEN}/${model}`, '--input', input, '--output', out, '--num-tokens', '10']);
    expect(r.code, r.stderr).toBe(0);
    const got = await readGoldenF32(out);
    const [, H, W] = image.shape as [number, number, number];
    expect(got.get('points')!.shape).toEqual([H, W, 3]);
    expect(got.get('mask')!.shape).toEqual([H, W]);
    expect(got.get('intrinsics')!.shape).toEqual([3, 3]);
    for (const k of ['points', 'normal', 'mask', 'metric_scale', 'intrinsics']) {
      const want = cases.get(k === 'intrinsics' ? '1.post.intrinsics' : `1.${k}`)!.data;
      expect(relL2(got.get(k)!.data, want), k).toBeLessThan(1e-4);
    }
    const depth = got.get('depth')!.data;
    const want = cases.get('1.post.depth')!.data;
    const finite = [...want.keys()].filter((i) => Number.isFinite(want[i]!));
    expect(relL2(finite.map((i) => depth[i]!), finite.map((i) => want[i]!))).toBeLessThan(1e-4);
  });

  it('bad input: one line, exit 2, no output', async () => {
    const out = join(tmp, 'never.safetensors');
    const input = join(tmp, 'small.safetensors');
    await writeSafetensors(input, { image: { dtype: 'F32', shape: [3, 20, 30], data: new Float32Array(3 * 20 * 30).fill(0.5) } });
    const truncated = join(tmp, 'truncated.pt');
    writeFileSync(truncated, readFileSync(`${GOLDEN}/model.pt`).subarray(0, 4096));
    const cases: [string[], RegExp][] = [
      [['--model', truncated, '--input', input], /truncated\.pt/],
      [['--model', tmp, '--input', input], /no model\.pt, model\.safetensors/],
      [['--model', `${GOLDEN}/weights.safetensors`, '--input', `${GOLDEN}/cases.safetensors`], /needs a tensor 'image'/],
      [['--model', `${GOLDEN}/weights.safetensors`, '--input', join(tmp, 'missing.safetensors')], /file not found/],
      [['--model', `${GOLDEN}/weights.safetensors`, '--input', `${GOLDEN}/cases.safetensors`, '--num-tokens', '0'], /--num-tokens/],
      [['--model', `${GOLDEN}/weights.safetensors`, '--input', input, '--fov-x', '200'], /--fov-x/],
    ];
    for (const [args, fragment] of cases) {
      const r = egox(['forward', 'moge', ...args, '--output', out]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(fragment);
      expect(existsSync(out)).toBe(false);
    }
  });
});
