// Graph ops over the layout kernels: patchify / unpatchify of the DiT, concat and slice
// along an axis (EgoX concatenates latents along width and channels).

import { concat, patchify, sliceAxis, unpatchify } from '../../kernels/layout/index.ts';
import { shapeString } from '../../runtime/tensor.ts';
import type { GraphBuilder } from '../builder.ts';
import { GraphError, type Value } from '../ir.ts';
import { record } from '../recording.ts';

export function patchifyOp(g: GraphBuilder, x: Value, name = 'patchify'): Value {
  const [C, F, H, W] = x.shape as [number, number, number, number];
  if (x.shape.length !== 4 || H % 2 || W % 2) throw new GraphError(`${name}: latent ${shapeString(x.shape)} must be [C, F, H, W] with even H, W`);
  const [y] = g.addNode({
    name,
    family: 'layout',
    inputs: [x],
    outputs: [{ shape: [F * (H / 2) * (W / 2), C * 4], dtype: x.dtype }],
    lower: ([xi], [o], ctx) => record(ctx, (dev, T) => void patchify(dev, T(xi!), [1, 2, 2], T(o!))),
  });
  return y!;
}

export function unpatchifyOp(g: GraphBuilder, tokens: Value, out: { channels: number; frames: number; height: number; width: number }, name = 'unpatchify'): Value {
  const grid = [out.frames, out.height / 2, out.width / 2] as const;
  if (tokens.shape[0] !== grid[0] * grid[1] * grid[2] || tokens.shape[1] !== out.channels * 4) {
    throw new GraphError(`${name}: tokens ${shapeString(tokens.shape)} do not match [${out.channels}, ${out.frames}, ${out.height}, ${out.width}]`);
  }
  const [y] = g.addNode({
    name,
    family: 'layout',
    inputs: [tokens],
    outputs: [{ shape: [out.channels, out.frames, out.height, out.width], dtype: tokens.dtype }],
    lower: ([ti], [o], ctx) => record(ctx, (dev, T) => void unpatchify(dev, T(ti!), grid, [1, 2, 2], T(o!))),
  });
  return y!;
}

export function concatOp(g: GraphBuilder, xs: readonly Value[], axis: number, name = 'concat'): Value {
  const first = xs[0];
  if (!first) throw new GraphError(`${name}: nothing to concatenate`);
  const shape = [...first.shape];
  shape[axis] = 0;
  for (const x of xs) {
    if (x.shape.length !== first.shape.length || x.shape.some((d, i) => i !== axis && d !== first.shape[i]) || x.dtype !== first.dtype) {
      throw new GraphError(`${name}: ${shapeString(x.shape)} ${x.dtype} does not concatenate with ${shapeString(first.shape)} ${first.dtype} along axis ${axis}`);
    }
    shape[axis]! += x.shape[axis]!;
  }
  const [y] = g.addNode({
    name,
    family: 'layout',
    inputs: xs,
    outputs: [{ shape, dtype: first.dtype }],
    lower: (ins, [o], ctx) => record(ctx, (dev, T) => void concat(dev, ins.map((v) => T(v)), axis, T(o!))),
  });
  return y!;
}

export function sliceOp(g: GraphBuilder, x: Value, axis: number, start: number, end: number, name = 'slice'): Value {
  const d = x.shape[axis];
  if (d === undefined || start < 0 || end > d || start >= end) throw new GraphError(`${name}: [${start}, ${end}) out of range for axis ${axis} of ${shapeString(x.shape)}`);
  const shape = [...x.shape];
  shape[axis] = end - start;
  const [y] = g.addNode({
    name,
    family: 'layout',
    inputs: [x],
    outputs: [{ shape, dtype: x.dtype }],
    lower: ([xi], [o], ctx) => record(ctx, (dev, T) => void sliceAxis(dev, T(xi!), axis, start, end, T(o!))),
  });
  return y!;
}
