// GraphBuilder: what model code calls to describe a network. Ops check shapes and dtypes as
// they are added (errors name the node and the shapes); nothing touches a GPU here.

import type { DType } from '../runtime/dtype.ts';
import { numelOf, shapeString, type Shape } from '../runtime/tensor.ts';
import { GraphError, valueBytes, type Dispatch, type Graph, type LoweringContext, type Node, type Value, type ValueKind } from './ir.ts';

export interface NodeSpec {
  name?: string;
  family: string;
  inputs: readonly Value[];
  outputs: readonly { shape: Shape; dtype: DType }[];
  flops?: number;
  inPlace?: Readonly<Record<number, number>>;
  lower(inputs: readonly Value[], outputs: readonly Value[], ctx: LoweringContext): Dispatch[];
}

export class GraphBuilder {
  private readonly values: Value[] = [];
  private readonly nodes: Node[] = [];
  private readonly inputs = new Map<string, Value>();
  private readonly outputs = new Map<string, Value>();
  private readonly weights = new Map<string, Value>();
  private readonly constants = new Map<string, Float32Array>();
  private readonly segments: string[] = ['main'];
  private scope: string[] = [];

  /** Starts a new weight segment (e.g. one transformer block); later nodes belong to it. */
  segment(name: string): void {
    if (this.nodes.length === 0 || this.nodes[this.nodes.length - 1]!.segment !== this.segments.length - 1) {
      // The current segment has no nodes yet: rename it instead of leaving it empty.
      this.segments[this.segments.length - 1] = name;
      return;
    }
    this.segments.push(name);
  }

  /** Prefixes node names created inside `fn` (e.g. 'blocks.3'). */
  within<T>(prefix: string, fn: () => T): T {
    this.scope.push(prefix);
    try {
      return fn();
    } finally {
      this.scope.pop();
    }
  }

  input(name: string, shape: Shape, dtype: DType = 'f32'): Value {
    if (this.inputs.has(name)) throw new GraphError(`graph input '${name}' declared twice`);
    const v = this.newValue(shape, dtype, 'input', name);
    this.inputs.set(name, v);
    return v;
  }

  /** A weight by checkpoint name; the same name twice returns the same value. */
  weight(name: string, shape: Shape, dtype: DType): Value {
    const existing = this.weights.get(name);
    if (existing) {
      if (shapeString(existing.shape) !== shapeString(shape) || existing.dtype !== dtype) {
        throw new GraphError(`weight '${name}' used as ${shapeString(shape)} ${dtype} and as ${shapeString(existing.shape)} ${existing.dtype}`);
      }
      return existing;
    }
    const v = this.newValue(shape, dtype, 'weight', name);
    this.weights.set(name, v);
    return v;
  }

  /**
   * A constant computed on the host (e.g. RoPE angle tables): a weight whose values the graph
   * carries; the same name twice returns the same value (the data must then be equal).
   */
  constant(name: string, shape: Shape, data: Float32Array, dtype: DType = 'f32'): Value {
    const key = `const:${name}`;
    if (data.length !== numelOf(shape)) throw new GraphError(`constant '${name}': ${data.length} values for ${shapeString(shape)}`);
    const v = this.weight(key, shape, dtype);
    this.constants.set(key, data);
    return v;
  }

  /** Marks a value as a named graph output (it gets its own buffer, never reused). */
  output(name: string, v: Value): Value {
    if (this.outputs.has(name)) throw new GraphError(`graph output '${name}' declared twice`);
    if (v.kind === 'input' || v.kind === 'weight') throw new GraphError(`graph output '${name}' must be computed, not a ${v.kind}`);
    if (v.viewOf) throw new GraphError(`graph output '${name}' is a view; output the viewed value or copy it`);
    v.kind = 'output';
    v.name = name;
    this.outputs.set(name, v);
    return v;
  }

  /** The same memory under another shape (no copy). */
  reshape(v: Value, shape: Shape): Value {
    if (numelOf(shape) !== numelOf(v.shape)) {
      throw new GraphError(`reshape ${shapeString(v.shape)} -> ${shapeString(shape)}: element counts differ`);
    }
    return this.newValue(shape, v.dtype, v.kind === 'weight' || v.kind === 'input' ? v.kind : 'temp', undefined, v, 0);
  }

  addNode(spec: NodeSpec): Value[] {
    const id = this.nodes.length;
    const name = [...this.scope, spec.name ?? spec.family].join('.');
    for (const v of spec.inputs) {
      if (!this.values.includes(v)) throw new GraphError(`node '${name}': an input is not a value of this graph`);
    }
    const outputs = spec.outputs.map((o) => this.newValue(o.shape, o.dtype, 'temp'));
    const segment = this.segments.length - 1;
    const bytes = [...spec.inputs, ...outputs].reduce((s, v) => s + valueBytes(v), 0);
    const lower = spec.lower;
    const inputs = spec.inputs;
    const node: Node = {
      id,
      name,
      family: spec.family,
      inputs,
      outputs,
      inPlace: spec.inPlace,
      segment,
      flops: spec.flops ?? 0,
      bytes,
      lower: (ctx) => lower(inputs, outputs, ctx),
    };
    for (const o of outputs) o.producer = node;
    this.nodes.push(node);
    return outputs;
  }

  build(): Graph {
    if (this.outputs.size === 0) throw new GraphError('graph has no outputs');
    return {
      values: [...this.values],
      nodes: [...this.nodes],
      inputs: new Map(this.inputs),
      outputs: new Map(this.outputs),
      weights: new Map(this.weights),
      constants: new Map(this.constants),
      segmentNames: [...this.segments],
    };
  }

  private newValue(shape: Shape, dtype: DType, kind: ValueKind, name?: string, viewOf?: Value, viewOffset?: number): Value {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new GraphError(`invalid shape ${shapeString(shape)}${name ? ` for '${name}'` : ''}`);
    }
    const v: Value = { id: this.values.length, shape: [...shape], dtype, kind, name, viewOf, viewOffset };
    this.values.push(v);
    return v;
  }
}

/** Throws a GraphError naming the node when shapes disagree. */
export function expectShape(node: string, what: string, v: Value, want: Shape): void {
  if (v.shape.length !== want.length || v.shape.some((d, i) => want[i] !== -1 && d !== want[i])) {
    throw new GraphError(`${node}: ${what} has shape ${shapeString(v.shape)}, expected ${shapeString(want.map((d) => (d === -1 ? '*' : d)) as unknown as Shape)}`);
  }
}

export function expectDtype(node: string, what: string, v: Value, allowed: readonly DType[]): void {
  if (!allowed.includes(v.dtype)) {
    throw new GraphError(`${node}: ${what} is ${v.dtype}; this op accepts ${allowed.join(', ')}`);
  }
}
