// Graph ops over the GEMM family: Linear layers (Y = X W^T + b with a fused activation or
// gated residual), and the run-time LoRA form as two nodes, the family's `loraDown`
// (T = s X A^T) then `loraUp` (the main GEMM with [X | T] [W | B]^T), so that T is a planned
// activation, not a hidden allocation.

import { gemm, loraDown, loraUp, type GemmEpilogue } from '../../kernels/gemm/index.ts';
import { isFp8, type DType } from '../../runtime/dtype.ts';
import { numelOf, shapeString } from '../../runtime/tensor.ts';
import { expectDtype, type GraphBuilder } from '../builder.ts';
import { GraphError, type Value } from '../ir.ts';
import { record } from '../recording.ts';
import { binaryOp } from './elementwise.ts';

export type LinearActivation = 'none' | 'gelu_tanh' | 'gelu' | 'silu';

export interface LinearOptions {
  activation?: LinearActivation;
  /** out = residual + gate * (X W^T + b); without a gate, out = residual + (X W^T + b). */
  residual?: Value;
  gate?: Value;
  /** Run-time LoRA: A [r, K], B [N, r], scale s = strength * alpha / r. */
  lora?: { a: Value; b: Value; scale: number };
  outDtype?: DType;
  /** Per-tensor scale of an fp8 weight (scaled fp8 checkpoints), applied in the weight load. */
  weightScale?: number;
}

const FLOATS: readonly DType[] = ['f32', 'f16', 'bf16'];
/** Weights may also be fp8 or GGML blocks as stored (widened inside the matmul). */
const WEIGHTS: readonly DType[] = [...FLOATS, 'f8e4m3', 'f8e5m2', 'q8_0', 'q4_0', 'q4_1', 'q5_0', 'q5_1', 'q4_k', 'q5_k', 'q6_k'];

export function linearOp(g: GraphBuilder, x: Value, w: Value, bias: Value | undefined, opts: LinearOptions = {}, name = 'linear'): Value {
  const K = x.shape[x.shape.length - 1]!;
  if (w.shape.length !== 2 || w.shape[1] !== K) {
    throw new GraphError(`${name}: weight ${shapeString(w.shape)} does not match input ${shapeString(x.shape)} (need [out, ${K}])`);
  }
  expectDtype(name, 'input', x, FLOATS);
  expectDtype(name, 'weight', w, WEIGHTS);
  if (opts.weightScale !== undefined && !isFp8(w.dtype)) throw new GraphError(`${name}: a weight scale is for fp8 weights, got ${w.dtype}`);
  const N = w.shape[0]!;
  const M = numelOf(x.shape) / K;
  if (bias && (numelOf(bias.shape) !== N || bias.dtype !== 'f32')) throw new GraphError(`${name}: bias must be f32 [${N}], got ${shapeString(bias.shape)} ${bias.dtype}`);
  const outShape = [...x.shape.slice(0, -1), N];
  const outDtype = opts.outDtype ?? 'f32';
  if (opts.gate && !opts.residual) throw new GraphError(`${name}: a gate needs a residual`);
  if (opts.residual && numelOf(opts.residual.shape) !== M * N) {
    throw new GraphError(`${name}: residual ${shapeString(opts.residual.shape)} does not match the output ${shapeString(outShape)}`);
  }
  if (opts.gate && (numelOf(opts.gate.shape) !== N || opts.gate.dtype !== 'f32')) throw new GraphError(`${name}: gate must be f32 [${N}]`);

  let loraT: Value | undefined;
  if (opts.lora) {
    const { a, scale } = opts.lora;
    const r = a.shape[0]!;
    if (a.shape.length !== 2 || a.shape[1] !== K) throw new GraphError(`${name}: LoRA A ${shapeString(a.shape)} must be [r, ${K}]`);
    if (opts.lora.b.shape.length !== 2 || opts.lora.b.shape[0] !== N || opts.lora.b.shape[1] !== r) {
      throw new GraphError(`${name}: LoRA B ${shapeString(opts.lora.b.shape)} must be [${N}, ${r}]`);
    }
    [loraT] = g.addNode({
      name: `${name}.lora_down`,
      family: 'gemm',
      inputs: [x, a],
      outputs: [{ shape: [M, r], dtype: 'f32' }],
      flops: 2 * M * r * K,
      lower: ([xi, ai], [t], ctx) => record(ctx, (dev, T) => void loraDown(dev, T(xi!), T(ai!), scale, { out: T(t!) })),
    });
  }

  const gated = Boolean(opts.gate);
  const epilogue: GemmEpilogue = gated ? 'gated_residual' : activationEpilogue(opts.activation ?? 'none');
  if (gated && opts.activation && opts.activation !== 'none') throw new GraphError(`${name}: an activation and a gated residual cannot be fused together`);
  const inputs = [x, w, ...(bias ? [bias] : []), ...(loraT ? [loraT, opts.lora!.b] : []), ...(gated ? [opts.gate!, opts.residual!] : [])];
  const [y] = g.addNode({
    name,
    family: 'gemm',
    inputs,
    outputs: [{ shape: outShape, dtype: outDtype }],
    flops: 2 * M * N * K + (loraT ? 2 * M * N * opts.lora!.a.shape[0]! : 0),
    lower: (ins, [out], ctx) =>
      record(ctx, (dev, T) => {
        let i = 2;
        const b = bias ? T(ins[i++]!) : undefined;
        const low = loraT ? { t: T(ins[i++]!), b: T(ins[i++]!) } : undefined;
        const gate = gated ? T(ins[i++]!) : undefined;
        const residual = gated ? T(ins[i++]!) : undefined;
        const o = { bias: b, epilogue, gate, residual, out: T(out!), wScale: opts.weightScale };
        if (low) loraUp(dev, T(ins[0]!), T(ins[1]!), low, o);
        else gemm(dev, T(ins[0]!), T(ins[1]!), o);
      }),
  });
  // An ungated residual is a plain add after the GEMM.
  return opts.residual && !gated ? binaryOp(g, 'add', y!, opts.residual, `${name}.residual`) : y!;
}

function activationEpilogue(a: LinearActivation): GemmEpilogue {
  return a === 'gelu' ? 'gelu_erf' : a;
}
