// Graph ops over the elementwise kernels (src/kernels/elementwise/binary.ts, cast.ts).

import { castProgram } from '../../kernels/elementwise/index.ts';
import { binary, copyRangeProgram, scaleProgram, type BinaryOp } from '../../kernels/elementwise/index.ts';
import type { DType } from '../../runtime/dtype.ts';
import { numelOf, shapeString } from '../../runtime/tensor.ts';
import { expectDtype, type GraphBuilder } from '../builder.ts';
import { GraphError, type Value } from '../ir.ts';
import { record } from '../recording.ts';

const FLOATS: readonly DType[] = ['f32', 'f16', 'bf16'];

/** a OP b, where b has a's shape or repeats over a's leading elements (b's numel divides a's). */
export function binaryOp(g: GraphBuilder, op: BinaryOp, a: Value, b: Value, name?: string): Value {
  const node = name ?? op;
  expectDtype(node, 'a', a, FLOATS);
  if (a.dtype !== b.dtype) throw new GraphError(`${node}: dtypes differ (${a.dtype} vs ${b.dtype})`);
  const n = numelOf(a.shape);
  const nb = numelOf(b.shape);
  if (nb === 0 || n % nb !== 0) throw new GraphError(`${node}: b ${shapeString(b.shape)} does not repeat evenly over a ${shapeString(a.shape)}`);
  const [out] = g.addNode({
    name,
    family: op,
    inputs: [a, b],
    outputs: [{ shape: a.shape, dtype: a.dtype }],
    flops: n,
    // Through the launcher: it splits over the binding limit (the DiT's residual adds are [L, dim]).
    lower: ([x, y], [o], ctx) => record(ctx, (dev, T) => void binary(dev, op, T(x!), T(y!), T(o!))),
  });
  return out!;
}

/** a * factor + bias (scalars baked into the node). */
export function scaleOp(g: GraphBuilder, a: Value, factor: number, bias = 0, name?: string): Value {
  expectDtype(name ?? 'scale', 'a', a, FLOATS);
  const n = numelOf(a.shape);
  const [out] = g.addNode({
    name,
    family: 'scale',
    inputs: [a],
    outputs: [{ shape: a.shape, dtype: a.dtype }],
    flops: 2 * n,
    lower: ([x], [o]) => [{ program: scaleProgram({ dtype: a.dtype, numel: n }), bindings: [x!, o!], uniforms: { scale: factor, bias } }],
  });
  return out!;
}

export function castOp(g: GraphBuilder, a: Value, dtype: DType, name?: string): Value {
  const n = numelOf(a.shape);
  const [out] = g.addNode({
    name,
    family: 'cast',
    inputs: [a],
    outputs: [{ shape: a.shape, dtype }],
    lower: ([x], [o]) => [{ program: castProgram({ from: a.dtype, to: dtype, numel: n }), bindings: [x!, o!] }],
  });
  return out!;
}

/** Splits a 32-bit tensor along axis 0 into `parts` equal copies (e.g. adaLN's 6 rows). */
export function splitRowsOp(g: GraphBuilder, x: Value, parts: number, name = 'split'): Value[] {
  if (x.dtype === 'f16' || x.dtype === 'bf16') throw new GraphError(`${name}: split works on 32-bit tensors, got ${x.dtype}`);
  const rows = x.shape[0]!;
  if (rows % parts !== 0) throw new GraphError(`${name}: ${rows} rows do not split into ${parts} parts`);
  const per = numelOf(x.shape) / parts;
  const shape = [rows / parts, ...x.shape.slice(1)];
  const out: Value[] = [];
  for (let p = 0; p < parts; p++) {
    const [y] = g.addNode({
      name: `${name}.${p}`,
      family: 'copy',
      inputs: [x],
      outputs: [{ shape, dtype: x.dtype }],
      lower: ([xi], [o]) => [{ program: copyRangeProgram({ count: per }), bindings: [xi!, o!], uniforms: { srcOffset: p * per } }],
    });
    out.push(y!);
  }
  return out;
}
