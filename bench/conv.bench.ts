// Convolution benchmarks: the VAE's causal Conv3d 3x3x3 at the issue's shape
// ([96, 5, 64, 64] -> 96 channels), with f32 and bf16 weights, and the downsampler's
// Conv2d 3x3 stride 2 (pad right/bottom). Peer: tfjs-webgpu conv3d / conv2d (NDHWC / NHWC,
// 'same' / explicit padding: the same multiply-adds), same adapter, same process.
// tfjs's conv3d is a naive kernel taking tens of seconds here, so its peer measures itself:
// one warm-up on a tiny input (same shader: tfjs passes shapes as uniforms), then the best
// of 1 (--quick) or 2 runs; the f32 case only.
// With --tune the conv shape classes of the Wan VAE (and the cases' own) are tuned first through
// src/kernels/tuning/conv-autotune.ts (logged) and the winners stored per adapter; without it, stored
// winners are used when present.

import { conv2d, conv3d, convShapeClass, defaultConvVariant, type ConvVariant } from '../src/kernels/conv/index.ts';
import { loadConvTuning, tuneConv, type ConvTuneSpec } from '../src/kernels/tuning/conv-autotune.ts';
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

/** Shape classes tuned in this process (per device): cases sharing a class are tuned once. */
const tunedHere = new WeakMap<object, Set<string>>();

/**
 * The conv shape classes of the Wan2.1 VAE (base 96 channels, multipliers 1/2/4/4), f32
 * weights as the VAE loads them by default: the causal 3x3x3 convs of the residual blocks
 * (including the widening ones), the downsamplers' 1x3x3 stride-2 convs and 3x1x1 stride-2
 * time convs, the upsamplers' 3x1x1 time convs (C -> 2C) and 1x3x3 convs (C -> C/2), and the
 * 1x1 shortcuts and attention projections.
 */
export function vaeConvClasses(): ConvTuneSpec[] {
  const s1 = [1, 1, 1] as const;
  const k3 = [3, 3, 3] as const;
  const out: ConvTuneSpec[] = [];
  const add = (cin: number, cout: number, kernel: readonly [number, number, number], stride: readonly [number, number, number]) =>
    out.push({ cin, cout, kernel, stride, weight: 'f32' });
  for (const [ci, co] of [[96, 96], [192, 192], [384, 384], [96, 192], [192, 384]]) add(ci!, co!, k3, s1);
  for (const c of [96, 192, 384]) add(c, c, [1, 3, 3], [1, 2, 2]);
  for (const c of [192, 384]) add(c, c, [3, 1, 1], [2, 1, 1]);
  add(384, 768, [3, 1, 1], s1);
  for (const [ci, co] of [[384, 192], [192, 96]]) add(ci!, co!, [1, 3, 3], s1);
  for (const [ci, co] of [[96, 192], [192, 384], [384, 384], [384, 1152]]) add(ci!, co!, s1, s1);
  return out;
}

async function tuneClass(ctx: BenchContext, spec: ConvTuneSpec): Promise<void> {
  const cls = convShapeClass(spec)!;
  const done = tunedHere.get(ctx.dev) ?? new Set<string>();
  tunedHere.set(ctx.dev, done);
  if (done.has(cls)) return;
  done.add(cls);
  ctx.log(`tuning conv ${spec.cin}->${spec.cout} k${spec.kernel.join('x')} s${spec.stride.join('x')} W ${spec.weight}:`);
  const r = await tuneConv(ctx.dev, spec, { store: ctx.store, force: true, rounds: ctx.quick ? 2 : 3, log: ctx.log });
  const rule = r.timings.find((t) => JSON.stringify(t.variant) === JSON.stringify(r.ruleVariant));
  const win = r.timings.find((t) => t.variant === r.winner);
  ctx.log(`  winner ${JSON.stringify(r.winner)} ${win?.ms.toFixed(2)} ms; rule's choice ${rule ? `${rule.ms.toFixed(2)} ms` : 'failed'}`);
}

/** With --tune: every VAE class, once per process, before the first conv case. */
async function tuneVaeClasses(ctx: BenchContext): Promise<void> {
  for (const spec of vaeConvClasses()) await tuneClass(ctx, spec);
}

/** The variant the launcher picks (tuned winners included: with --tune, tuned here first). */
async function chooseVariant(ctx: BenchContext, label: string, spec: ConvTuneSpec): Promise<ConvVariant> {
  if (ctx.tune) {
    await tuneVaeClasses(ctx);
    await tuneClass(ctx, spec);
  } else if (ctx.store) {
    await loadConvTuning(ctx.dev, ctx.store);
  }
  const v = defaultConvVariant(ctx.dev, spec);
  ctx.log(`${label}: variant ${JSON.stringify(v)}`);
  return v;
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
      const variant = await chooseVariant(ctx, `conv3d ${wDtype}`, { cin: C, cout: C, kernel: [3, 3, 3], stride: [1, 1, 1], weight: wDtype });
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
      const variant = await chooseVariant(ctx, 'conv2d', { cin: C, cout: C, kernel: [1, 3, 3], stride: [1, 2, 2], weight: 'f32' });
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

