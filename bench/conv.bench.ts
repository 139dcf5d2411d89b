// Convolution benchmarks: the VAE's causal Conv3d 3x3x3 at the shape
// ([96, 5, 64, 64] -> 96 channels), with f32 and bf16 weights, and the downsampler's
// Conv2d 3x3 stride 2 (pad right/bottom). Peer: tfjs-webgpu conv3d / conv2d (NDHWC / NHWC,
// 'same' / explicit padding: the same multiply-adds), same adapter, same process.
// tfjs's conv3d is a naive kernel taking tens of seconds here, so its peer measures itself:
// one warm-up on a tiny input (same shader: tfjs passes shapes as uniforms), then the best
// of 1 (--quick) or 2 runs; the f32 case only.
// With --tune every candidate variant is timed first (logged) and the fastest is used.

import { conv2d, conv3d, convCandidates, defaultConvVariant, type ConvVariant } from '../src/kernels/conv.ts';
import type { Tensor } from '../src/runtime/tensor.ts';
import { loadTfjs } from './peers/tfjs.ts';
import type { BenchCase, BenchContext, BenchPeer } from './types.ts';

type Tf = typeof import('@tensorflow/tfjs-core');
type TfTensor = import('@tensorflow/tfjs-core').Tensor;

function random(n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (Math.random() * 2 - 1) * scale;
  return a;
}

type ConvKind = Parameters<typeof defaultConvVariant>[1];

/** The tuned variant with --tune, else the one the launcher picks by itself. */
async function chooseVariant(ctx: BenchContext, label: string, spec: ConvKind, runWith: (v: ConvVariant) => void): Promise<ConvVariant> {
  const v = ctx.tune ? await tuneVariant(ctx, label, spec, runWith) : defaultConvVariant(ctx.dev, spec);
  ctx.log(`${label}: variant ${JSON.stringify(v)}`);
  return v;
}

/** Times each candidate (warm-up, then best of two) and returns the fastest. */
async function tuneVariant(ctx: BenchContext, label: string, spec: ConvKind, runWith: (v: ConvVariant) => void): Promise<ConvVariant> {
  let best: { v: ConvVariant; ms: number } | undefined;
  for (const v of convCandidates(ctx.dev, spec)) {
    runWith(v);
    await ctx.dev.sync();
    let ms = Infinity;
    for (let r = 0; r < 2; r++) {
      const t0 = performance.now();
      runWith(v);
      await ctx.dev.sync();
      ms = Math.min(ms, performance.now() - t0);
    }
    ctx.log(`  ${label} ${JSON.stringify(v)}: ${ms.toFixed(1)} ms`);
    if (!best || ms < best.ms) best = { v, ms };
  }
  return best!.v;
}

/** A tfjs peer that measures itself (see the header). */
async function tfjsSelfTimedPeer(
  name: string,
  make: (tf: Tf) => { warm(): TfTensor; step(): TfTensor; dispose(): void },
  maxRuns: number,
): Promise<BenchPeer | undefined> {
  const tf = await loadTfjs();
  if (!tf) return undefined;
  const s = make(tf);
  return {
    name,
    async measure({ repeats }) {
      const w = s.warm();
      await w.data();
      w.dispose();
      let best = Infinity;
      for (let r = 0; r < Math.min(repeats, maxRuns); r++) {
        const t0 = performance.now();
        const y = s.step();
        await y.data();
        best = Math.min(best, performance.now() - t0);
        y.dispose();
      }
      return best;
    },
    dispose: () => s.dispose(),
  };
}

function conv3dCase(wDtype: 'f32' | 'bf16'): BenchCase {
  const [C, F, H, W] = [96, 5, 64, 64];
  return {
    kernel: 'conv3d',
    shape: `[${C},${F},${H},${W}] -> ${C} k3x3x3 causal, W ${wDtype}`,
    flops: 2 * C * F * H * W * C * 27,
    async setup(ctx) {
      const { dev } = ctx;
      const x = await dev.upload(random(C * F * H * W), [C, F, H, W], 'f32');
      const w = await dev.upload(random(C * C * 27, 0.05), [C, C, 3, 3, 3], wDtype);
      const b = await dev.upload(random(C), [C], 'f32');
      const y = dev.empty([C, F, H, W], 'f32');
      const runWith = (variant: ConvVariant) => conv3d(dev, x, w, b, { padding: 1, out: y, variant });
      const variant = await chooseVariant(ctx, `conv3d ${wDtype}`, { cout: C, kernel: [3, 3, 3], stride: [1, 1, 1] }, runWith);
      // One peer run takes tens of seconds: compare the f32 case only.
      const peers = wDtype !== 'f32' ? [] : [
        await tfjsSelfTimedPeer(
          'tfjs-webgpu conv3d f32',
          (tf) => {
            const tx = tf.randomUniform([1, F, H, W, C], -1, 1, 'float32') as import('@tensorflow/tfjs-core').Tensor5D;
            const tw = tf.randomUniform([3, 3, 3, C, C], -0.05, 0.05, 'float32') as import('@tensorflow/tfjs-core').Tensor5D;
            const small = tf.randomUniform([1, 2, 4, 4, 4], -1, 1, 'float32') as import('@tensorflow/tfjs-core').Tensor5D;
            const smallW = tf.randomUniform([3, 3, 3, 4, 4], -1, 1, 'float32') as import('@tensorflow/tfjs-core').Tensor5D;
            return {
              warm: () => tf.conv3d(small, smallW, 1, 'same'),
              step: () => tf.conv3d(tx, tw, 1, 'same'),
              dispose: () => tf.dispose([tx, tw, small, smallW]),
            };
          },
          ctx.quick ? 1 : 2,
        ),
      ];
      return {
        run: () => runWith(variant),
        peers,
        dispose: () => {
          for (const t of [x, w, b, y] as Tensor[]) t.release();
          for (const p of peers) p?.dispose?.();
        },
      };
    },
  };
}

function downsampleCase(): BenchCase {
  const [C, F, H, W] = [96, 4, 128, 128];
  const [OH, OW] = [H / 2, W / 2];
  return {
    kernel: 'conv2d',
    shape: `[${C},${F},${H},${W}] -> ${C} k3x3 s2 pad (0,1,0,1)`,
    flops: 2 * C * F * OH * OW * C * 9,
    async setup(ctx) {
      const { dev } = ctx;
      const x = await dev.upload(random(C * F * H * W), [C, F, H, W], 'f32');
      const w = await dev.upload(random(C * C * 9, 0.05), [C, C, 3, 3], 'f32');
      const b = await dev.upload(random(C), [C], 'f32');
      const y = dev.empty([C, F, OH, OW], 'f32');
      const pad = { top: 0, bottom: 1, left: 0, right: 1 };
      const runWith = (variant: ConvVariant) => conv2d(dev, x, w, b, { stride: 2, padding: pad, out: y, variant });
      const variant = await chooseVariant(ctx, 'conv2d', { cout: C, kernel: [1, 3, 3], stride: [1, 2, 2] }, runWith);
      const peers = [
        await tfjsSelfTimedPeer(
          'tfjs-webgpu conv2d f32',
          (tf) => {
            const tx = tf.randomUniform([F, H, W, C], -1, 1, 'float32') as import('@tensorflow/tfjs-core').Tensor4D;
            const tw = tf.randomUniform([3, 3, C, C], -0.05, 0.05, 'float32') as import('@tensorflow/tfjs-core').Tensor4D;
            const tpad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [0, 1], [0, 1], [0, 0]];
            return {
              warm: () => tf.conv2d(tx, tw, 2, tpad),
              step: () => tf.conv2d(tx, tw, 2, tpad),
              dispose: () => tf.dispose([tx, tw]),
            };
          },
          ctx.quick ? 2 : 3,
        ),
      ];
      return {
        run: () => runWith(variant),
        peers,
        dispose: () => {
          for (const t of [x, w, b, y]) t.release();
          for (const p of peers) p?.dispose?.();
        },
      };
    },
  };
}

export function cases(): BenchCase[] {
  return [conv3dCase('f32'), conv3dCase('bf16'), downsampleCase()];
}

