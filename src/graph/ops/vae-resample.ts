// The Wan VAE's resampling data movement as gathers (src/kernels/layout.ts): nearest-exact 2x
// upsampling of every frame (out[y, x] = in[y >> 1, x >> 1], which is what nearest-exact means
// at an exact factor of 2) and the upsample time conv's reshuffle, whose output channels
// [0, C) become the even frames and [C, 2C) the odd ones.

import { gatherProgram, type GatherSpec } from '../../kernels/layout.ts';
import { numelOf, shapeString } from '../../runtime/tensor.ts';
import type { GraphBuilder } from '../builder.ts';
import { GraphError, type Value } from '../ir.ts';

function gatherNode(g: GraphBuilder, family: string, x: Value, outShape: number[], spec: GatherSpec, name?: string): Value {
  const [y] = g.addNode({
    name,
    family,
    inputs: [x],
    outputs: [{ shape: outShape, dtype: x.dtype }],
    lower: ([xv], [out]) => [{ program: gatherProgram(spec), bindings: [xv!, out!] }],
  });
  return y!;
}

/** x [C, F, H, W] -> [C, F, 2H, 2W], each pixel repeated 2x2. */
export function upsampleNearest2xOp(g: GraphBuilder, x: Value, name?: string): Value {
  if (x.shape.length !== 4) throw new GraphError(`${name ?? 'upsample'}: input must be [C, F, H, W], got ${shapeString(x.shape)}`);
  const [c, f, h, w] = x.shape as [number, number, number, number];
  // Output coordinates (c, f, y, dy, x, dx) read input (c, f, y, x): the dy, dx axes have stride 0.
  const spec: GatherSpec = {
    op: 'upsample2x',
    dtype: x.dtype,
    outShape: [c, f, h, 2, w, 2],
    sources: [{ strides: [f * h * w, h * w, w, 0, 1, 0], offset: 0 }],
  };
  return gatherNode(g, 'upsample', x, [c, f, 2 * h, 2 * w], spec, name);
}

/** y [2C, F, H, W] -> [C, 2F, H, W]: frame 2t from channels [0, C), frame 2t + 1 from [C, 2C). */
export function timeInterleaveOp(g: GraphBuilder, y: Value, name?: string): Value {
  const node = name ?? 'time-interleave';
  if (y.shape.length !== 4 || y.shape[0]! % 2 !== 0) throw new GraphError(`${node}: input must be [2C, F, H, W], got ${shapeString(y.shape)}`);
  const [c2, f, h, w] = y.shape as [number, number, number, number];
  const c = c2 / 2;
  const hw = h * w;
  // Output coordinates (c, t, part, pixel) read input channel part * C + c, frame t.
  const spec: GatherSpec = {
    op: 'time-interleave',
    dtype: y.dtype,
    outShape: [c, f, 2, hw],
    sources: [{ strides: [f * hw, hw, c * f * hw, 1], offset: 0 }],
  };
  if (numelOf(spec.outShape) !== numelOf(y.shape)) throw new GraphError(`${node}: internal shape error`);
  return gatherNode(g, 'time-interleave', y, [c, 2 * f, h, w], spec, name);
}
