// MoGe-2 ViT-S at EgoX's exo frame (784x448) on random weights of the published shapes (the
// training config's neck and heads; timing does not depend on the values):
//  - 'moge-vit': the DINOv2 ViT-S blocks at the frame's token grid (the default 3,600-token
//    budget), egox's graph vs tfjs-webgpu running the same blocks on the same adapter (per-head
//    attention: tfjs materialises each head's L x L scores, all heads at once would not fit a
//    128 MiB binding). `--quick` times 3 of the 12 blocks.
//  - 'moge': the whole network per frame as `egox prepare` runs it (upload, encoder, neck,
//    heads, read back), at the largest token budget the adapter's storage binding allows.
import { Executor } from '../src/graph/executor.ts';
import { ModelGraph } from '../src/graph/ops/index.ts';
import { planExecution } from '../src/graph/plan.ts';
import { MemoryWeightSource, WeightStore } from '../src/graph/weights.ts';
import type { Graph } from '../src/graph/ir.ts';
import { MogeBindingLimitError, MogeModel, buildMogeGraph, publishedLikeConfig, publishedLikeModelConfig, tokenGrid, vitBlock } from '../src/model/moge/index.ts';
import { tfjsPeer } from './peers/tfjs.ts';
import type { BenchCase, BenchListContext, BenchPeer } from './types.ts';

const FRAME = { height: 448, width: 784 };
const DEFAULT_TOKENS = 3600;

function uniform(n: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (Math.random() * 2 - 1) * scale;
  return a;
}

/** Random f32 values for every weight a graph reads. */
function randomWeights(graph: Graph): MemoryWeightSource {
  const src = new MemoryWeightSource();
  for (const [name, v] of graph.weights) src.set(name, 'F32', v.shape, uniform(v.shape.reduce((a, b) => a * b, 1), 0.05));
  return src;
}

function tfjsVitPeer(L: number, D: number, H: number, hidden: number, depth: number): Promise<BenchPeer | undefined> {
  return tfjsPeer('tfjs-webgpu ViT blocks f32', (tf) => {
    const r = (shape: number[]) => tf.randomUniform(shape, -0.05, 0.05, 'float32');
    const blocks = Array.from({ length: depth }, () => ({
      g1: tf.ones([D]), b1: tf.zeros([D]), g2: tf.ones([D]), b2: tf.zeros([D]),
      qkv: r([D, 3 * D]), qkvB: r([3 * D]), proj: r([D, D]), projB: r([D]), ls1: r([D]), ls2: r([D]),
      fc1: r([D, hidden]), fc1B: r([hidden]), fc2: r([hidden, D]), fc2B: r([D]),
    }));
    const x0 = r([L, D]);
    const d = D / H;
    type T = import('@tensorflow/tfjs-core').Tensor;
    const ln = (x: T, g: T, b: T) => {
      const { mean, variance } = tf.moments(x, 1, true);
      return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-6))), g), b);
    };
    const gelu = (x: T) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
    return {
      step: () =>
        tf.tidy(() => {
          let x: T = x0;
          for (const b of blocks) {
            x = tf.tidy(() => {
              const qkv = tf.add(tf.matMul(ln(x, b.g1, b.b1), b.qkv), b.qkvB);
              const [q, k, v] = tf.split(qkv, 3, 1) as [T, T, T];
              const heads = Array.from({ length: H }, (_, h) =>
                tf.tidy(() => {
                  const part = (t: T) => tf.slice(t, [0, h * d], [L, d]);
                  return tf.matMul(tf.softmax(tf.mul(tf.matMul(part(q), part(k), false, true), 1 / Math.sqrt(d))), part(v));
                }),
              );
              const y = tf.add(x, tf.mul(tf.add(tf.matMul(tf.concat(heads, 1), b.proj), b.projB), b.ls1));
              const m = gelu(tf.add(tf.matMul(ln(y, b.g2, b.b2), b.fc1), b.fc1B));
              return tf.add(y, tf.mul(tf.add(tf.matMul(m, b.fc2), b.fc2B), b.ls2));
            });
          }
          return x;
        }),
      dispose: () => {
        x0.dispose();
        for (const b of blocks) for (const t of Object.values(b)) t.dispose();
      },
    };
  });
}

function vitCase(quick: boolean): BenchCase {
  const c = publishedLikeConfig('vits');
  const { width: D, heads: H, mlpHidden, registers: R } = c.backbone;
  const grid = tokenGrid(FRAME.height, FRAME.width, DEFAULT_TOKENS);
  const L = 1 + R + grid.rows * grid.cols;
  const depth = quick ? 3 : c.backbone.depth;
  const g = new ModelGraph();
  let x = g.input('tokens', [L, D]);
  for (let i = 0; i < depth; i++) x = vitBlock(g, c, x, i, 'f32');
  g.output('out', x);
  const graph = g.build();
  return {
    kernel: 'moge-vit',
    shape: `ViT-S ${depth} blocks, ${L} tokens (784x448 at ${DEFAULT_TOKENS}: grid ${grid.rows}x${grid.cols}), f32`,
    flops: planExecution(graph).totals.flops,
    async setup(ctx) {
      const exec = await Executor.create(ctx.dev, graph, new WeightStore(randomWeights(graph), 'random ViT-S'));
      await exec.run({ tokens: uniform(L * D, 1) });
      const peers = [await tfjsVitPeer(L, D, H, mlpHidden, depth)];
      return {
        run: () => exec.run() as unknown as void,
        peers,
        dispose: () => {
          exec.destroy();
          for (const p of peers) p?.dispose?.();
        },
      };
    },
  };
}

function networkCase(): BenchCase {
  const { modelConfig } = publishedLikeModelConfig('vits');
  const c = publishedLikeConfig('vits');
  const bc: BenchCase = {
    kernel: 'moge',
    shape: 'MoGe-2 ViT-S whole network per frame, 784x448, f32 weights, largest token budget that fits',
    async setup(ctx) {
      const full = buildMogeGraph(c, { ...FRAME, ...tokenGrid(FRAME.height, FRAME.width, DEFAULT_TOKENS), weightDtype: 'f32' });
      const model = MogeModel.fromSource(ctx.dev, randomWeights(full), 'random ViT-S', modelConfig);
      const image = uniform(3 * FRAME.height * FRAME.width, 0.5).map((v) => v + 0.5);
      let tokens = DEFAULT_TOKENS;
      try {
        await model.forward(image, FRAME.height, FRAME.width, tokens);
      } catch (e) {
        if (!(e instanceof MogeBindingLimitError)) throw e;
        tokens = e.fitTokens;
        await model.forward(image, FRAME.height, FRAME.width, tokens);
      }
      const grid = tokenGrid(FRAME.height, FRAME.width, tokens);
      const graph = buildMogeGraph(c, { ...FRAME, ...grid, weightDtype: 'f32' });
      const flops = planExecution(graph).totals.flops;
      ctx.log(`moge: ${tokens} tokens (grid ${grid.rows}x${grid.cols}), ${(flops / 1e9).toFixed(1)} GFLOP per frame`);
      bc.flops = flops;
      bc.shape = `MoGe-2 ViT-S whole network per frame, 784x448, ${tokens} tokens (grid ${grid.rows}x${grid.cols}), f32 weights, ${(flops / 1e9).toFixed(0)} GFLOP`;
      return {
        run: () => model.forward(image, FRAME.height, FRAME.width, tokens) as unknown as void,
        dispose: () => void model.close(),
      };
    },
  };
  return bc;
}

export const cases = (ctx: BenchListContext): BenchCase[] => [vitCase(ctx.quick), networkCase()];
