// Graph ops for attention (flash style, never an Lq x Lk buffer) with the optional EgoX
// geometry bias, and Wan's 3D RoPE (angle tables computed on the host in float64 and carried
// by the graph as a constant).

import { attention, attentionStateElements } from '../../kernels/attention/index.ts';
import { rope, ropeTableLength, ropeTableValues, type RopeGrid } from '../../kernels/elementwise/index.ts';
import { shapeString } from '../../runtime/tensor.ts';
import type { GraphBuilder } from '../builder.ts';
import { GraphError, type Value } from '../ir.ts';
import { record } from '../recording.ts';

export interface AttentionOptions {
  heads: number;
  headDim: number;
  /** Score scale; default 1/sqrt(headDim). */
  scale?: number;
  /** Precision class of the operands (see the kernel's AttentionOptions.precision); default f32. */
  precision?: 'f32' | '16bit';
  /** EgoX geometry bias for the ego queries (token column >= egoColStart within its frame). */
  gga?: {
    queryDirs: Value;
    keyDirs: Value;
    lambda: number;
    tokensPerFrame: number;
    gridWidth: number;
    egoColStart: number;
  };
}

export function attentionOp(g: GraphBuilder, q: Value, k: Value, v: Value, o: AttentionOptions, name = 'attention'): Value {
  const hd = o.heads * o.headDim;
  for (const [what, t] of [['q', q], ['k', k], ['v', v]] as const) {
    if (t.shape.length !== 2 || t.shape[1] !== hd) throw new GraphError(`${name}: ${what} ${shapeString(t.shape)} must be [L, ${o.heads} x ${o.headDim}]`);
  }
  if (k.shape[0] !== v.shape[0]) throw new GraphError(`${name}: k has ${k.shape[0]} tokens, v ${v.shape[0]}`);
  const lq = q.shape[0]!;
  const lk = k.shape[0]!;
  const gga = o.gga;
  if (gga) {
    if (gga.queryDirs.shape[0] !== lq || gga.keyDirs.shape[1] !== lk) {
      throw new GraphError(`${name}: geometry ${shapeString(gga.queryDirs.shape)} / ${shapeString(gga.keyDirs.shape)} does not match ${lq} queries and ${lk} keys`);
    }
  }
  const scale = o.scale ?? 1 / Math.sqrt(o.headDim);
  const inputs = gga ? [q, k, v, gga.queryDirs, gga.keyDirs] : [q, k, v];
  // Second output: the softmax state scratch (Lq x heads x 2 f32, 1/(D/2) of the output) for
  // K/V larger than the binding limit; never read after the node, so its slot is free at once.
  const [out] = g.addNode({
    name,
    family: gga ? 'attention-egox' : 'attention',
    inputs,
    outputs: [
      { shape: [lq, hd], dtype: 'f32' },
      { shape: [attentionStateElements(lq, o.heads)], dtype: 'f32' },
    ],
    flops: 4 * lq * lk * hd,
    lower: (ins, [y, state], ctx) =>
      record(ctx, (dev, T) => {
        const egoBias = gga
          ? { qdir: T(ins[3]!), kdir: T(ins[4]!), lambda: gga.lambda, tokensPerFrame: gga.tokensPerFrame, gridWidth: gga.gridWidth, egoColStart: gga.egoColStart }
          : undefined;
        attention(dev, T(ins[0]!), T(ins[1]!), T(ins[2]!), { heads: o.heads, scale, egoBias, out: T(y!), state: T(state!), precision: o.precision });
      }),
  });
  return out!;
}

export interface RopeOpOptions {
  heads: number;
  headDim: number;
  grid: { frames: number; rows: number; cols: number };
  theta: number;
}

export function ropeOp(g: GraphBuilder, x: Value, o: RopeOpOptions, name = 'rope'): Value {
  const grid: RopeGrid = [o.grid.frames, o.grid.rows, o.grid.cols];
  if (x.shape[0] !== grid[0] * grid[1] * grid[2] || x.shape[1] !== o.heads * o.headDim) {
    throw new GraphError(`${name}: x ${shapeString(x.shape)} does not match the grid ${grid.join('x')} with ${o.heads} x ${o.headDim}`);
  }
  const table = g.constant(`rope:${grid.join('x')}:d${o.headDim}:t${o.theta}`, [ropeTableLength(grid, o.headDim)], ropeTableValues(grid, o.headDim, o.theta));
  const [y] = g.addNode({
    name,
    family: 'rope',
    inputs: [x, table],
    outputs: [{ shape: x.shape, dtype: x.dtype }],
    flops: 6 * x.shape[0]! * x.shape[1]!,
    lower: ([xi, ti], [out], ctx) => record(ctx, (dev, T) => void rope(dev, T(xi!), T(ti!), { grid, heads: o.heads, out: T(out!) })),
  });
  return y!;
}
