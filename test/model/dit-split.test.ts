// The whole DiT graph with every binding held under a small artificial binding limit (at
// 14B, activations are [28028, 5120] f32 = 574 MB, over lavapipe's 128 MiB), through the
// executor's maxBindingBytes: the output still matches the PyTorch golden, equals the
// unsplit run, and the dry-run planner reports exactly the buffers the executor allocates.
import { describe, expect, it } from 'vitest';
import { relL2, useDevice } from '../helpers/gpu.ts';
import { DIT_GOLDEN, loadDitCase, type DitCase } from './dit-golden.ts';
import { DIT_IO, WanDit } from '../../src/model/wan/dit.ts';
import { openWanCheckpoint } from '../../src/model/wan/load.ts';
import { timestepEmbedding } from '../../src/model/wan/timestep.ts';
import { Executor } from '../../src/graph/executor.ts';
import { bindingRef, type Graph, type LoweringContext } from '../../src/graph/ir.ts';
import { planExecution } from '../../src/graph/plan.ts';

const device = useDevice();

/**
 * 2 KiB: the tiny DiT's [30, 32] activations (3840 bytes), its FFN hidden [30, 64], the
 * patchified latent [30, 144] and most weights split; the biggest unsplittable pieces (a
 * 1 KiB GEMM row of the 256-wide time embedding, a [6, 32] modulation row copy) still fit.
 */
const LIMIT = 2048;

function feed(c: DitCase): Record<string, Float32Array> {
  const f: Record<string, Float32Array> = {
    [DIT_IO.latents]: c.io.get('x')!.data,
    [DIT_IO.timestepEmbedding]: timestepEmbedding(c.io.get('timestep')!.data[0]!, c.config.freqDim),
    [DIT_IO.context]: c.io.get('context')!.data,
  };
  if (c.config.imageDim) f[DIT_IO.clip] = c.io.get('clip')!.data;
  if (c.json.gga) {
    f[DIT_IO.ggaQueryDirs] = c.io.get('gga_query_dirs')!.data;
    f[DIT_IO.ggaKeyDirs] = c.io.get('gga_key_dirs')!.data;
  }
  return f;
}

function build(c: DitCase): Graph {
  const gga = c.json.gga ? { lambda: c.json.gga.lambda as number, egoLatentCols: c.json.egoCols as number } : null;
  return new WanDit(c.config, { latentShape: c.io.get('x')!.shape as [number, number, number, number], textLen: c.config.textLen, gga }).build();
}

describe('Wan DiT with bindings split over a small limit', () => {
  for (const name of ['i2v_egox_gga']) {
    it(`${name}: matches the golden and the unsplit run; the dry run plans the same buffers`, { timeout: 900_000 }, async () => {
      const dev = await device();
      const c = await loadDitCase(name);
      const graph = build(c);
      const ckpt = await openWanCheckpoint(`${DIT_GOLDEN}/${c.json.weights}`, { config: c.config });
      const outs: Float32Array[] = [];
      const plans = [];
      for (const maxBindingBytes of [undefined, LIMIT]) {
        const exec = await Executor.create(dev, graph, ckpt.store, { maxBindingBytes });
        await exec.run(feed(c));
        outs.push(await exec.read(DIT_IO.output));
        plans.push(exec.plan);
        if (maxBindingBytes) {
          // Every window bound stays under the limit...
          const sizes = exec.plan.dispatches.flat().flatMap((d) => d.bindings.map((b) => bindingRef(b).byteLength));
          expect(Math.max(...sizes)).toBeLessThanOrEqual(LIMIT);
          // ...and the dry run (same adapter facts, no device) plans what the executor allocated.
          const ctx: LoweringContext = { features: dev.features, limits: dev.limits, subgroupSize: dev.adapter.subgroupMinSize, adapter: dev.adapter };
          const dry = planExecution(graph, { ctx, maxBindingBytes });
          expect(dry.buffers).toEqual(exec.plan.buffers);
          expect(exec.stats.bytesAllocated).toBe(dry.buffers.reduce((s, b) => s + b.bytes, 0));
          expect(exec.stats.buffersCreated).toBe(dry.buffers.length);
        }
        exec.destroy();
      }
      await ckpt.checkpoint.close();
      const [whole, split] = outs as [Float32Array, Float32Array];
      const [pw, ps] = plans;
      expect(ps!.totals.dispatches, 'the limit split many dispatches').toBeGreaterThan(2 * pw!.totals.dispatches);
      // Splitting allocates nothing: the same buffers but the uniform block (one slot per dispatch).
      const nonUniform = (p: typeof pw) => p!.buffers.filter((b) => b.kind !== 'uniform');
      expect(nonUniform(ps)).toEqual(nonUniform(pw));
      const err = relL2(split, c.io.get('out')!.data);
      console.log(`${name}: ${pw!.totals.dispatches} -> ${ps!.totals.dispatches} dispatches at ${LIMIT} bytes; vs golden ${err.toExponential(2)}, vs unsplit ${relL2(split, whole).toExponential(2)}`);
      expect(err).toBeLessThan(1e-4);
      expect(Buffer.from(split.buffer).equals(Buffer.from(whole.buffer)), 'split == unsplit, bitwise').toBe(true);
    });
  }
});
