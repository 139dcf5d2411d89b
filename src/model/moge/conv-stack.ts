// MoGe's ConvStack as a graph on planar [C, 1, H, W] values: per level, the input block (1x1
// conv) of that level's feature added to the running x, the residual blocks (act -> 3x3 conv
// -> act -> 3x3 conv, replicate padding, plus the input), the output block (1x1 conv) where the
// level has one, then the 2x resampler to the next level. Only the levels whose outputs are
// asked for get their output blocks built. Norms: group_norm = GroupNorm(C / 32, C),
// layer_norm = GroupNorm(1, C), instance_norm = GroupNorm(C, C) without affine (eps 1e-5).
// Resamplers: conv_transpose (2x2 stride 2) | bilinear or nearest 2x upsampling | pixel_shuffle
// (3x3 conv to 4x channels, PixelShuffle(2)), each followed by a 3x3 conv.

import type { ConvShapeSpec, ConvVariant } from '../../kernels/conv/index.ts';
import type { Value } from '../../graph/ir.ts';
import type { ModelGraph } from '../../graph/ops/index.ts';
import { conv2dOp } from '../../graph/ops/conv.ts';
import { convTranspose2x2Op, depthToSpace2Op } from '../../graph/ops/conv-transpose.ts';
import { groupNormOp } from '../../graph/ops/group-norm.ts';
import { upsampleNearest2xOp } from '../../graph/ops/vae-resample.ts';
import { pad2dOp } from '../../graph/ops/pad.ts';
import { resize2dOp } from '../../graph/ops/resize.ts';
import { bandedUpsampleConv, upsampleNeedsBands } from './banded-upsample.ts';
import type { DType } from '../../runtime/dtype.ts';
import { MogeModelError, type ConvStackConfig, type StackNorm } from './config.ts';
import { MOGE_NAMES } from './names.ts';

export interface StackContext {
  g: ModelGraph;
  wd: DType;
  variant?: (spec: ConvShapeSpec) => ConvVariant;
  /** Storage binding limit: maps past it are resampled in bands (banded-upsample.ts). */
  bindingLimit?: number;
}

function conv(c: StackContext, name: string, x: Value, cin: number, cout: number, k: number, residual?: Value): Value {
  const w = c.g.weight(`${name}.weight`, [cout, cin, k, k], c.wd);
  const b = c.g.weight(`${name}.bias`, [cout], 'f32');
  const input = k === 1 ? x : pad2dOp(c.g, x, (k - 1) / 2, 'replicate', `${name}.pad`);
  return conv2dOp(c.g, input, w, b, { name, residual, variant: c.variant });
}

function norm(c: StackContext, kind: StackNorm, name: string, x: Value, C: number): Value {
  if (kind === 'none') return x;
  if (kind === 'instance_norm') {
    const ones = c.g.constant(`ones:${C}`, [C], new Float32Array(C).fill(1));
    const zeros = c.g.constant(`zeros:${C}`, [C], new Float32Array(C));
    return groupNormOp(c.g, x, ones, zeros, { groups: C, eps: 1e-5, name });
  }
  const groups = kind === 'layer_norm' ? 1 : Math.floor(C / 32);
  if (groups < 1 || C % groups !== 0) throw new MogeModelError(`${name}: group_norm of ${C} channels needs C / 32 groups that divide it`);
  return groupNormOp(c.g, x, c.g.weight(`${name}.weight`, [C], 'f32'), c.g.weight(`${name}.bias`, [C], 'f32'), { groups, eps: 1e-5, name });
}

function resBlock(c: StackContext, s: ConvStackConfig, stack: string, level: number, j: number, x: Value, dim: number): Value {
  const n = MOGE_NAMES.stack(stack).resBlock(level, j);
  const hidden = dim * s.dimTimesResBlockHidden;
  const h = conv(c, n.conv1, c.g.relu(norm(c, s.inNorm, n.inNorm, x, dim), `${n.conv1}.relu`), dim, hidden, 3);
  return conv(c, n.conv2, c.g.relu(norm(c, s.hiddenNorm, n.hiddenNorm, h, hidden), `${n.conv2}.relu`), hidden, dim, 3, x);
}

function resample(c: StackContext, kind: ConvStackConfig['resamplers'][number], stack: string, i: number, x: Value, cin: number, cout: number): Value {
  const name = (m: number) => MOGE_NAMES.stack(stack).resampler(i, m);
  if (kind === 'conv_transpose') {
    const up = convTranspose2x2Op(c.g, x, c.g.weight(`${name(0)}.weight`, [cin, cout, 2, 2], c.wd), c.g.weight(`${name(0)}.bias`, [cout], 'f32'), { name: name(0), variant: c.variant });
    return conv(c, name(1), up, cout, cout, 3);
  }
  if (kind === 'bilinear') {
    const [C, , H, W] = x.shape as [number, number, number, number];
    if (c.bindingLimit !== undefined && upsampleNeedsBands(C, H, W, c.bindingLimit)) {
      const weight = c.g.weight(`${name(1)}.weight`, [cout, cin, 3, 3], c.wd);
      const bias = c.g.weight(`${name(1)}.bias`, [cout], 'f32');
      const banded = bandedUpsampleConv(c.g, x, { name: { upsample: `${name(0)}.upsample`, conv: name(1) }, weight, bias, limit: c.bindingLimit, variant: c.variant });
      if (banded) return banded;
    }
    const up = resize2dOp(c.g, c.g.reshape(x, [C, H, W]), 2 * H, 2 * W, { rule: { mode: 'bilinear', scaleFactor: 2 }, name: `${name(0)}.upsample` });
    return conv(c, name(1), c.g.reshape(up, [C, 1, 2 * H, 2 * W]), cin, cout, 3);
  }
  if (kind === 'nearest') return conv(c, name(1), upsampleNearest2xOp(c.g, x, `${name(0)}.upsample`), cin, cout, 3);
  // pixel_shuffle
  const wide = conv(c, name(0), x, cin, 4 * cout, 3);
  return conv(c, name(2), depthToSpace2Op(c.g, wide, `${name(1)}.pixel_shuffle`), cout, cout, 3);
}

/** Runs the stack on its 5 level inputs; returns the outputs of the levels in `want`. */
export function buildConvStack(c: StackContext, s: ConvStackConfig, stack: string, inputs: readonly Value[], want: ReadonlySet<number>): Map<number, Value> {
  const names = MOGE_NAMES.stack(stack);
  const out = new Map<number, Value>();
  let x: Value | undefined;
  const levels = s.dimResBlocks.length;
  const lastWanted = Math.max(...want);
  for (let i = 0; i <= lastWanted && i < levels; i++) {
    const dim = s.dimResBlocks[i]!;
    c.g.segment(`${stack}.${i}`);
    x = c.g.within(`${stack}.level${i}`, () => {
      const din = s.dimIn[i];
      const input = inputs[i]!;
      const f = din !== null && din !== undefined ? conv(c, names.inputBlock(i), input, din, dim, 1) : input;
      let y = x === undefined ? f : c.g.add(x, f, 'add_input');
      for (let j = 0; j < s.numResBlocks[i]!; j++) y = resBlock(c, s, stack, i, j, y, dim);
      if (want.has(i)) {
        const dout = s.dimOut[i];
        out.set(i, dout !== null && dout !== undefined ? conv(c, names.outputBlock(i), y, dim, dout, 1) : y);
      }
      return i < lastWanted ? resample(c, s.resamplers[i]!, stack, i, y, dim, s.dimResBlocks[i + 1]!) : y;
    });
  }
  return out;
}
