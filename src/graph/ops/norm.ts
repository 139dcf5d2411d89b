// Graph ops over the row-normalisation kernels: LayerNorm (with or without affine) and
// RMSNorm over the last dim, optionally fused with the adaLN modulation y * (1 + scale) + shift,
// where shift and scale may be rows of one modulation tensor (read at element offsets).

import { layerNorm, rmsNorm } from '../../kernels/norm/index.ts';
import { numelOf, shapeString } from '../../runtime/tensor.ts';
import type { GraphBuilder } from '../builder.ts';
import { GraphError, rootOf, viewOffsetOf, type Value } from '../ir.ts';
import { record } from '../recording.ts';

export interface NormOptions {
  eps: number;
  weight?: Value;
  bias?: Value;
  /** adaLN shift/scale [C] (may be views into one [k, C] modulation tensor). */
  shift?: Value;
  scale?: Value;
}

export function normOp(g: GraphBuilder, kind: 'layer' | 'rms', x: Value, opts: NormOptions, name: string): Value {
  const C = x.shape[x.shape.length - 1]!;
  for (const [what, v] of [['weight', opts.weight], ['bias', opts.bias], ['shift', opts.shift], ['scale', opts.scale]] as const) {
    if (v && numelOf(v.shape) !== C) throw new GraphError(`${name}: ${what} ${shapeString(v.shape)} does not match the last dim ${C} of ${shapeString(x.shape)}`);
  }
  if (Boolean(opts.shift) !== Boolean(opts.scale)) throw new GraphError(`${name}: modulation needs both shift and scale`);
  // Views (rows of a modulation tensor) bind their root with an element offset.
  const mod = opts.shift && opts.scale ? { shift: rootOf(opts.shift), scale: rootOf(opts.scale), so: viewOffsetOf(opts.shift) / 4, co: viewOffsetOf(opts.scale) / 4 } : undefined;
  if (mod && (mod.shift.dtype !== 'f32' || mod.scale.dtype !== 'f32')) throw new GraphError(`${name}: modulation must be f32`);
  const params = [opts.weight, opts.bias].filter((v): v is Value => v !== undefined);
  const inputs = [x, ...params, ...(mod ? [mod.shift, mod.scale] : [])];
  const [y] = g.addNode({
    name,
    family: kind === 'layer' ? 'layernorm' : 'rmsnorm',
    inputs,
    outputs: [{ shape: x.shape, dtype: 'f32' }],
    flops: 8 * numelOf(x.shape),
    lower: (ins, [out], ctx) =>
      record(ctx, (dev, T) => {
        let i = 1;
        const weight = opts.weight ? T(ins[i++]!) : undefined;
        const bias = opts.bias ? T(ins[i++]!) : undefined;
        const modulation = mod ? { shift: T(ins[i++]!), scale: T(ins[i++]!), shiftOffset: mod.so, scaleOffset: mod.co } : undefined;
        const f = kind === 'layer' ? layerNorm : rmsNorm;
        f(dev, T(ins[0]!), { eps: opts.eps, weight, bias, modulation, out: T(out!) });
      }),
  });
  return y!;
}
