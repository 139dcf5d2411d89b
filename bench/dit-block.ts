// Forward time of Wan DiT blocks on random weights, resident or streamed: the 14B model's block
// at EgoX's 28,028 tokens (13 latent frames of 28 x 77 tokens, 56 ego latent columns, the
// geometry bias on) for a GPU machine, or `--dry` sizes that lavapipe runs in seconds.
//
//   npx tsx bench/dit-block.ts [--dry] [--layers 1] [--weight-dtype bf16|f32] [--stream]
//                              [--rounds 3] [--profile] [--out result.json]
//
// Prints one JSON object (also written to --out): sizes, the first run (shader compiles and
// weight upload), each timed forward after it and their median, GFLOP/s by the planner's
// FLOP count, dispatches and planned peak memory. With --stream every block's weights are
// uploaded at every forward (the path a GPU below the model's size takes).

import { writeFileSync } from 'node:fs';
import { Executor } from '../src/graph/executor.ts';
import { formatProfile } from '../src/graph/profiler.ts';
import { MemoryWeightSource, WeightStore } from '../src/graph/weights.ts';
import { WAN_CONFIGS, type WanConfig } from '../src/model/wan/config.ts';
import { DIT_IO, WanDit } from '../src/model/wan/dit.ts';
import { timestepEmbedding } from '../src/model/wan/timestep.ts';
import { openNodeDevice } from '../src/runtime/node.ts';
import { quantile } from './interleave.ts';

interface Args {
  dry: boolean;
  layers: number;
  weightDtype: 'bf16' | 'f32';
  stream: boolean;
  rounds: number;
  profile: boolean;
  out?: string;
}

function usage(message: string): never {
  process.stderr.write(`dit-block: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const a: Args = { dry: false, layers: 1, weightDtype: 'bf16', stream: false, rounds: 3, profile: false };
  const count = (v: string | undefined, name: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 100) usage(`${name} needs a whole number in 1..100, got '${v ?? ''}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--dry') a.dry = true;
    else if (arg === '--stream') a.stream = true;
    else if (arg === '--profile') a.profile = true;
    else if (arg === '--layers') a.layers = count(argv[++i], '--layers');
    else if (arg === '--rounds') a.rounds = count(argv[++i], '--rounds');
    else if (arg === '--out') a.out = argv[++i] ?? usage('--out needs a file name');
    else if (arg === '--weight-dtype') {
      const v = argv[++i];
      if (v !== 'bf16' && v !== 'f32') usage(`--weight-dtype must be bf16 or f32, got '${v ?? ''}'`);
      a.weightDtype = v;
    } else usage(`unknown option '${arg}': use --dry, --layers N, --weight-dtype bf16|f32, --stream, --rounds N, --profile, --out FILE`);
  }
  return a;
}

/** The 14B block at EgoX's latent [36, 13, 56, 154], or a small block of the same structure. */
function sizes(a: Args): { config: WanConfig; latent: [number, number, number, number]; egoLatentCols: number } {
  if (a.dry) {
    const config: WanConfig = { ...WAN_CONFIGS['wan2.1-i2v-14b']!, name: 'dry', dim: 256, ffnDim: 512, numHeads: 2, headDim: 128, numLayers: a.layers, textLen: 64, imageLen: 17 };
    return { config, latent: [36, 2, 8, 22], egoLatentCols: 8 };
  }
  return { config: { ...WAN_CONFIGS['wan2.1-i2v-14b']!, numLayers: a.layers }, latent: [36, 13, 56, 154], egoLatentCols: 56 };
}

/** Deterministic values in (-s, s) (xorshift32: fast enough for a billion weights). */
function randomFill(out: Float32Array, s: number, seed: number): Float32Array {
  let x = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x >>> 0) / 2 ** 32 - 0.5) * 2 * s;
  }
  return out;
}

/** Random weights in the checkpoint's own 16-bit form when asked: bf16 = the top half of the f32 bits. */
function randomWeight(n: number, s: number, seed: number, dtype: 'bf16' | 'f32'): { st: 'BF16' | 'F32'; data: ArrayBufferView } {
  const f = randomFill(new Float32Array(n), s, seed);
  if (dtype === 'f32') return { st: 'F32', data: f };
  const bits = new Uint32Array(f.buffer);
  const h = new Uint16Array(n);
  for (let i = 0; i < n; i++) h[i] = bits[i]! >>> 16;
  return { st: 'BF16', data: h };
}

const args = parseArgs(process.argv.slice(2));
const { config, latent, egoLatentCols } = sizes(args);
const dit = new WanDit(config, { latentShape: latent, weightDtype: args.weightDtype, gga: { lambda: 3, egoLatentCols } });
const graph = dit.build();
const src = new MemoryWeightSource();
let seed = 1;
for (const [name, v] of graph.weights) {
  if (graph.constants.has(name)) continue;
  const n = v.shape.reduce((x, y) => x * y, 1);
  const isNorm = name.includes('norm');
  const w = randomWeight(n, isNorm ? 0.1 : 0.02, seed++, args.weightDtype);
  if (name.endsWith('norm_q.weight') || name.endsWith('norm_k.weight')) {
    // RMS-norm gains near 1, as trained ones are.
    const f = randomFill(new Float32Array(n), 0.1, seed++).map((x) => 1 + x);
    src.set(name, 'F32', v.shape, f);
  } else src.set(name, w.st, v.shape, w.data);
}

const L = dit.tokens;
const feed: Record<string, Float32Array> = {
  [DIT_IO.latents]: randomFill(new Float32Array(latent.reduce((x, y) => x * y, 1)), 1, 7),
  [DIT_IO.timestepEmbedding]: timestepEmbedding(500, config.freqDim),
  [DIT_IO.context]: randomFill(new Float32Array(config.textLen * config.textDim), 0.5, 8),
  [DIT_IO.clip]: randomFill(new Float32Array(config.imageLen * (config.imageDim ?? 0)), 0.5, 9),
  [DIT_IO.ggaQueryDirs]: randomFill(new Float32Array(L * 3), 0.5, 10),
  [DIT_IO.ggaKeyDirs]: randomFill(new Float32Array(latent[1] * L * 3), 0.5, 11),
};

const dev = await openNodeDevice();
const exec = await Executor.create(dev, graph, new WeightStore(src, 'random'), { forceStreaming: args.stream, profile: args.profile });
const t0 = performance.now();
await exec.run(feed);
const firstMs = performance.now() - t0;
const ms: number[] = [];
for (let r = 0; r < args.rounds; r++) {
  const t = performance.now();
  await exec.run(feed);
  ms.push(performance.now() - t);
}
const median = quantile(ms, 0.5);
const t = exec.plan.totals;
const result = {
  model: config.name,
  dim: config.dim,
  heads: config.numHeads,
  headDim: config.headDim,
  layers: config.numLayers,
  latent,
  tokens: L,
  weightDtype: args.weightDtype,
  streaming: exec.plan.streaming,
  adapter: dev.adapter.description,
  firstMs: Math.round(firstMs),
  ms: ms.map((v) => Math.round(v)),
  medianMs: Math.round(median),
  gflopPerForward: Math.round(t.flops / 1e9),
  gflops: Number((t.flops / (median / 1000) / 1e9).toFixed(1)),
  dispatches: t.dispatches,
  peakMiB: Math.round(t.peakBytes / 2 ** 20),
};
if (args.profile) process.stderr.write(`${formatProfile(exec.profile())}\n`);
process.stdout.write(`${JSON.stringify(result)}\n`);
if (args.out) writeFileSync(args.out, `${JSON.stringify(result, null, 2)}\n`);
exec.destroy();
dev.destroy();
process.exit(0);
