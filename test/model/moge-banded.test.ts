// The bilinear resampler of the last MoGe-2 levels split into row bands (and channel groups) for
// a storage binding limit: with artificial limits small enough to force several bands, every
// output is bitwise equal to the unsplit network's, and still matches the PyTorch reference.
import { afterAll, describe, expect, it } from 'vitest';
import { Executor } from '../../src/graph/executor.ts';
import { WeightStore } from '../../src/graph/weights.ts';
import { Checkpoint } from '../../src/io/checkpoint.ts';
import { readJsonFile } from '../../src/io/model-layout.ts';
import { defaultConvVariant, type ConvShapeSpec } from '../../src/kernels/conv/index.ts';
import { MOGE_IO, buildMogeGraph, mogeConfig, tokenGrid } from '../../src/model/moge/index.ts';
import { readGoldenF32 } from '../helpers/golden.ts';
import { relL2, useDevice } from '../helpers/gpu.ts';

const device = useDevice();
const open: Checkpoint[] = [];
afterAll(async () => {
  for (const c of open) await c.close();
});

describe('MoGe-2 resampler in bands past the binding limit', () => {
  for (const dir of ['test/golden/moge', 'test/golden/moge/variant-b']) {
    it(`${dir}: bitwise equal to unsplit, several band counts`, { timeout: 300_000 }, async () => {
      const dev = await device();
      const ckpt = await Checkpoint.open(`${dir}/weights.safetensors`);
      open.push(ckpt);
      const config = mogeConfig(readJsonFile(`${dir}/config.json`).json, ckpt.tensors, dir);
      const store = new WeightStore(ckpt, dir);
      const cases = await readGoldenF32(`${dir}/cases.safetensors`);
      const image = cases.get('1.image')!;
      const [, H, W] = image.shape as [number, number, number];
      const grid = tokenGrid(H, W, cases.get('1.num_tokens')!.data[0]!);
      const variant = (spec: ConvShapeSpec) => defaultConvVariant(dev, spec);
      const run = async (bindingLimit?: number) => {
        const graph = buildMogeGraph(config, { height: H, width: W, ...grid, variant, bindingLimit });
        const exec = await Executor.create(dev, graph, store);
        try {
          await exec.run({ [MOGE_IO.image]: image.data });
          const names = [MOGE_IO.points, MOGE_IO.mask, MOGE_IO.metricScale, ...(config.heads.normal_head ? [MOGE_IO.normal] : [])];
          return { nodes: graph.nodes.map((n) => n.name), out: new Map(await Promise.all(names.map(async (n) => [n, await exec.read(n)] as const))) };
        } finally {
          exec.destroy();
        }
      };
      const whole = await run();
      // The last resampler of each stack: C channels at half the final size -> cout channels.
      const [Hl, Wl] = [grid.rows * 8, grid.cols * 8];
      const stacks = [config.neck, ...Object.values(config.heads).filter((s) => s !== undefined)];
      const ins = stacks.map((s) => 4 * s!.dimResBlocks[3]! * (2 * Hl + 2) * (2 * Wl + 2));
      const outs = stacks.map((s) => 4 * s!.dimResBlocks[4]! * (2 * Hl) * (2 * Wl));
      // Past every padded input, within reach of every output (which must stay whole).
      const lo = Math.max(...outs) + 1024;
      const hi = Math.min(...ins);
      expect(lo).toBeLessThan(hi);
      for (const limit of [lo, Math.floor((lo + hi) / 2)]) {
        const split = await run(limit);
        expect(split.nodes.filter((n) => /\.rows\d+$/.test(n) && n.includes('resamplers.3.1')).length, 'band convs').toBeGreaterThanOrEqual(2 * stacks.length);
        for (const [name, want] of whole.out) {
          const got = split.out.get(name)!;
          const differ = want.findIndex((v, i) => !Object.is(v, got[i]));
          expect(differ, `${name} at limit ${limit}: first differing element`).toBe(-1);
        }
      }
      // And still the reference's network.
      expect(relL2(whole.out.get(MOGE_IO.points)!, cases.get('1.points')!.data)).toBeLessThan(1e-4);
    });
  }
});
