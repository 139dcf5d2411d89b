// The execution plan: every buffer a graph run needs, decided before any GPU work. The
// executor allocates exactly these buffers, and the dry run (no device) reports them, so
// `egox plan` and a real run agree on peak memory.

import { KernelChoices } from '../runtime/kernel-context.ts';
import { rootOf, valueBytes, type Dispatch, type Graph, type LoweringContext } from './ir.ts';
import { InputError } from '../runtime/errors.ts';
import { planSlots, slotSize, type SlotPlan } from './liveness.ts';

export type BufferKind = 'activation' | 'input' | 'output' | 'weight' | 'weight-slot' | 'uniform';

export interface PlannedBuffer {
  kind: BufferKind;
  label: string;
  bytes: number;
}

export interface PlanOptions {
  /** Reuse activation buffers by liveness (default true). */
  reuse?: boolean;
  /** GPU memory budget; past it, weights are streamed segment by segment. */
  gpuMemoryBytes?: number;
  /** Stream weights even if everything would fit (for tests). */
  forceStreaming?: boolean;
  /** Adapter facts for lowering; the dry run uses DEFAULT_LOWERING_CONTEXT. */
  ctx?: LoweringContext;
  /**
   * Split every op's bindings against this many bytes instead of the adapter's
   * maxStorageBufferBindingSize (tests exercise the split paths of a whole network with it).
   */
  maxBindingBytes?: number;
}

export interface ExecutionPlan {
  slots: SlotPlan;
  dispatches: Dispatch[][]; // per node
  buffers: PlannedBuffer[];
  streaming: boolean;
  /** Segment whose slot holds each streamed weight; resident weights are absent. */
  streamedSegment: Map<string, number>;
  /** Byte offset of each streamed weight inside its weight slot. */
  streamedOffset: Map<string, number>;
  /** Weight bytes per segment (streamed part only). */
  segmentWeightBytes: number[];
  /** The weight slot each segment streams into (-1: none). */
  segmentSlot: number[];
  uniformStride: number;
  totals: {
    weightBytes: number;
    residentWeightBytes: number;
    activationBytes: number;
    naiveActivationBytes: number;
    ioBytes: number;
    uniformBytes: number;
    peakBytes: number;
    flops: number;
    bytesMoved: number;
    dispatches: number;
  };
  perFamily: Map<string, { nodes: number; flops: number; bytes: number }>;
}

/** What a dry run assumes about the adapter (a typical desktop GPU). */
export const DEFAULT_LOWERING_CONTEXT: LoweringContext = {
  features: new Set(['shader-f16', 'subgroups', 'timestamp-query']),
  limits: {
    maxStorageBufferBindingSize: 2 ** 31 - 4,
    maxBufferSize: 2 ** 32 - 4,
    maxComputeWorkgroupsPerDimension: 65535,
    maxComputeWorkgroupStorageSize: 32768,
    maxComputeInvocationsPerWorkgroup: 1024,
    minUniformBufferOffsetAlignment: 256,
    minStorageBufferOffsetAlignment: 256,
  },
  subgroupSize: 32,
};

const WEIGHT_ALIGN = 256;

export function planExecution(graph: Graph, options: PlanOptions = {}): ExecutionPlan {
  const base = options.ctx ?? DEFAULT_LOWERING_CONTEXT;
  // One set of choices for the whole plan: launchers memoise their programs there.
  const ctx = withBindingLimit({ ...base, choices: base.choices ?? new KernelChoices() }, options.maxBindingBytes);
  const slots = planSlots(graph, options.reuse ?? true);
  const dispatches = graph.nodes.map((n) => n.lower(ctx));
  const uniformStride = Math.max(256, ctx.limits.minUniformBufferOffsetAlignment ?? 256);
  const dispatchCount = dispatches.reduce((s, d) => s + d.length, 0);

  const buffers: PlannedBuffer[] = [];
  slots.slotBytes.forEach((b, i) => buffers.push({ kind: 'activation', label: `slot${i}`, bytes: b }));
  for (const [name, v] of graph.inputs) buffers.push({ kind: 'input', label: name, bytes: slotSize(valueBytes(v)) });
  for (const [name, v] of graph.outputs) buffers.push({ kind: 'output', label: name, bytes: slotSize(valueBytes(v)) });
  buffers.push({ kind: 'uniform', label: 'uniforms', bytes: Math.max(256, dispatchCount * uniformStride) });

  // Which segments use each weight: a weight used by one segment can be streamed with it.
  const weightSegments = new Map<string, Set<number>>();
  for (const node of graph.nodes) {
    for (const v of node.inputs) {
      const r = rootOf(v);
      if (r.kind !== 'weight') continue;
      let s = weightSegments.get(r.name!);
      if (!s) weightSegments.set(r.name!, (s = new Set()));
      s.add(node.segment);
    }
  }
  let weightBytes = 0;
  for (const v of graph.weights.values()) weightBytes += valueBytes(v);
  const nonWeightBytes = buffers.reduce((s, b) => s + b.bytes, 0);
  const budget = options.gpuMemoryBytes ?? Infinity;
  const streaming = options.forceStreaming === true || nonWeightBytes + weightBytes > budget;

  const streamedSegment = new Map<string, number>();
  const streamedOffset = new Map<string, number>();
  const segmentWeightBytes = graph.segmentNames.map(() => 0);
  let residentWeightBytes = 0;
  for (const [name, v] of graph.weights) {
    const segs = weightSegments.get(name);
    const bytes = valueBytes(v);
    if (streaming && segs && segs.size === 1) {
      const seg = [...segs][0]!;
      const off = Math.ceil(segmentWeightBytes[seg]! / WEIGHT_ALIGN) * WEIGHT_ALIGN;
      streamedSegment.set(name, seg);
      streamedOffset.set(name, off);
      segmentWeightBytes[seg] = off + bytes;
    } else {
      buffers.push({ kind: 'weight', label: name, bytes: Math.max(4, Math.ceil(bytes / 4) * 4) });
      residentWeightBytes += bytes;
    }
  }
  const { segmentSlot, slotBytes } = streamingSlots(segmentWeightBytes);
  slotBytes.forEach((bytes, i) => buffers.push({ kind: 'weight-slot', label: `weights${i}`, bytes }));
  residentWeightBytes += slotBytes.reduce((a, b) => a + b, 0);

  const sum = (k: BufferKind) => buffers.filter((b) => b.kind === k).reduce((s, b) => s + b.bytes, 0);
  const perFamily = new Map<string, { nodes: number; flops: number; bytes: number }>();
  let flops = 0;
  let bytesMoved = 0;
  for (const n of graph.nodes) {
    flops += n.flops;
    bytesMoved += n.bytes;
    const f = perFamily.get(n.family) ?? { nodes: 0, flops: 0, bytes: 0 };
    f.nodes++;
    f.flops += n.flops;
    f.bytes += n.bytes;
    perFamily.set(n.family, f);
  }
  const peakBytes = buffers.reduce((s, b) => s + b.bytes, 0);
  if (peakBytes > budget) {
    throw new GpuMemoryBudgetError(peakBytes, budget, sum('activation'), sum('weight') + sum('weight-slot'));
  }
  return {
    slots,
    dispatches,
    buffers,
    streaming,
    streamedSegment,
    streamedOffset,
    segmentWeightBytes,
    segmentSlot,
    uniformStride,
    totals: {
      weightBytes,
      residentWeightBytes,
      activationBytes: sum('activation'),
      naiveActivationBytes: slots.naiveBytes,
      ioBytes: sum('input') + sum('output'),
      uniformBytes: sum('uniform'),
      peakBytes,
      flops,
      bytesMoved,
      dispatches: dispatchCount,
    },
    perFamily,
  };
}

/**
 * The weight slots of a streamed run: segments with streamed weights alternate between two
 * slots (the next one's weights upload while the current one computes), and each slot is as
 * large as the largest segment it holds. Sizing both by the overall largest let one big segment
 * (the DiT's prologue: time projection and embedders, 0.45 GiB in bf16) set both slots; keeping
 * that segment resident instead would cost it plus two block-sized slots, never less than it
 * in one slot and a block in the other.
 */
export function streamingSlots(segmentWeightBytes: readonly number[]): { segmentSlot: number[]; slotBytes: number[] } {
  const slotBytes: number[] = [];
  let streamed = 0;
  const segmentSlot = segmentWeightBytes.map((b) => {
    if (b === 0) return -1;
    const slot = streamed++ % 2;
    slotBytes[slot] = Math.max(slotBytes[slot] ?? 256, Math.ceil(b / WEIGHT_ALIGN) * WEIGHT_ALIGN);
    return slot;
  });
  return { segmentSlot, slotBytes };
}

/** The context with its binding limit lowered to `maxBindingBytes` (launchers read the limit from there). */
export function withBindingLimit(ctx: LoweringContext, maxBindingBytes: number | undefined): LoweringContext {
  if (maxBindingBytes === undefined) return ctx;
  const limit = Math.min(maxBindingBytes, ctx.limits.maxStorageBufferBindingSize ?? Infinity);
  return { ...ctx, limits: { ...ctx.limits, maxStorageBufferBindingSize: limit } };
}

/**
 * A run does not fit the GPU memory budget even with weights streamed. It carries the numbers;
 * the caller says how to give more memory (the CLI names its --gpu-memory option).
 */
export class GpuMemoryBudgetError extends InputError {
  constructor(
    readonly neededBytes: number,
    readonly budgetBytes: number,
    readonly activationBytes: number,
    readonly weightBytes: number,
  ) {
    super(
      `the run needs ${gib(neededBytes)} of GPU memory even with weights streamed (activations ${gib(activationBytes)}, weights ${gib(weightBytes)}); budget ${gib(budgetBytes)}: a larger budget or a smaller input is needed`,
    );
  }
}

export function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}
