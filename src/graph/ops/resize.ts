// Graph op of PyTorch-rule resizes of [C, H, W] (src/kernels/layout/torch-resize.ts tables,
// run by the separable resize pass of src/kernels/render): a horizontal then a vertical pass,
// the tables carried by the graph as constants; optional per-channel normalisation after.

import { torchResizeTable, type TorchResizeRule } from '../../kernels/layout/index.ts';
import { resizeAxis, type Normalisation } from '../../kernels/render/index.ts';
import { shapeString } from '../../runtime/tensor.ts';
import { expectDtype, type GraphBuilder } from '../builder.ts';
import { GraphError, type Value } from '../ir.ts';
import { record } from '../recording.ts';

export interface ResizeOpOptions {
  /** The rule per axis (one for both when the same). */
  rule: TorchResizeRule | { x: TorchResizeRule; y: TorchResizeRule };
  /** (v - mean[c]) / std[c] after the vertical pass (at most 4 channels). */
  normalize?: Omit<Normalisation, 'scale'>;
  name?: string;
}

const ruleKey = (r: TorchResizeRule) => `${r.mode}${r.antialias ? ':aa' : ''}${r.scaleFactor !== undefined ? `:sf${r.scaleFactor}` : ''}`;

export interface ResizeAxisOptions {
  /**
   * Output sample i is sample rows[i] of the full nIn -> nOut resize (indices may repeat or fall
   * outside 0..nOut-1, clamped: a replicate-padded band of the output). Default all nOut in order.
   */
  rows?: readonly number[];
  normalize?: Omit<Normalisation, 'scale'>;
  name: string;
}

/** One separable pass of a PyTorch-rule resize along x (columns) or y (rows) of [C, H, W]. */
export function resizeAxisOp(g: GraphBuilder, v: Value, axis: 'x' | 'y', nOut: number, rule: TorchResizeRule, o: ResizeAxisOptions): Value {
  const [cIn, hIn, wIn] = v.shape as [number, number, number];
  const nIn = axis === 'x' ? wIn : hIn;
  const t = torchResizeTable(nIn, nOut, rule);
  let table = t.table;
  let key = `torch-resize:${ruleKey(rule)}:${nIn}->${nOut}`;
  let outSize = nOut;
  if (o.rows) {
    // Each table row is [window start, taps weights]: copying rows keeps every value exact.
    const stride = 1 + t.taps;
    table = new Float32Array(o.rows.length * stride);
    o.rows.forEach((r, i) => {
      const src = Math.min(Math.max(r, 0), nOut - 1);
      table.set(t.table.subarray(src * stride, (src + 1) * stride), i * stride);
    });
    key += `:rows${o.rows[0]}+${o.rows.length}`;
    outSize = o.rows.length;
  }
  const tab = g.constant(key, [table.length], table);
  const shape = axis === 'x' ? [cIn, hIn, outSize] : [cIn, outSize, wIn];
  const normalize = o.normalize ? { scale: 1, ...o.normalize } : undefined;
  const [y] = g.addNode({
    name: `${o.name}_${axis}`,
    family: 'resize',
    inputs: [v, tab],
    outputs: [{ shape, dtype: 'f32' }],
    flops: 2 * shape.reduce((a, b) => a * b, 1) * t.taps,
    lower: ([xi, ti], [out], ctx) => record(ctx, (dev, T) => void resizeAxis(dev, T(xi!), T(ti!), { axis, outSize, taps: t.taps, quantize: false, normalize, out: T(out!) })),
  });
  return y!;
}

export function resize2dOp(g: GraphBuilder, x: Value, outH: number, outW: number, o: ResizeOpOptions): Value {
  const name = o.name ?? 'resize';
  expectDtype(name, 'input', x, ['f32']);
  if (x.shape.length !== 3) throw new GraphError(`${name}: input must be [C, H, W], got ${shapeString(x.shape)}`);
  const [C] = x.shape as [number, number, number];
  if (o.normalize && C > 4) throw new GraphError(`${name}: normalisation takes at most 4 channels, got ${C}`);
  const rx = 'x' in o.rule ? o.rule.x : o.rule;
  const ry = 'y' in o.rule ? o.rule.y : o.rule;
  const horizontal = resizeAxisOp(g, x, 'x', outW, rx, { name });
  return resizeAxisOp(g, horizontal, 'y', outH, ry, { name, normalize: o.normalize });
}
