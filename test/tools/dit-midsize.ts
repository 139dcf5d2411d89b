/**
 * Forward time and per-family GPU profile of a mid-size Wan DiT (dim 512, 4 blocks, 4 heads of
 * 128, L = 2048 tokens, I2V with the EgoX bias) on random weights.
 *   npx tsx test/tools/dit-midsize.ts [--no-gga]
 */
import { Executor } from '../../src/graph/executor.ts';
import { formatProfile } from '../../src/graph/profiler.ts';
import { MemoryWeightSource, WeightStore } from '../../src/graph/weights.ts';
import { WanDit, DIT_IO } from '../../src/model/wan/dit.ts';
import type { WanConfig } from '../../src/model/wan/config.ts';
import { timestepEmbedding } from '../../src/model/wan/timestep.ts';
import { openNodeDevice } from '../../src/runtime/node.ts';

const gga = !process.argv.includes('--no-gga');
const config: WanConfig = {
  name: 'mid', dim: 512, ffnDim: 1536, numHeads: 4, headDim: 128, numLayers: 4, inDim: 36, outDim: 16,
  textDim: 4096, textLen: 512, imageDim: 1280, imageLen: 257, freqDim: 256, eps: 1e-6, ropeTheta: 10000, patch: [1, 2, 2],
};
const latent: [number, number, number, number] = [36, 4, 32, 64]; // 4 x 16 x 32 = 2048 tokens
const dit = new WanDit(config, { latentShape: latent, gga: gga ? { lambda: 3, egoLatentCols: 32 } : null });
const graph = dit.build();
let seed = 1;
const rand = (n: number, s: number) => Float32Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 2 * s);
const src = new MemoryWeightSource();
for (const [name, v] of graph.weights) {
  if (graph.constants.has(name)) continue;
  const n = v.shape.reduce((a, b) => a * b, 1);
  src.set(name, 'F32', v.shape, rand(n, name.includes('norm') ? 0.1 : 0.02).map((x) => (name.endsWith('norm_q.weight') || name.endsWith('norm_k.weight') ? 1 + x : x)));
}
const dev = await openNodeDevice();
const exec = await Executor.create(dev, graph, new WeightStore(src, 'random'), { profile: true });
const L = dit.tokens;
const feed: Record<string, Float32Array> = {
  [DIT_IO.latents]: rand(latent.reduce((a, b) => a * b, 1), 1),
  [DIT_IO.timestepEmbedding]: timestepEmbedding(500),
  [DIT_IO.context]: rand(512 * 4096, 0.5),
  [DIT_IO.clip]: rand(257 * 1280, 0.5),
};
if (gga) {
  feed[DIT_IO.ggaQueryDirs] = rand(L * 3, 0.5);
  feed[DIT_IO.ggaKeyDirs] = rand(latent[1] * L * 3, 0.5);
}
const t0 = performance.now();
await exec.run(feed);
const first = performance.now() - t0;
const t1 = performance.now();
await exec.run(feed);
const ms = performance.now() - t1;
console.log(`mid-size DiT (dim 512, 4 blocks, L ${L}, gga ${gga}): first run ${(first / 1000).toFixed(1)} s (compiles), replay ${(ms / 1000).toFixed(2)} s = ${(exec.plan.totals.flops / (ms / 1000) / 1e9).toFixed(1)} GFLOP/s; ${exec.plan.totals.flops / 1e9 | 0} GFLOP, ${exec.plan.totals.dispatches} dispatches, peak ${(exec.plan.totals.peakBytes / 2 ** 20).toFixed(0)} MiB`);
console.log(formatProfile(exec.profile()));
exec.destroy();
dev.destroy();
process.exit(0);
