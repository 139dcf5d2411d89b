/**
 * Replay overhead of the graph executor: a 40-node elementwise chain on tiny tensors (GPU
 * work negligible), and the tiny EgoX DiT resident vs streamed. Prints medians.
 *   npx tsx test/tools/graph-overhead.ts
 */
import { ModelGraph } from '../../src/graph/ops/index.ts';
import { Executor } from '../../src/graph/executor.ts';
import { MemoryWeightSource, WeightStore } from '../../src/graph/weights.ts';
import { planExecution } from '../../src/graph/plan.ts';
import { openNodeDevice } from '../../src/runtime/node.ts';
import { loadDitCase, DIT_GOLDEN } from '../model/dit-golden.ts';
import { WanDit, DIT_IO } from '../../src/model/wan/dit.ts';
import { openWanCheckpoint } from '../../src/model/wan/load.ts';
import { timestepEmbedding } from '../../src/model/wan/timestep.ts';

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const dev = await openNodeDevice();

const N = 64;
const g = new ModelGraph();
const src = new MemoryWeightSource();
let x = g.input('x', [N]);
for (let i = 0; i < 20; i++) {
  src.set(`b${i}`, 'F32', [N], new Float32Array(N).fill(0.5)).set(`s${i}`, 'F32', [N], new Float32Array(N).fill(0.9));
  x = g.mul(g.add(x, g.weight(`b${i}`, [N], 'f32')), g.weight(`s${i}`, [N], 'f32'));
}
g.output('y', x);
const graph = g.build();
const plan = planExecution(graph);
const exec = await Executor.create(dev, graph, new WeightStore(src, 'mem'));
const input = new Float32Array(N);
const times: number[] = [];
for (let r = 0; r < 30; r++) {
  const t0 = performance.now();
  await exec.run({ x: input });
  times.push(performance.now() - t0);
}
console.log(`chain: ${graph.nodes.length} nodes, activations ${plan.totals.activationBytes} B planned vs ${plan.totals.naiveActivationBytes} B without reuse; replay (write input + encode + submit + wait) median ${median(times.slice(5)).toFixed(2)} ms`);
exec.destroy();

const c = await loadDitCase('i2v_egox_gga');
const xi = c.io.get('x')!;
const dit = new WanDit(c.config, { latentShape: xi.shape as [number, number, number, number], gga: { lambda: 3, egoLatentCols: c.json.egoCols } }).build();
const ckpt = await openWanCheckpoint(`${DIT_GOLDEN}/${c.json.weights}`, { config: c.config });
const feed = {
  [DIT_IO.latents]: xi.data,
  [DIT_IO.timestepEmbedding]: timestepEmbedding(757, 256),
  [DIT_IO.context]: c.io.get('context')!.data,
  [DIT_IO.clip]: c.io.get('clip')!.data,
  [DIT_IO.ggaQueryDirs]: c.io.get('gga_query_dirs')!.data,
  [DIT_IO.ggaKeyDirs]: c.io.get('gga_key_dirs')!.data,
};
for (const opts of [{}, { forceStreaming: true }]) {
  const e = await Executor.create(dev, dit, ckpt.store, opts);
  const ts: number[] = [];
  for (let r = 0; r < 12; r++) {
    const t0 = performance.now();
    await e.run(feed);
    ts.push(performance.now() - t0);
  }
  console.log(`tiny EgoX DiT (${dit.nodes.length} nodes, ${e.plan.totals.dispatches} dispatches) ${e.plan.streaming ? 'streamed' : 'resident'}: median forward ${median(ts.slice(2)).toFixed(1)} ms, peak ${(e.plan.totals.peakBytes / 1024).toFixed(0)} KiB (weights on GPU ${(e.plan.totals.residentWeightBytes / 1024).toFixed(0)} KiB of ${(e.plan.totals.weightBytes / 1024).toFixed(0)} KiB)`);
  e.destroy();
}
dev.destroy();
process.exit(0);
