// MoGe's ConvStack as a graph on planar [C, 1, H, W] values: per level, the input block (1x1
// conv) of that level's feature added to the running x, the residual blocks (act -> 3x3 conv
// -> act -> 3x3 conv, replicate padding, plus the input), the output block (1x1 conv) where the
// level has one, then the 2x resampler to the next level. Only the levels whose outputs are
// asked for get their output blocks built.

import type { ConvShapeSpec, ConvVariant } from '../../kernels/conv/index.ts';
import type { Value } from '../../graph/ir.ts';
import type { ModelGraph } from '../../graph/ops/index.ts';
import { conv2dOp } from '../../graph/ops/conv.ts';
import { convTranspose2x2Op } from '../../graph/ops/conv-transpose.ts';
import { pad2dOp } from '../../graph/ops/pad.ts';
import { resize2dOp } from '../../graph/ops/resize.ts';
import type { DType } from '../../runtime/dtype.ts';
import { MogeModelError, type ConvStackConfig } from './config.ts';
import { MOGE_NAMES } from './names.ts';

export interface StackContext {
  g: ModelGraph;
  wd: DType;
  variant?: (spec: ConvShapeSpec) => ConvVariant;
}

function conv(c: StackContext, name: string, x: Value, cin: number, cout: number, k: number, residual?: Value): Value {
  const w = c.g.weight(`${name}.weight`, [cout, cin, k, k], c.wd);
  const b = c.g.weight(`${name}.bias`, [cout], 'f32');
  const input = k === 1 ? x : pad2dOp(c.g, x, (k - 1) / 2, 'replicate', `${name}.pad`);
  return conv2dOp(c.g, input, w, b, { name, residual, variant: c.variant });
}

function resBlock(c: StackContext, s: ConvStackConfig, stack: string, level: number, j: number, x: Value, dim: number): Value {
  if (s.inNorm !== 'none' || s.hiddenNorm !== 'none') {
    throw new MogeModelError(`${stack}: residual-block norms '${s.inNorm}' / '${s.hiddenNorm}' are not implemented yet (egox runs MoGe-2's 'none')`);
  }
  const n = MOGE_NAMES.stack(stack).resBlock(level, j);
  const hidden = dim * s.dimTimesResBlockHidden;
  const h = conv(c, n.conv1, c.g.relu(x, `${n.conv1}.relu`), dim, hidden, 3);
  return conv(c, n.conv2, c.g.relu(h, `${n.conv2}.relu`), hidden, dim, 3, x);
}

function resample(c: StackContext, kind: ConvStackConfig['resamplers'][number], stack: string, i: number, x: Value, cin: number, cout: number): Value {
  const name = (m: number) => MOGE_NAMES.stack(stack).resampler(i, m);
  if (kind === 'conv_transpose') {
    const up = convTranspose2x2Op(c.g, x, c.g.weight(`${name(0)}.weight`, [cin, cout, 2, 2], c.wd), c.g.weight(`${name(0)}.bias`, [cout], 'f32'), { name: name(0), variant: c.variant });
    return conv(c, name(1), up, cout, cout, 3);
  }
  if (kind === 'bilinear') {
    const [C, , H, W] = x.shape as [number, number, number, number];
    const up = resize2dOp(c.g, c.g.reshape(x, [C, H, W]), 2 * H, 2 * W, { rule: { mode: 'bilinear', scaleFactor: 2 }, name: `${name(0)}.upsample` });
    return conv(c, name(1), c.g.reshape(up, [C, 1, 2 * H, 2 * W]), cin, cout, 3);
  }
  throw new MogeModelError(`${stack}: resampler '${kind}' is not implemented yet (egox runs conv_transpose and bilinear)`);
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
