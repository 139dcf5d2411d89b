// Lowering graph nodes through the kernels' own eager launchers: a RecordingContext is the
// kernel context of graph lowering. It hands out placeholder tensors that stand for graph
// values and records each `run(program, tensors, uniforms)` as a Dispatch. The launchers' logic
// (variant choice, splitting over binding limits, windows at aligned offsets) is then written
// once and used both eagerly and by the planned executor and dry run.

import type { DType } from '../runtime/dtype.ts';
import {
  KernelChoices,
  type AdapterSummary,
  type DeviceLimits,
  type KernelContext,
  type OptionalFeature,
} from '../runtime/kernel-context.ts';
import type { KernelProgram } from '../runtime/program.ts';
import { Tensor, type Shape } from '../runtime/tensor.ts';
import { GraphError, valueBytes, type BindingRef, type Dispatch, type LoweringContext, type Value } from './ir.ts';

/** The buffer a placeholder tensor points at: just enough of GPUBuffer for Tensor. */
interface PlaceholderBuffer {
  readonly size: number;
  readonly value: Value;
}

const DEFAULT_ADAPTER: AdapterSummary = {
  vendor: 'dry-run',
  architecture: 'dry-run',
  device: 'dry-run',
  description: 'dry run (no device)',
  isFallbackAdapter: false,
};

export class RecordingContext implements KernelContext {
  readonly dispatches: Dispatch[] = [];
  readonly limits: DeviceLimits;
  readonly features: ReadonlySet<OptionalFeature>;
  readonly adapter: AdapterSummary;
  readonly choices: KernelChoices;

  constructor(ctx: LoweringContext) {
    this.limits = ctx.limits as DeviceLimits;
    this.features = ctx.features as ReadonlySet<OptionalFeature>;
    this.adapter = ctx.adapter ?? { ...DEFAULT_ADAPTER, subgroupMinSize: ctx.subgroupSize, subgroupMaxSize: ctx.subgroupSize };
    this.choices = ctx.choices ?? new KernelChoices();
  }

  has(feature: OptionalFeature): boolean {
    return this.features.has(feature);
  }

  /** A placeholder tensor standing for graph value `v`. */
  tensor(v: Value): Tensor {
    const buffer: PlaceholderBuffer = { size: Math.max(4, Math.ceil(valueBytes(v) / 4) * 4), value: v };
    return new Tensor(buffer as unknown as GPUBuffer, v.shape, v.dtype);
  }

  empty(shape: Shape, dtype: DType): Tensor {
    throw new GraphError(`a kernel launcher allocated a [${shape.join(', ')}] ${dtype} tensor during graph lowering; graph ops must pass every output and scratch tensor`);
  }

  run(program: KernelProgram, tensors: readonly Tensor[], uniforms: Readonly<Record<string, number>> = {}): void {
    const bindings: BindingRef[] = tensors.map((t) => {
      const p = t.buffer as unknown as PlaceholderBuffer;
      if (!p || !('value' in p)) throw new GraphError(`kernel ${program.key}: a tensor that is not a graph value was bound during lowering`);
      return { value: p.value, byteOffset: t.byteOffset, byteLength: Math.max(4, Math.ceil(t.byteLength / 4) * 4) };
    });
    this.dispatches.push({ program, bindings, uniforms: { ...uniforms } });
  }
}

/** Runs `launch` against a recording context and returns what it dispatched. */
export function record(ctx: LoweringContext, launch: (dev: KernelContext, t: (v: Value) => Tensor) => void): Dispatch[] {
  const rec = new RecordingContext(ctx);
  launch(rec, (v) => rec.tensor(v));
  return rec.dispatches;
}
