/**
 * Encoder time of a mid-size umT5 (d_model 1024, 8 layers, 16 heads of 64, d_ff 2816) on a
 * 512-token prompt (400 real tokens), random weights; and the dry-run plans (no device) of
 * the real umT5-XXL and CLIP ViT-H/14 with bf16 weights.
 *   npx tsx test/tools/umt5-midsize.ts [--plan-only]
 */
import { Executor } from '../../src/graph/executor.ts';
import { formatProfile } from '../../src/graph/profiler.ts';
import { gib, planExecution } from '../../src/graph/plan.ts';
import { MemoryWeightSource, WeightStore } from '../../src/graph/weights.ts';
import { CLIP_VIT_H14, OPENAI_CLIP_PREPROCESS, buildClipGraph, preprocessPlan } from '../../src/model/clip/index.ts';
import { UMT5_IO, UMT5_XXL, buildUmt5Graph, type Umt5Config } from '../../src/model/umt5/index.ts';
import { openNodeDevice } from '../../src/runtime/node.ts';

function describePlan(label: string, graph: ReturnType<typeof buildUmt5Graph>, gpuMemoryBytes?: number): void {
  const p = planExecution(graph, { gpuMemoryBytes });
  const t = p.totals;
  console.log(
    `${label}: peak ${gib(t.peakBytes)}${p.streaming ? ' (weights streamed block by block)' : ' (all resident)'}; weights ${gib(t.residentWeightBytes)} resident of ${gib(t.weightBytes)}, ` +
      `activations ${gib(t.activationBytes)}, io ${gib(t.ioBytes)}; ${(t.flops / 1e9).toFixed(0)} GFLOP, ${t.dispatches} dispatches`,
  );
}

describePlan('umT5-XXL bf16, 512 tokens', buildUmt5Graph(UMT5_XXL, 512, 'bf16'));
describePlan('umT5-XXL bf16, 512 tokens, --gpu-memory 4GiB', buildUmt5Graph(UMT5_XXL, 512, 'bf16'), 4 * 2 ** 30);
const frame = preprocessPlan(448, 1232, OPENAI_CLIP_PREPROCESS, true); // EgoX's decoded first frame
describePlan('CLIP ViT-H/14 bf16, 1232x448 frame', buildClipGraph(CLIP_VIT_H14, { weightDtype: 'bf16', source: { image: frame, preprocess: OPENAI_CLIP_PREPROCESS } }));
if (process.argv.includes('--plan-only')) process.exit(0);

const config: Umt5Config = { vocabSize: 1000, dModel: 1024, numHeads: 16, dKv: 64, dFf: 2816, numLayers: 8, numBuckets: 32, maxDistance: 128, eps: 1e-6 };
const L = 512;
const graph = buildUmt5Graph(config, L, 'f32');
let seed = 1;
const rand = (n: number, s: number) => Float32Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 2 * s);
const src = new MemoryWeightSource();
for (const [name, v] of graph.weights) {
  const n = v.shape.reduce((a, b) => a * b, 1);
  const isNorm = name.endsWith('layer_norm.weight');
  src.set(name, 'F32', v.shape, isNorm ? rand(n, 0.1).map((x) => 1 + x) : rand(n, name.includes('relative_attention_bias') ? 1 : 0.03));
}
const dev = await openNodeDevice();
const exec = await Executor.create(dev, graph, new WeightStore(src, 'random'), { profile: true });
const feed = { [UMT5_IO.embeds]: rand(L * config.dModel, 1), [UMT5_IO.validTokens]: new Uint32Array([400]) };
const t0 = performance.now();
await exec.run(feed);
const first = performance.now() - t0;
const t1 = performance.now();
await exec.run(feed);
const ms = performance.now() - t1;
console.log(
  `mid-size umT5 (d_model 1024, 8 layers, 16x64 heads, d_ff 2816), 512 tokens (400 real) on ${dev.adapter.description || dev.adapter.device}: ` +
    `first run ${(first / 1000).toFixed(1)} s (compiles), replay ${(ms / 1000).toFixed(2)} s = ${(exec.plan.totals.flops / (ms / 1000) / 1e9).toFixed(1)} GFLOP/s; ` +
    `${(exec.plan.totals.flops / 1e9).toFixed(0)} GFLOP, ${exec.plan.totals.dispatches} dispatches, peak ${(exec.plan.totals.peakBytes / 2 ** 20).toFixed(0)} MiB`,
);
console.log(formatProfile(exec.profile()));
exec.destroy();
dev.destroy();
process.exit(0);
