// The VAE's building blocks as graph fragments, for one chunk of frames. Every causal 3x3x3
// conv reads its frame cache (a persistent graph state) and then refreshes it with this
// chunk's last input frames; on the first chunk there is no cache yet, so the conv pads with
// zeros and the cache is written as [zeros..., frames]. Activations are f32 [C, F, H, W].

import type { ConvShapeSpec, ConvVariant } from '../../kernels/conv/index.ts';
import type { GraphBuilder } from '../../graph/builder.ts';
import type { Value } from '../../graph/ir.ts';
import { conv2dOp, conv3dOp } from '../../graph/ops/conv.ts';
import { cacheUpdateOp, stateOp } from '../../graph/ops/vae-cache.ts';
import { channelRmsNormOp } from '../../graph/ops/vae-norm.ts';
import { frameAttentionOp } from '../../graph/ops/vae-attention.ts';
import { timeInterleaveOp, upsampleNearest2xOp } from '../../graph/ops/vae-resample.ts';
import type { FloatDType } from '../../runtime/dtype.ts';

/** Frames a causal 3x3x3 conv keeps between chunks (its front padding). */
export const CACHE_FRAMES = 2;

export interface ChunkContext {
  g: GraphBuilder;
  /** The first chunk: zero padding instead of caches; the resamplers' time convs are skipped. */
  first: boolean;
  /** Storage of conv weights (biases and norm scales stay f32). */
  weightDtype: FloatDType;
  /** Conv kernel variant, or a rule choosing it per conv (from the adapter, when the graph is built). */
  variant?: ConvVariant | ((spec: ConvShapeSpec) => ConvVariant);
}

function convWeight(c: ChunkContext, name: string, shape: number[]): { w: Value; b: Value } {
  return { w: c.g.weight(`${name}.weight`, shape, c.weightDtype), b: c.g.weight(`${name}.bias`, [shape[0]!], 'f32') };
}

/** RMS norm over channels (x * sqrt(C) / ||x|| * gamma), optionally followed by SiLU. */
export function rmsNorm(c: ChunkContext, x: Value, name: string, silu: boolean): Value {
  const gamma = c.g.weight(`${name}.gamma`, [x.shape[0]!], 'f32');
  return channelRmsNormOp(c.g, x, gamma, { silu, name });
}

/**
 * A causal conv (kernel k^3, padding 1 in every axis) with its frame cache: the cache state is
 * named after the conv. `residual` is added in the conv's epilogue.
 */
export function cachedConv(c: ChunkContext, x: Value, name: string, cout: number, residual?: Value): Value {
  const [cin, , h, w] = x.shape as [number, number, number, number];
  const { w: wt, b } = convWeight(c, name, [cout, cin, 3, 3, 3]);
  const state = stateOp(c.g, `cache:${name}`, [cin, CACHE_FRAMES, h, w]);
  const out = conv3dOp(c.g, x, wt, b, {
    name,
    padding: 1,
    cache: c.first ? undefined : state,
    residual,
    variant: c.variant,
  });
  cacheUpdateOp(c.g, x, state, !c.first, `${name}:cache`);
  return out;
}

/** A 1x1x1 conv (no cache: it sees one frame at a time). */
export function pointConv(c: ChunkContext, x: Value, name: string, cout: number): Value {
  const { w, b } = convWeight(c, name, [cout, x.shape[0]!, 1, 1, 1]);
  return conv3dOp(c.g, x, w, b, { name, variant: c.variant });
}

/** RMS, SiLU, conv3x3x3, RMS, SiLU, conv3x3x3, plus the (1x1x1 when channels change) shortcut. */
export function resBlock(c: ChunkContext, x: Value, name: string, cout: number): Value {
  const cin = x.shape[0]!;
  const shortcut = cin !== cout ? pointConv(c, x, `${name}.conv_shortcut`, cout) : x;
  let y = rmsNorm(c, x, `${name}.norm1`, true);
  y = cachedConv(c, y, `${name}.conv1`, cout);
  y = rmsNorm(c, y, `${name}.norm2`, true);
  return cachedConv(c, y, `${name}.conv2`, cout, shortcut);
}

/** Single-head self-attention over each frame's pixels, with the residual. */
export function attentionBlock(c: ChunkContext, x: Value, name: string): Value {
  const ch = x.shape[0]!;
  const y = rmsNorm(c, x, `${name}.norm`, false);
  const qkv = convWeight(c, `${name}.to_qkv`, [3 * ch, ch, 1, 1]);
  const t = conv2dOp(c.g, y, qkv.w, qkv.b, { name: `${name}.to_qkv`, variant: c.variant });
  const o = frameAttentionOp(c.g, t, { name: `${name}.attn` });
  const proj = convWeight(c, `${name}.proj`, [ch, ch, 1, 1]);
  return conv2dOp(c.g, o, proj.w, proj.b, { name: `${name}.proj`, residual: x, variant: c.variant });
}

export function midBlock(c: ChunkContext, x: Value, name: string): Value {
  const ch = x.shape[0]!;
  let y = resBlock(c, x, `${name}.resnets.0`, ch);
  y = attentionBlock(c, y, `${name}.attentions.0`);
  return resBlock(c, y, `${name}.resnets.1`, ch);
}

/**
 * Encoder downsample: zero pad right/bottom, 3x3 stride-2 conv per frame. The temporal
 * variant then runs a (3,1,1) stride-2 time conv over [previous chunk's last frame, frames];
 * the first chunk skips it (its single frame passes through) and only fills the cache.
 */
export function downsample(c: ChunkContext, x: Value, name: string, temporal: boolean): Value {
  const ch = x.shape[0]!;
  const sp = convWeight(c, `${name}.resample.1`, [ch, ch, 3, 3]);
  const y = conv2dOp(c.g, x, sp.w, sp.b, {
    name: `${name}.resample.1`,
    stride: 2,
    padding: { top: 0, bottom: 1, left: 0, right: 1 },
    variant: c.variant,
  });
  if (!temporal) return y;
  const [, , h, w] = y.shape as [number, number, number, number];
  const state = stateOp(c.g, `cache:${name}.time_conv`, [ch, 1, h, w]);
  let out = y;
  if (!c.first) {
    const tc = convWeight(c, `${name}.time_conv`, [ch, ch, 3, 1, 1]);
    out = conv3dOp(c.g, y, tc.w, tc.b, { name: `${name}.time_conv`, stride: [2, 1, 1], cache: state, variant: c.variant });
  }
  cacheUpdateOp(c.g, y, state, !c.first, `${name}.time_conv:cache`);
  return out;
}

/**
 * Decoder upsample: the 3D variant first doubles the frames with a causal (3,1,1) time conv
 * to 2C channels whose halves become even and odd frames (skipped on the first chunk; the
 * second chunk starts it from zero padding, as the reference does); then nearest-exact 2x and
 * a 3x3 conv to C/2 channels on every frame.
 */
export function upsample(c: ChunkContext, x: Value, name: string, mode: 'upsample2d' | 'upsample3d'): Value {
  const [ch, , h, w] = x.shape as [number, number, number, number];
  let y = x;
  if (mode === 'upsample3d' && !c.first) {
    const state = stateOp(c.g, `cache:${name}.time_conv`, [ch, CACHE_FRAMES, h, w]);
    const tc = convWeight(c, `${name}.time_conv`, [2 * ch, ch, 3, 1, 1]);
    const t = conv3dOp(c.g, x, tc.w, tc.b, { name: `${name}.time_conv`, padding: [1, 0, 0], cache: state, variant: c.variant });
    cacheUpdateOp(c.g, x, state, true, `${name}.time_conv:cache`);
    y = timeInterleaveOp(c.g, t, `${name}.interleave`);
  }
  const up = upsampleNearest2xOp(c.g, y, `${name}.upsample`);
  const sp = convWeight(c, `${name}.resample.1`, [ch / 2, ch, 3, 3]);
  return conv2dOp(c.g, up, sp.w, sp.b, { name: `${name}.resample.1`, padding: 1, variant: c.variant });
}
