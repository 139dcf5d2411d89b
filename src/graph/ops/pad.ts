// Graph op of spatial padding of [C, F, H, W] (src/kernels/layout/resample.ts): zeros or edge
// replication (PyTorch's padding_mode='replicate', which MoGe's 3x3 convs use).

import { zeroPad2d } from '../../kernels/layout/index.ts';
import { shapeString } from '../../runtime/tensor.ts';
import { expectDtype, type GraphBuilder } from '../builder.ts';
import { GraphError, type Value } from '../ir.ts';
import { record } from '../recording.ts';

export function pad2dOp(g: GraphBuilder, x: Value, p: number, mode: 'zeros' | 'replicate', name = 'pad'): Value {
  expectDtype(name, 'input', x, ['f32']);
  if (x.shape.length < 2) throw new GraphError(`${name}: input must be [..., H, W], got ${shapeString(x.shape)}`);
  if (!Number.isInteger(p) || p < 0) throw new GraphError(`${name}: padding must be a non-negative integer, got ${p}`);
  const shape = [...x.shape.slice(0, -2), x.shape.at(-2)! + 2 * p, x.shape.at(-1)! + 2 * p];
  const pad = { top: p, bottom: p, left: p, right: p };
  const [y] = g.addNode({
    name,
    family: 'layout',
    inputs: [x],
    outputs: [{ shape, dtype: 'f32' }],
    lower: ([xi], [out], ctx) => record(ctx, (dev, T) => void zeroPad2d(dev, T(xi!), pad, T(out!), mode)),
  });
  return y!;
}
