// ConvTranspose2d with kernel = stride = 2 (MoGe's conv_transpose resampler) as a 1x1 conv to
// 4 Cout channels followed by a depth-to-space copy: output pixel (2y + dy, 2x + dx) of
// channel co is input pixel (y, x) times W[:, co, dy, dx] plus b[co]. The weight
// [Cin, Cout, 2, 2] is reordered to [(co, dy, dx), Cin] and the bias repeated 4 times by
// gathers in the graph (weights stay in the checkpoint's layout and dtype).

import { gatherProgram } from '../../kernels/layout/index.ts';
import { shapeString } from '../../runtime/tensor.ts';
import type { GraphBuilder } from '../builder.ts';
import { GraphError, type Value } from '../ir.ts';
import { conv2dOp, type ConvOpOptions } from './conv.ts';

function gather(g: GraphBuilder, name: string, x: Value, outShape: number[], strides: number[]): Value {
  const [y] = g.addNode({
    name,
    family: 'layout',
    inputs: [x],
    outputs: [{ shape: outShape, dtype: x.dtype }],
    lower: ([xi], [yo]) => [{ program: gatherProgram({ op: name, dtype: x.dtype, outShape, sources: [{ strides, offset: 0 }] }), bindings: [xi!, yo!] }],
  });
  return y!;
}

/** x [Cin, F, H, W], w [Cin, Cout, 2, 2], b [Cout] -> [Cout, F, 2H, 2W]. */
export function convTranspose2x2Op(g: GraphBuilder, x: Value, w: Value, b: Value, opts: ConvOpOptions = {}): Value {
  const name = opts.name ?? 'conv_transpose';
  if (x.shape.length !== 4 || w.shape.length !== 4 || w.shape[2] !== 2 || w.shape[3] !== 2 || w.shape[0] !== x.shape[0]) {
    throw new GraphError(`${name}: input ${shapeString(x.shape)} and weight ${shapeString(w.shape)} must be [Cin, F, H, W] and [Cin, Cout, 2, 2]`);
  }
  const [cin, f, h, wd] = x.shape as [number, number, number, number];
  const cout = w.shape[1]!;
  if (b.shape.reduce((a, c) => a * c, 1) !== cout) throw new GraphError(`${name}: bias ${shapeString(b.shape)} must have ${cout} values`);
  // [co, dy, dx, ci] <- w[ci, co, dy, dx]
  const w1 = gather(g, `${name}.weight_reorder`, w, [cout, 2, 2, cin], [4, 2, 1, 4 * cout]);
  const b1 = gather(g, `${name}.bias_repeat`, b, [cout, 4], [1, 0]);
  const y = conv2dOp(g, x, g.reshape(w1, [4 * cout, cin, 1, 1]), g.reshape(b1, [4 * cout]), { name: `${name}.pointwise`, variant: opts.variant });
  return depthToSpace2Op(g, y, `${name}.depth_to_space`);
}

/** PixelShuffle(2) per frame: [4C, F, H, W] -> [C, F, 2H, 2W], out[c, f, 2y + i, 2x + j] = in[4c + 2i + j, f, y, x]. */
export function depthToSpace2Op(g: GraphBuilder, x: Value, name = 'pixel_shuffle'): Value {
  if (x.shape.length !== 4 || x.shape[0]! % 4 !== 0) throw new GraphError(`${name}: input ${shapeString(x.shape)} must be [4C, F, H, W]`);
  const [c4, f, h, wd] = x.shape as [number, number, number, number];
  const plane = f * h * wd;
  return g.reshape(gather(g, name, x, [c4 / 4, f, h, 2, wd, 2], [4 * plane, h * wd, wd, 2 * plane, 1, plane]), [c4 / 4, f, 2 * h, 2 * wd]);
}
