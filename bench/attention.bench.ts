// Attention benchmarks at L = 2048 (self-attention, H = 2 heads to keep the run short),
// head dims 64 and 128, f32, with the adapter's default variant. Peer: tfjs-webgpu composed
// attention (batched matMul -> softmax -> matMul, which materialises the L x L scores) on
// the same adapter. The EgoX case runs the geometry-biased kernel with the unbiased kernel
// of the same shape as its peer: ratio = unbiased ms / biased ms (goal >= 1 / 1.10 = 0.91).

import { attention, chooseAttentionVariant, type EgoBiasInput } from '../src/kernels/attention/index.ts';
import type { EgoxDevice } from '../src/runtime/device.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import { tfjsPeer } from './peers/tfjs.ts';
import type { BenchCase, BenchListContext, BenchPeer } from './types.ts';

function random(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.random() * 2 - 1;
  return a;
}

function composedTfjsPeer(L: number, H: number, D: number): Promise<BenchPeer | undefined> {
  return tfjsPeer('tfjs-webgpu matMul->softmax->matMul f32', (tf) => {
    // [H, L, D] per head; q pre-scaled so the composed graph is exactly three kernels.
    const q = tf.mul(tf.randomUniform([H, L, D], -1, 1, 'float32'), 1 / Math.sqrt(D));
    const k = tf.randomUniform([H, L, D], -1, 1, 'float32');
    const v = tf.randomUniform([H, L, D], -1, 1, 'float32');
    return {
      step: () => tf.tidy(() => tf.matMul(tf.softmax(tf.matMul(q, k, false, true)), v)),
      dispose: () => {
        for (const t of [q, k, v]) t.dispose();
      },
    };
  });
}

interface Inputs {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  out: Tensor;
}

/** q, k, v in `dtype` (the DiT stores bf16), out in f32. */
async function inputs(dev: EgoxDevice, L: number, H: number, D: number, dtype: 'f32' | 'bf16' = 'f32'): Promise<Inputs> {
  return {
    q: await dev.upload(random(L * H * D), [L, H * D], dtype),
    k: await dev.upload(random(L * H * D), [L, H * D], dtype),
    v: await dev.upload(random(L * H * D), [L, H * D], dtype),
    out: dev.empty([L, H * D], 'f32'),
  };
}

function variantName(dev: EgoxDevice, D: number): string {
  return chooseAttentionVariant(dev, D).variant;
}

function plainCase(L: number, H: number, D: number): BenchCase {
  return {
    kernel: 'attention',
    shape: `L${L} H${H} d${D} f32`,
    flops: 4 * L * L * H * D,
    async setup(ctx) {
      const { dev } = ctx;
      ctx.log(`attention L${L} H${H} d${D}: variant ${variantName(dev, D)}`);
      const t = await inputs(dev, L, H, D);
      const peers = [await composedTfjsPeer(L, H, D)];
      return {
        run: () => void attention(dev, t.q, t.k, t.v, { heads: H, out: t.out }),
        peers,
        dispose: () => {
          for (const x of Object.values(t)) x.release();
          for (const p of peers) p?.dispose?.();
        },
      };
    },
  };
}

/**
 * The EgoX shape class: frames of 28 x 77 tokens (the 14B run at 448 px ego + 784 px exo:
 * latent 56 x 154, patch 2), of which the last 28 columns are ego queries (egoColStart 49),
 * self-attention over all frames' tokens with one key-direction set per query frame, d 128
 * as in the 14B model. EgoX runs 13 frames (28,028 tokens); `frames` shortens that to a
 * length lavapipe finishes in about a second per run. Peer: the same kernel, same inputs,
 * without the bias; ratio = unbiased ms / biased ms (goal >= 1 / 1.10 = 0.91).
 */
function egoxCase(frames: number, H: number, D: number, dtype: 'f32' | 'bf16'): BenchCase {
  const [rows, cols, egoCols] = [28, 77, 28];
  const tokensPerFrame = rows * cols;
  const L = frames * tokensPerFrame;
  return {
    kernel: 'attention-egox',
    shape: `L${L} H${H} d${D} ${dtype}, ${frames}x${rows}x${cols} grid, ${egoCols} ego cols, lambda 3 (peer: same kernel without bias)`,
    flops: 4 * L * L * H * D,
    // The effect sought (a few percent) is smaller than one round's noise under load.
    rounds: 15,
    async setup(ctx) {
      const { dev } = ctx;
      ctx.log(`attention-egox L${L} H${H} d${D} ${dtype}: variant ${chooseAttentionVariant(dev, D, dtype).variant}`);
      const t = await inputs(dev, L, H, D, dtype);
      const qdir = await dev.upload(random(L * 3), [L, 3], 'f32');
      const kdir = await dev.upload(random(frames * L * 3), [frames, L, 3], 'f32');
      const egoBias: EgoBiasInput = { qdir, kdir, tokensPerFrame, gridWidth: cols, egoColStart: cols - egoCols, lambda: 3 };
      const unbiased: BenchPeer = {
        name: 'egox attention without bias',
        run: () => void attention(dev, t.q, t.k, t.v, { heads: H, out: t.out }),
        sync: () => dev.sync(),
      };
      return {
        run: () => void attention(dev, t.q, t.k, t.v, { heads: H, out: t.out, egoBias }),
        peers: [unbiased],
        dispose: () => {
          for (const x of [...Object.values(t), qdir, kdir]) x.release();
        },
      };
    },
  };
}

/**
 * bf16 inputs (the DiT's storage), f32 output, the adapter's default variant: subgroup
 * matrices where the adapter offers them. Peer: the flash variant on the same inputs
 * (ratio = flash ms / default ms).
 */
function bf16Case(L: number, H: number, D: number): BenchCase {
  return {
    kernel: 'attention',
    shape: `L${L} H${H} d${D} bf16 -> f32 (peer: flash variant)`,
    flops: 4 * L * L * H * D,
    async setup(ctx) {
      const { dev } = ctx;
      ctx.log(`attention L${L} H${H} d${D} bf16: variant ${chooseAttentionVariant(dev, D, 'bf16').variant}`);
      const t = await inputs(dev, L, H, D, 'bf16');
      const flash: BenchPeer = {
        name: 'egox flash variant, same inputs',
        run: () => void attention(dev, t.q, t.k, t.v, { heads: H, out: t.out, variant: 'flash' }),
        sync: () => dev.sync(),
      };
      return {
        run: () => void attention(dev, t.q, t.k, t.v, { heads: H, out: t.out }),
        peers: [flash],
        dispose: () => {
          for (const x of Object.values(t)) x.release();
        },
      };
    },
  };
}

export function cases(ctx: BenchListContext): BenchCase[] {
  const plain = [plainCase(2048, 2, 64), plainCase(2048, 2, 128)];
  const egox = [egoxCase(2, 1, 128, 'f32'), egoxCase(2, 1, 128, 'bf16')];
  // The 16-bit plain case exists for the sgmatrix variant; quick runs leave it out.
  return ctx.quick ? [...plain, ...egox] : [...plain, ...egox, bf16Case(2048, 2, 128)];
}
