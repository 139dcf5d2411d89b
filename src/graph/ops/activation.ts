// Graph op over the standalone activation kernels (SiLU, GELU tanh, exact GELU).

import { activation, type ActivationKind } from '../../kernels/elementwise/index.ts';
import { numelOf } from '../../runtime/tensor.ts';
import type { GraphBuilder } from '../builder.ts';
import type { Value } from '../ir.ts';
import { record } from '../recording.ts';

export function activationOp(g: GraphBuilder, kind: ActivationKind, x: Value, name?: string): Value {
  const [y] = g.addNode({
    name: name ?? kind,
    family: kind,
    inputs: [x],
    outputs: [{ shape: x.shape, dtype: x.dtype }],
    flops: 8 * numelOf(x.shape),
    lower: ([xi], [out], ctx) => record(ctx, (dev, T) => void activation(dev, T(xi!), kind, { out: T(out!) })),
  });
  return y!;
}
