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

export function resize2dOp(g: GraphBuilder, x: Value, outH: number, outW: number, o: ResizeOpOptions): Value {
  const name = o.name ?? 'resize';
  expectDtype(name, 'input', x, ['f32']);
  if (x.shape.length !== 3) throw new GraphError(`${name}: input must be [C, H, W], got ${shapeString(x.shape)}`);
  const [C, H, W] = x.shape as [number, number, number];
  if (o.normalize && C > 4) throw new GraphError(`${name}: normalisation takes at most 4 channels, got ${C}`);
  const rx = 'x' in o.rule ? o.rule.x : o.rule;
  const ry = 'y' in o.rule ? o.rule.y : o.rule;
  const pass = (v: Value, axis: 'x' | 'y', nIn: number, nOut: number, rule: TorchResizeRule, last: boolean): Value => {
    const t = torchResizeTable(nIn, nOut, rule);
    const tab = g.constant(`torch-resize:${ruleKey(rule)}:${nIn}->${nOut}`, [t.table.length], t.table);
    const [cIn, hIn, wIn] = v.shape as [number, number, number];
    const shape = axis === 'x' ? [cIn, hIn, nOut] : [cIn, nOut, wIn];
    const normalize = last && o.normalize ? { scale: 1, ...o.normalize } : undefined;
    const [y] = g.addNode({
      name: `${name}_${axis}`,
      family: 'resize',
      inputs: [v, tab],
      outputs: [{ shape, dtype: 'f32' }],
      flops: 2 * shape.reduce((a, b) => a * b, 1) * t.taps,
      lower: ([xi, ti], [out], ctx) => record(ctx, (dev, T) => void resizeAxis(dev, T(xi!), T(ti!), { axis, outSize: nOut, taps: t.taps, quantize: false, normalize, out: T(out!) })),
    });
    return y!;
  };
  return pass(pass(x, 'x', W, outW, rx, false), 'y', H, outH, ry, true);
}
