// Graph op over the relative-position-bias attention kernel (umT5's self-attention: no score
// scaling, T5 bucketed bias from a [numBuckets, heads] table, padded keys masked by a count
// held in a one-element u32 graph value; also plain attention for head dims of any multiple of 4).

import { attentionRelBias, type RelBiasBuckets } from '../../kernels/attention/index.ts';
import { shapeString } from '../../runtime/tensor.ts';
import type { GraphBuilder } from '../builder.ts';
import { GraphError, type Value } from '../ir.ts';
import { record } from '../recording.ts';

export interface AttentionRelBiasOptions {
  heads: number;
  headDim: number;
  /** Score scale; default 1 (T5). */
  scale?: number;
  /** T5 bidirectional bias: table [numBuckets, heads] f32. */
  bias?: RelBiasBuckets & { table: Value };
  /** [1] u32: keys at positions >= this count are padding. */
  validKeys?: Value;
}

export function attentionRelBiasOp(g: GraphBuilder, q: Value, k: Value, v: Value, o: AttentionRelBiasOptions, name = 'attention'): Value {
  const hd = o.heads * o.headDim;
  for (const [what, t] of [['q', q], ['k', k], ['v', v]] as const) {
    if (t.shape.length !== 2 || t.shape[1] !== hd || t.dtype !== 'f32') throw new GraphError(`${name}: ${what} ${shapeString(t.shape)} ${t.dtype} must be f32 [L, ${o.heads} x ${o.headDim}]`);
  }
  if (k.shape[0] !== v.shape[0]) throw new GraphError(`${name}: k has ${k.shape[0]} tokens, v ${v.shape[0]}`);
  const b = o.bias;
  if (b && (b.table.dtype !== 'f32' || b.table.shape.reduce((x, y) => x * y, 1) !== b.numBuckets * o.heads)) {
    throw new GraphError(`${name}: bias table ${shapeString(b.table.shape)} ${b.table.dtype} must be f32 [${b.numBuckets}, ${o.heads}]`);
  }
  if (o.validKeys && (o.validKeys.dtype !== 'u32' || o.validKeys.shape.reduce((x, y) => x * y, 1) !== 1)) throw new GraphError(`${name}: validKeys must be a u32 [1]`);
  const lq = q.shape[0]!;
  const lk = k.shape[0]!;
  const inputs = [q, k, v, ...(b ? [b.table] : []), ...(o.validKeys ? [o.validKeys] : [])];
  const [out] = g.addNode({
    name,
    family: b ? 'attention-relbias' : 'attention-small',
    inputs,
    outputs: [{ shape: [lq, hd], dtype: 'f32' }],
    flops: 4 * lq * lk * hd,
    lower: (ins, [y], ctx) =>
      record(ctx, (dev, T) => {
        let i = 3;
        const bias = b ? { numBuckets: b.numBuckets, maxDistance: b.maxDistance, table: T(ins[i++]!) } : undefined;
        const validKeys = o.validKeys ? T(ins[i++]!) : undefined;
        attentionRelBias(dev, T(ins[0]!), T(ins[1]!), T(ins[2]!), { heads: o.heads, scale: o.scale, bias, validKeys, out: T(y!) });
      }),
  });
  return out!;
}
