// The graph IR: values (tensors by shape and dtype, not yet memory) and nodes (one op of a
// kernel family with attributes). Model code builds it once per input shape through
// GraphBuilder; the planner gives values memory, the executor lowers nodes to dispatches.

import type { AdapterSummary, KernelChoices } from '../runtime/kernel-context.ts';
import type { DType } from '../runtime/dtype.ts';
import type { KernelProgram } from '../runtime/program.ts';
import { numelOf } from '../runtime/tensor.ts';
import { storageBytes } from '../runtime/dtype.ts';

export type ValueKind = 'input' | 'weight' | 'temp' | 'output';

export interface Value {
  readonly id: number;
  readonly shape: readonly number[];
  readonly dtype: DType;
  kind: ValueKind;
  /** Input/output/weight name (weights: the checkpoint key after name mapping). */
  name?: string;
  /** For views: the value whose memory this one reuses, and the byte offset into it. */
  readonly viewOf?: Value;
  readonly viewOffset?: number;
  /** Node that produced it (none for inputs and weights). */
  producer?: Node;
}

export function valueBytes(v: Pick<Value, 'shape' | 'dtype'>): number {
  return storageBytes(v.dtype, numelOf(v.shape));
}

/** The value that owns the memory of `v` (follows view chains). */
export function rootOf(v: Value): Value {
  let r = v;
  while (r.viewOf) r = r.viewOf;
  return r;
}

export function viewOffsetOf(v: Value): number {
  let off = 0;
  for (let r: Value | undefined = v; r?.viewOf; r = r.viewOf) off += r.viewOffset ?? 0;
  return off;
}

/** A window of a value bound to a kernel: bytes [byteOffset, byteOffset + byteLength). */
export interface BindingRef {
  value: Value;
  byteOffset: number;
  byteLength: number;
}

/** One kernel launch a node lowers to: the program and what it binds, in binding order. */
export interface Dispatch {
  program: KernelProgram;
  bindings: readonly (Value | BindingRef)[];
  uniforms?: Readonly<Record<string, number>>;
}

export function bindingRef(b: Value | BindingRef): BindingRef {
  if ('value' in b) return b;
  return { value: b, byteOffset: 0, byteLength: Math.max(4, Math.ceil(valueBytes(b) / 4) * 4) };
}

/** Adapter facts lowering may specialise on (no device needed: the dry run uses defaults). */
/** The adapter facts graph lowering plans against: a device's, or a dry run's assumptions. */
export interface LoweringContext {
  features: ReadonlySet<string>;
  limits: Readonly<Record<string, number>>;
  subgroupSize?: number;
  /** The real adapter when lowering for a device (variant choice). */
  adapter?: AdapterSummary;
  /** The device's kernel choices (tuned winners, subgroup-matrix verdict); planning makes fresh ones when absent. */
  choices?: KernelChoices;
}

export interface Node {
  readonly id: number;
  /** Human-readable name, e.g. 'blocks.3.attn1.to_q'. */
  readonly name: string;
  /** Kernel family, e.g. 'gemm', 'attention' (profiles aggregate by it). */
  readonly family: string;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  /**
   * Output i may reuse the buffer of input inPlace[i] when that input dies here. Only for
   * kernels whose lowering then binds that buffer once (read_write): WebGPU forbids binding
   * one buffer as both read-only and writable storage in a dispatch.
   */
  readonly inPlace?: Readonly<Record<number, number>>;
  /** Segment index (weights of a segment are streamed together); 0 = the first. */
  readonly segment: number;
  readonly flops: number;
  /** Bytes read and written (inputs + outputs + weights). */
  readonly bytes: number;
  lower(ctx: LoweringContext): Dispatch[];
}

/**
 * A graph was built or run wrongly: a fault of egox or of the program embedding it, never of the
 * user's files (those are InputErrors: WeightFileError, GpuMemoryBudgetError), so the CLI exits 1.
 */
export class GraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export interface Graph {
  readonly values: readonly Value[];
  readonly nodes: readonly Node[];
  readonly inputs: ReadonlyMap<string, Value>;
  readonly outputs: ReadonlyMap<string, Value>;
  readonly weights: ReadonlyMap<string, Value>;
  /** Weights whose values the graph carries itself (RoPE tables...), by weight name. */
  readonly constants: ReadonlyMap<string, Float32Array>;
  readonly segmentNames: readonly string[];
}
