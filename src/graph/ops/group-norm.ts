// Graph op over the group norm kernel (src/kernels/norm/group.ts) on [C, ...] f32.

import { groupNorm } from '../../kernels/norm/index.ts';
import { numelOf, shapeString } from '../../runtime/tensor.ts';
import { expectDtype, type GraphBuilder } from '../builder.ts';
import { GraphError, type Value } from '../ir.ts';
import { record } from '../recording.ts';

export function groupNormOp(g: GraphBuilder, x: Value, weight: Value, bias: Value, o: { groups: number; eps: number; name?: string }): Value {
  const name = o.name ?? 'group_norm';
  expectDtype(name, 'input', x, ['f32']);
  const C = x.shape[0]!;
  if (numelOf(weight.shape) !== C || numelOf(bias.shape) !== C) throw new GraphError(`${name}: weight ${shapeString(weight.shape)} and bias ${shapeString(bias.shape)} must have ${C} values`);
  if (!(o.groups >= 1 && C % o.groups === 0)) throw new GraphError(`${name}: ${C} channels do not split into ${o.groups} groups`);
  const [y] = g.addNode({
    name,
    family: 'group-norm',
    inputs: [x, weight, bias],
    outputs: [{ shape: x.shape, dtype: 'f32' }],
    flops: 8 * numelOf(x.shape),
    lower: ([xi, wi, bi], [out], ctx) => record(ctx, (dev, T) => void groupNorm(dev, T(xi!), T(wi!), T(bi!), { groups: o.groups, eps: o.eps, out: T(out!) })),
  });
  return y!;
}
