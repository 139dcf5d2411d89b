import { describe, expect, it } from 'vitest';
import { useDevice, randomF32 } from '../helpers/gpu.ts';
import { ModelGraph } from '../../src/graph/ops/index.ts';
import { Executor } from '../../src/graph/executor.ts';
import { planExecution } from '../../src/graph/plan.ts';
import { MemoryWeightSource, WeightStore } from '../../src/graph/weights.ts';
import type { Graph } from '../../src/graph/ir.ts';

const device = useDevice();
const N = 1037; // odd: not a multiple of any workgroup size

/** A deep chain: x -> (x + b_i) * s_i -> ... with one weight segment per layer. */
function chain(layers: number): { graph: Graph; weights: MemoryWeightSource; cpu: (x: Float32Array) => Float32Array } {
  const g = new ModelGraph();
  const src = new MemoryWeightSource();
  const bs: Float32Array[] = [];
  const ss: Float32Array[] = [];
  let x = g.input('x', [N], 'f32');
  for (let i = 0; i < layers; i++) {
    g.segment(`layer${i}`);
    const b = randomF32(N);
    const s = randomF32(N);
    bs.push(b);
    ss.push(s);
    src.set(`l${i}.b`, 'F32', [N], b).set(`l${i}.s`, 'F32', [N], s);
    x = g.within(`l${i}`, () => g.mul(g.add(x, g.weight(`l${i}.b`, [N], 'f32')), g.weight(`l${i}.s`, [N], 'f32')));
  }
  g.output('y', g.scale(x, 0.5, 0.25));
  const cpu = (inp: Float32Array) => {
    const y = Float32Array.from(inp);
    for (let i = 0; i < layers; i++) for (let k = 0; k < N; k++) y[k] = Math.fround(Math.fround(y[k]! + bs[i]![k]!) * ss[i]![k]!);
    return y.map((v) => Math.fround(Math.fround(v * 0.5) + 0.25));
  };
  return { graph: g.build(), weights: src, cpu };
}

describe('graph executor', () => {
  it('plans reuse: a deep chain needs at most half of the no-reuse activation bytes', () => {
    const { graph } = chain(16);
    const plan = planExecution(graph);
    const naive = planExecution(graph, { reuse: false });
    expect(plan.totals.activationBytes).toBeLessThanOrEqual(naive.totals.activationBytes / 2);
    expect(naive.totals.activationBytes).toBe(naive.totals.naiveActivationBytes);
  });

  it('gives bitwise-identical results with and without reuse, resident and streamed', async () => {
    const dev = await device();
    const { graph, weights, cpu } = chain(8);
    const store = new WeightStore(weights, 'memory');
    const x = randomF32(N);
    const want = cpu(x);
    const variants = [
      { reuse: true },
      { reuse: false },
      { forceStreaming: true },
      // a budget smaller than the weights forces streaming by itself
      { gpuMemoryBytes: planExecution(graph).totals.peakBytes - 1 },
    ];
    for (const v of variants) {
      const exec = await Executor.create(dev, graph, store, v);
      await exec.run({ x });
      const got = await exec.read('y');
      expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer)), JSON.stringify(v)).toBe(true);
      if ('gpuMemoryBytes' in v || 'forceStreaming' in v) expect(exec.plan.streaming).toBe(true);
      exec.destroy();
    }
  });

  it('allocates exactly what the dry run planned', async () => {
    const dev = await device();
    const { graph, weights } = chain(6);
    for (const opts of [{}, { forceStreaming: true }]) {
      const dry = planExecution(graph, opts); // no device involved
      const exec = await Executor.create(dev, graph, new WeightStore(weights, 'memory'), opts);
      expect(exec.stats.bytesAllocated).toBe(dry.totals.peakBytes);
      exec.destroy();
    }
  });

  it('creates no pipelines, layouts, bind groups or buffers on a second replay', async () => {
    const dev = await device();
    const { graph, weights, cpu } = chain(5);
    const exec = await Executor.create(dev, graph, new WeightStore(weights, 'memory'));
    const counts = { buffer: 0, bindGroup: 0, layout: 0, pipeline: 0 };
    const d = dev.device as unknown as Record<string, (...a: unknown[]) => unknown>;
    const originals = { createBuffer: d.createBuffer, createBindGroup: d.createBindGroup, createBindGroupLayout: d.createBindGroupLayout, createComputePipeline: d.createComputePipeline };
    d.createBuffer = function (...a) { counts.buffer++; return originals.createBuffer!.apply(this, a); };
    d.createBindGroup = function (...a) { counts.bindGroup++; return originals.createBindGroup!.apply(this, a); };
    d.createBindGroupLayout = function (...a) { counts.layout++; return originals.createBindGroupLayout!.apply(this, a); };
    d.createComputePipeline = function (...a) { counts.pipeline++; return originals.createComputePipeline!.apply(this, a); };
    try {
      const x1 = randomF32(N);
      await exec.run({ x: x1 });
      const x2 = randomF32(N);
      await exec.run({ x: x2 });
      expect(counts).toEqual({ buffer: 0, bindGroup: 0, layout: 0, pipeline: 0 });
      const got = await exec.read('y');
      expect(Buffer.from(got.buffer).equals(Buffer.from(cpu(x2).buffer))).toBe(true);
      expect(exec.stats.replays).toBe(2);
    } finally {
      Object.assign(d, originals);
      exec.destroy();
    }
  });

  it('binds an input given as a GPU tensor, rebinding only when it changes', async () => {
    const dev = await device();
    const { graph, weights, cpu } = chain(2);
    const exec = await Executor.create(dev, graph, new WeightStore(weights, 'memory'));
    const x = randomF32(N);
    const t = await dev.upload(x, [N], 'f32');
    const before = exec.stats.bindGroupsCreated;
    await exec.run({ x: t });
    const afterFirst = exec.stats.bindGroupsCreated;
    await exec.run({ x: t });
    expect(exec.stats.bindGroupsCreated).toBe(afterFirst); // same tensor: nothing rebuilt
    expect(afterFirst - before).toBe(1); // only the dispatch reading x
    const got = await exec.read('y');
    expect(Buffer.from(got.buffer).equals(Buffer.from(cpu(x).buffer))).toBe(true);
    exec.destroy();
  });

  it('reports bad graphs and weights clearly', async () => {
    const dev = await device();
    const g = new ModelGraph();
    const a = g.input('a', [6], 'f32');
    expect(() => g.add(a, g.input('b', [4], 'f32'), 'blocks.0.add')).toThrow(/blocks\.0\.add: b \[4\] does not repeat evenly over a \[6\]/);
    expect(() => g.add(g.input('i', [6], 'i32'), g.input('j', [6], 'i32'), 'iadd')).toThrow(/iadd: a is i32; this op accepts f32, f16, bf16/);
    g.output('y', g.add(a, g.weight('w.present', [6], 'f32')));
    const store = new WeightStore(new MemoryWeightSource().set('w.other', 'F32', [6], new Float32Array(6)), 'tiny.safetensors');
    await expect(Executor.create(dev, g.build(), store)).rejects.toThrow(/weight 'w.present' not found in tiny.safetensors/);
    const wrongShape = new WeightStore(new MemoryWeightSource().set('w.present', 'F32', [7], new Float32Array(7)), 'tiny.safetensors');
    await expect(Executor.create(dev, g.build(), wrongShape)).rejects.toThrow(/has shape \[7\] in tiny.safetensors; the model expects \[6\]/);
  });

  it('stores f32 file weights as bf16 on request', async () => {
    const dev = await device();
    const g = new ModelGraph();
    const x = g.input('x', [N], 'bf16');
    g.output('y', g.cast(g.add(x, g.weight('b', [N], 'bf16')), 'f32'));
    const b = randomF32(N);
    const exec = await Executor.create(dev, g.build(), new WeightStore(new MemoryWeightSource().set('b', 'F32', [N], b), 'mem'));
    const xs = randomF32(N);
    await exec.run({ x: xs });
    const got = await exec.read('y');
    const { roundThrough } = await import('../../src/runtime/dtype.ts');
    const xb = roundThrough(xs, 'bf16');
    const bb = roundThrough(b, 'bf16');
    const want = roundThrough(xb.map((v, i) => v + bb[i]!), 'bf16');
    expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer))).toBe(true);
    exec.destroy();
  });
});
