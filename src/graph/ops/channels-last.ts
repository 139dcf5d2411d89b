// Graph op over the channels-last map kernel: planar [C, ...] -> [...pixels, C] (or any shape
// of that many elements) with a per-pixel map across the channels.

import { channelsLast, type ChannelMap } from '../../kernels/elementwise/index.ts';
import { numelOf, shapeString, type Shape } from '../../runtime/tensor.ts';
import { expectDtype, type GraphBuilder } from '../builder.ts';
import { GraphError, type Value } from '../ir.ts';
import { record } from '../recording.ts';

export function channelsLastOp(g: GraphBuilder, x: Value, map: ChannelMap, outShape?: Shape, name = 'channels_last'): Value {
  expectDtype(name, 'input', x, ['f32']);
  const shape = outShape ?? [...x.shape.slice(1), x.shape[0]!];
  if (numelOf(shape) !== numelOf(x.shape)) throw new GraphError(`${name}: output ${shapeString(shape)} does not hold ${shapeString(x.shape)}`);
  const [y] = g.addNode({
    name,
    family: 'channels-last',
    inputs: [x],
    outputs: [{ shape, dtype: 'f32' }],
    flops: 4 * numelOf(x.shape),
    lower: ([xi], [out], ctx) => record(ctx, (dev, T) => void channelsLast(dev, T(xi!), map, T(out!))),
  });
  return y!;
}
