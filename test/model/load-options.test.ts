// How one GPU memory budget is shared by networks run one after another (model/load-options.ts):
// each gets the whole budget while it is the one resident, and a second network created while
// another still holds GPU memory is an internal fault (exit 1), never a silent over-commit.
import { describe, expect, it } from 'vitest';
import { Executor } from '../../src/graph/executor.ts';
import { GraphError } from '../../src/graph/ir.ts';
import { ModelGraph } from '../../src/graph/ops/index.ts';
import { planExecution } from '../../src/graph/plan.ts';
import { GpuResidency } from '../../src/graph/residency.ts';
import { MemoryWeightSource, WeightStore } from '../../src/graph/weights.ts';
import { executorBudget, type NetworkLoadOptions } from '../../src/model/load-options.ts';
import { WanVae } from '../../src/model/vae/vae.ts';
import { randomF32, useDevice } from '../helpers/gpu.ts';

const device = useDevice();
const N = 333;

function network(layers: number): { graph: ReturnType<ModelGraph['build']>; store: WeightStore } {
  const g = new ModelGraph();
  const src = new MemoryWeightSource();
  let x = g.input('x', [N], 'f32');
  for (let i = 0; i < layers; i++) {
    g.segment(`layer${i}`);
    src.set(`b${i}`, 'F32', [N], randomF32(N));
    x = g.within(`l${i}`, () => g.add(x, g.weight(`b${i}`, [N], 'f32')));
  }
  g.output('y', x);
  return { graph: g.build(), store: new WeightStore(src, 'memory') };
}

describe('one GPU memory budget shared by networks in turn', () => {
  it('every network gets the whole budget, from the same load options', () => {
    const residency = new GpuResidency();
    const load: NetworkLoadOptions = { weightDtype: 'bf16', gpuMemoryBytes: 5 * 2 ** 30, residency };
    for (const net of ['vae', 'umt5', 'clip-vision', 'dit'] as const) {
      const o = executorBudget(net, load);
      expect(o.gpuMemoryBytes).toBe(5 * 2 ** 30);
      expect(o.residency).toEqual({ tracker: residency, network: net });
    }
    expect(executorBudget('dit', { gpuMemoryBytes: 7 })).toEqual({ gpuMemoryBytes: 7, residency: undefined });
  });

  it('networks one after another each plan against the whole budget', async () => {
    const dev = await device();
    const a = network(1);
    const b = network(12);
    // Room for the larger network resident; had the budget been split, it would have to stream.
    const budget = planExecution(b.graph).totals.peakBytes;
    expect(planExecution(b.graph, { gpuMemoryBytes: budget - planExecution(a.graph).totals.peakBytes }).streaming).toBe(true);
    const load: NetworkLoadOptions = { gpuMemoryBytes: budget, residency: new GpuResidency() };
    const ea = await Executor.create(dev, a.graph, a.store, executorBudget('vae', load));
    expect(load.residency!.resident).toBe('vae');
    expect(ea.plan.streaming).toBe(false);
    ea.destroy();
    expect(load.residency!.resident).toBe(null);
    const eb = await Executor.create(dev, b.graph, b.store, executorBudget('dit', load));
    expect(eb.plan.streaming).toBe(false); // the whole budget: nothing left over to the VAE
    eb.destroy();
    expect(load.residency!.resident).toBe(null);
  });

  it('a second network while the first still holds memory is an internal fault; the same network may hold several', async () => {
    const dev = await device();
    const a = network(2);
    const load: NetworkLoadOptions = { residency: new GpuResidency() };
    const first = await Executor.create(dev, a.graph, a.store, executorBudget('clip-vision', load));
    const second = await Executor.create(dev, a.graph, a.store, executorBudget('clip-vision', load));
    let err: unknown;
    try {
      await Executor.create(dev, a.graph, a.store, executorBudget('dit', load));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GraphError);
    expect((err as Error).message).toMatch(/dit was given the whole GPU memory budget while clip-vision still holds GPU memory/);
    first.destroy();
    expect(load.residency!.resident).toBe('clip-vision');
    second.destroy();
    second.destroy(); // a second destroy releases nothing twice
    expect(load.residency!.resident).toBe(null);
    (await Executor.create(dev, a.graph, a.store, executorBudget('dit', load))).destroy();
  });

  it('the VAE holds no GPU memory between encode calls, so the next network may have it all', async () => {
    const dev = await device();
    const residency = new GpuResidency();
    const vae = await WanVae.load(dev, 'test/golden/vae/weights.safetensors', { gpuMemoryBytes: 2 ** 30, residency });
    try {
      const frames = { shape: [3, 1, 16, 16] as [number, number, number, number], data: randomF32(3 * 16 * 16) };
      await vae.encode(frames);
      expect(residency.resident).toBe(null);
    } finally {
      await vae.close();
    }
  }, 120_000);
});
