// Graph ops over the VAE resampling kernels (src/kernels/layout/resample.ts): nearest-exact 2x
// upsampling of every frame, and the upsample time conv's reshuffle, whose output channels
// [0, C) become the even frames and [C, 2C) the odd ones.

import { timeInterleaveProgram, timeInterleaveUniforms, upsampleNearest2xProgram, upsampleNearest2xUniforms } from '../../kernels/layout/index.ts';
import { shapeString } from '../../runtime/tensor.ts';
import { expectDtype, type GraphBuilder } from '../builder.ts';
import { GraphError, type Value } from '../ir.ts';

/** x [C, F, H, W] -> [C, F, 2H, 2W], each pixel repeated 2x2. */
export function upsampleNearest2xOp(g: GraphBuilder, x: Value, name?: string): Value {
  const node = name ?? 'upsample2x';
  expectDtype(node, 'input', x, ['f32']);
  if (x.shape.length !== 4) throw new GraphError(`${node}: input must be [C, F, H, W], got ${shapeString(x.shape)}`);
  const [c, f, h, w] = x.shape as [number, number, number, number];
  const [y] = g.addNode({
    name,
    family: 'upsample',
    inputs: [x],
    outputs: [{ shape: [c, f, 2 * h, 2 * w], dtype: 'f32' }],
    lower: ([xv], [out]) => {
      const spec = { planes: c * f, h, w };
      return [{ program: upsampleNearest2xProgram(spec), bindings: [xv!, out!], uniforms: upsampleNearest2xUniforms(spec) }];
    },
  });
  return y!;
}

/** y [2C, F, H, W] -> [C, 2F, H, W]: frame 2t from channels [0, C), frame 2t + 1 from [C, 2C). */
export function timeInterleaveOp(g: GraphBuilder, y: Value, name?: string): Value {
  const node = name ?? 'time-interleave';
  expectDtype(node, 'input', y, ['f32']);
  if (y.shape.length !== 4 || y.shape[0]! % 2 !== 0) throw new GraphError(`${node}: input must be [2C, F, H, W], got ${shapeString(y.shape)}`);
  const [c2, f, h, w] = y.shape as [number, number, number, number];
  const [out] = g.addNode({
    name,
    family: 'time-interleave',
    inputs: [y],
    outputs: [{ shape: [c2 / 2, 2 * f, h, w], dtype: 'f32' }],
    lower: ([yv], [o]) => {
      const spec = { c: c2 / 2, t: f, hw: h * w };
      return [{ program: timeInterleaveProgram(spec), bindings: [yv!, o!], uniforms: timeInterleaveUniforms(spec) }];
    },
  });
  return out!;
}
