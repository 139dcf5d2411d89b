import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import { relL2, useDevice } from '../helpers/gpu.ts';
import { readGoldenF32 } from '../helpers/golden.ts';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import { MogeModel, mogeConfig, tokenGrid } from '../../src/model/moge/index.ts';

// Goldens: test/reference/moge2_reference.py (float64 PyTorch on tiny random weights saved with
// the official MoGe-2 names; model.pt holds the same weights).
const GOLDEN = 'test/golden/moge';
const device = useDevice();

const readAll = readGoldenF32;

// The published structure (golden/moge) and a model that uses the other options (variant-b:
// registers, intermediate_layers as a count, group / layer / instance norms, pixel_shuffle,
// nearest and bilinear resamplers, remap sinh_exp, no normal head).
const MODELS = [
  { name: 'MoGe-2 structure', dir: GOLDEN },
  { name: 'variant b', dir: `${GOLDEN}/variant-b` },
];
const models = new Map<string, MogeModel>();
afterAll(async () => {
  for (const m of models.values()) await m.close();
});

describe('MoGe-2 network vs the PyTorch reference', () => {
  for (const { name, dir } of MODELS) {
    for (const n of [0, 1]) {
      it(`${name}, case ${n}: points, normal, mask, metric scale within 1e-4`, async () => {
        const dev = await device();
        let model = models.get(dir);
        if (!model) models.set(dir, (model = await MogeModel.openSafetensors(dev, `${dir}/weights.safetensors`, `${dir}/config.json`)));
        const cases = await readAll(`${dir}/cases.safetensors`);
        const image = cases.get(`${n}.image`)!;
        const [, H, W] = image.shape as [number, number, number];
        const tokens = cases.get(`${n}.num_tokens`)!.data[0]!;
        const out = await model.infer(image.data, H, W, tokens);
        const grid = cases.get(`${n}.grid`)!.data;
        expect([out.grid.rows, out.grid.cols]).toEqual([grid[0], grid[1]]);
        const errs: Record<string, number> = {
          points: relL2(out.points!, cases.get(`${n}.points`)!.data),
          mask: relL2(out.mask!, cases.get(`${n}.mask`)!.data),
          metric_scale: relL2([out.metricScale!], cases.get(`${n}.metric_scale`)!.data),
        };
        const normal = cases.get(`${n}.normal`);
        expect(out.normal === undefined).toBe(normal === undefined);
        if (normal) errs.normal = relL2(out.normal!, normal.data);
        // Depth and intrinsics after the post-processing (the fit on egox's own points).
        const want = cases.get(`${n}.post.depth`)!.data;
        const finite = [...want.keys()].filter((i) => Number.isFinite(want[i]!));
        expect(finite.every((i) => Number.isFinite(out.geometry.depth[i]!)), 'mask').toBe(true);
        expect(out.geometry.depth.filter((d) => Number.isFinite(d)).length).toBe(finite.length);
        errs.depth = relL2(finite.map((i) => out.geometry.depth[i]!), finite.map((i) => want[i]!));
        errs.intrinsics = relL2(out.geometry.intrinsics, cases.get(`${n}.post.intrinsics`)!.data);
        console.log(`moge ${name} case ${n} (${W}x${H}, grid ${out.grid.rows}x${out.grid.cols}) rel L2:`, JSON.stringify(errs));
        for (const [k, e] of Object.entries(errs)) expect(e, k).toBeLessThan(1e-4);
      });
    }
  }
});

describe('MoGe-2 with 16-bit weights', () => {
  it('bf16 weights on the GPU stay close to the float64 reference', async () => {
    const dev = await device();
    const model = await MogeModel.openSafetensors(dev, `${GOLDEN}/weights.safetensors`, `${GOLDEN}/config.json`, { weightDtype: 'bf16' });
    try {
      const cases = await readAll(`${GOLDEN}/cases.safetensors`);
      const image = cases.get('0.image')!;
      const [, H, W] = image.shape as [number, number, number];
      const out = await model.forward(image.data, H, W, cases.get('0.num_tokens')!.data[0]!);
      // bf16 keeps 8 mantissa bits: ~4e-3 per weight, a few of them in series.
      expect(relL2(out.points!, cases.get('0.points')!.data)).toBeLessThan(3e-2);
      expect(relL2(out.normal!, cases.get('0.normal')!.data)).toBeLessThan(3e-2);
    } finally {
      await model.close();
    }
  });
});

describe('MoGe-2 past the binding limit', () => {
  it('names a token budget that fits instead of a deep planner error', async () => {
    const dev = await device();
    const model = await MogeModel.openSafetensors(dev, `${GOLDEN}/weights.safetensors`, `${GOLDEN}/config.json`);
    try {
      // 16 channels at 256x the grid: past 128 MiB above ~8200 tokens.
      const limit = dev.limits.maxStorageBufferBindingSize;
      const tokens = Math.ceil((limit / (16 * 256 * 4)) * 1.5);
      await expect(model.forward(new Float32Array(3 * 30 * 40).fill(0.5), 30, 40, tokens)).rejects.toThrow(/use --num-tokens \d+ or fewer/);
    } finally {
      await model.close();
    }
  });
});

describe('MoGe-2 config', () => {
  const cfg = JSON.parse(fs.readFileSync(`${GOLDEN}/config.json`, 'utf8'));

  it('infers the backbone shape from the weights, not the name', async () => {
    const f = await SafetensorsFile.open(`${GOLDEN}/weights.safetensors`);
    const c = mogeConfig({ ...cfg, encoder: { ...cfg.encoder, backbone: 'some_unseen_vit' } }, f.tensors, 'golden');
    await f.close();
    expect(c.backbone).toMatchObject({ width: 64, depth: 4, heads: 1, patch: 14, registers: 0, posGrid: 37, mlpHidden: 256 });
    expect(c.intermediateLayers).toEqual([0, 2, 3]);
  });

  it('reads registers and the registered backbones\' position rule, and a count of last layers', async () => {
    const f = await SafetensorsFile.open(`${GOLDEN}/variant-b/weights.safetensors`);
    const c = mogeConfig(JSON.parse(fs.readFileSync(`${GOLDEN}/variant-b/config.json`, 'utf8')), f.tensors, 'variant-b');
    await f.close();
    expect(c.backbone).toMatchObject({ registers: 4, posInterpolation: { offset: 0, antialias: true } });
    expect(c.intermediateLayers).toEqual([2, 3]);
    expect(c.heads.normal_head).toBeUndefined();
  });

  it('rounds the token grid as Python does', () => {
    expect(tokenGrid(45, 61, 12)).toEqual({ rows: 3, cols: 4 });
    expect(tokenGrid(448, 784, 3600)).toEqual({ rows: 45, cols: 79 });
  });

  it('refuses a config that does not fit, naming the field', async () => {
    const f = await SafetensorsFile.open(`${GOLDEN}/weights.safetensors`);
    expect(() => mogeConfig({ ...cfg, remap_output: 'cubic' }, f.tensors, 'x.json')).toThrow(/x.json: model_config.remap_output/);
    expect(() => mogeConfig({ ...cfg, encoder: { ...cfg.encoder, intermediate_layers: [0, 9] } }, f.tensors, 'x.json')).toThrow(/intermediate_layers/);
    await f.close();
  });
});
