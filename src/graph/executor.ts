// The executor: allocates exactly the planned buffers, uploads resident weights, creates
// every pipeline and bind group once, and replays the graph with new inputs. Each replay
// writes the inputs, encodes all dispatches into one command buffer (one per segment when
// weights stream), and rebinds only inputs given as new GPU tensors.

import type { EgoxDevice } from '../runtime/device.ts';
import { encodeForStorage } from '../runtime/device.ts';
import { GpuError } from '../runtime/errors.ts';
import { foldDispatch, packUniforms } from '../runtime/program.ts';
import { Tensor } from '../runtime/tensor.ts';
import { GraphError, bindingRef, rootOf, viewOffsetOf, type BindingRef, type Graph, type LoweringContext, type Value } from './ir.ts';
import type { ResidencyClaim } from './residency.ts';
import { planExecution, type ExecutionPlan, type PlanOptions } from './plan.ts';
import { Profiler, type ProfileRow } from './profiler.ts';
import type { WeightStore } from './weights.ts';

export interface ExecutorOptions extends PlanOptions {
  /** Time every node with timestamp queries (one pass per node; slower). */
  profile?: boolean;
  /**
   * Run after a weight is uploaded (resident: once; streamed: at every upload), e.g. merging a
   * LoRA into it on the GPU. Recorded with `dev.run`; the executor flushes before computing.
   */
  weightTransforms?: ReadonlyMap<string, (dev: EgoxDevice, weight: Tensor) => Promise<void>>;
  /** The network this executor belongs to, when several share one budget (graph/residency.ts). */
  residency?: ResidencyClaim;
}

interface CompiledDispatch {
  node: number;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  bindings: readonly BindingRef[];
  bindGroup: GPUBindGroup;
  grid: [number, number, number];
  uniformOffset: number;
  uniformSize: number;
  key: string;
}

export interface ExecutorStats {
  buffersCreated: number;
  bytesAllocated: number;
  bindGroupsCreated: number;
  replays: number;
}

const STORAGE = 0x80 | 0x04 | 0x08; // STORAGE | COPY_SRC | COPY_DST
const UNIFORM = 0x40 | 0x08; // UNIFORM | COPY_DST
const DRAIN_BYTES = 64 * 2 ** 20;

export class Executor {
  readonly stats: ExecutorStats = { buffersCreated: 0, bytesAllocated: 0, bindGroupsCreated: 0, replays: 0 };
  private readonly buffers = new Map<string, GPUBuffer>();
  private readonly dispatches: CompiledDispatch[] = [];
  private readonly externalInputs = new Map<string, Tensor>();
  private readonly written = new Set<string>();
  private readonly profiler: Profiler | null;
  private uniformBuffer!: GPUBuffer;

  private constructor(
    readonly dev: EgoxDevice,
    readonly graph: Graph,
    readonly plan: ExecutionPlan,
    private readonly weights: WeightStore | null,
    profile: boolean,
    private readonly transforms?: ExecutorOptions['weightTransforms'],
    private readonly releaseResidency?: () => void,
  ) {
    this.profiler = profile && dev.has('timestamp-query') ? new Profiler(dev.device, graph.nodes.length) : null;
  }

  static async create(dev: EgoxDevice, graph: Graph, weights: WeightStore | null, options: ExecutorOptions = {}): Promise<Executor> {
    const ctx: LoweringContext = {
      features: dev.features,
      limits: dev.limits,
      subgroupSize: dev.adapter.subgroupMinSize,
      adapter: dev.adapter,
      choices: dev.choices,
    };
    if (graph.weights.size > graph.constants.size && !weights) throw new GraphError('the graph has weights but no weight store was given');
    for (const [name, v] of graph.weights) if (!graph.constants.has(name)) weights!.check(name, v.shape); // fail before allocating anything
    const plan = planExecution(graph, { ...options, ctx });
    const release = options.residency?.tracker.enter(options.residency.network);
    const exec = new Executor(dev, graph, plan, weights, Boolean(options.profile), options.weightTransforms, release);
    try {
      exec.allocate();
      await exec.uploadResidentWeights();
      exec.compile();
    } catch (e) {
      exec.destroy();
      throw e;
    }
    return exec;
  }

  /** Runs the graph once. Inputs: host arrays (written into the input buffer) or GPU tensors (bound directly). */
  async run(inputs: Readonly<Record<string, Float32Array | Int32Array | Uint32Array | Uint16Array | Tensor>> = {}): Promise<void> {
    for (const [name, data] of Object.entries(inputs)) this.setInput(name, data);
    for (const name of this.graph.inputs.keys()) {
      if (!this.written.has(name) && !this.externalInputs.has(name)) throw new GraphError(`graph input '${name}' was never given`);
    }
    const device = this.dev.device;
    device.pushErrorScope('validation');
    device.pushErrorScope('out-of-memory');
    if (this.plan.streaming) {
      for (let seg = 0; seg < this.graph.segmentNames.length; seg++) {
        await this.uploadSegment(seg); // overlaps with the previous segment's compute
        this.submit(this.dispatches.filter((d) => this.graph.nodes[d.node]!.segment === seg));
      }
    } else {
      this.submit(this.dispatches);
    }
    const oom = device.popErrorScope();
    const validation = device.popErrorScope();
    await new Promise((r) => setImmediate(r));
    await device.queue.onSubmittedWorkDone();
    const err = (await oom) ?? (await validation);
    if (err) throw new GpuError(`GPU error during graph run: ${err.message.split('\n')[0]}`, 'graph');
    if (this.profiler) await this.profiler.collect();
    this.stats.replays++;
  }

  /** A graph output as a tensor (valid until the next run). */
  output(name: string): Tensor {
    const v = this.graph.outputs.get(name);
    if (!v) throw new GraphError(`graph has no output '${name}' (outputs: ${[...this.graph.outputs.keys()].join(', ')})`);
    return new Tensor(this.buffers.get(`output:${name}`)!, v.shape, v.dtype);
  }

  read(name: string): Promise<Float32Array> {
    return this.dev.read(this.output(name));
  }

  /** Per-family GPU time of the last run (profile mode only). */
  profile(): ProfileRow[] {
    if (!this.profiler) return [];
    return this.profiler.byFamily(this.graph.nodes);
  }

  destroy(): void {
    for (const b of this.buffers.values()) b.destroy();
    this.uniformBuffer?.destroy();
    this.profiler?.destroy();
    this.buffers.clear();
    this.releaseResidency?.();
  }

  // ---- setup -----------------------------------------------------------------------------

  private allocate(): void {
    for (const b of this.plan.buffers) {
      const key = `${b.kind}:${b.label}`;
      const usage = b.kind === 'uniform' ? UNIFORM : STORAGE;
      const buffer = this.dev.device.createBuffer({ size: b.bytes, usage, label: key });
      this.stats.buffersCreated++;
      this.stats.bytesAllocated += b.bytes;
      if (b.kind === 'uniform') this.uniformBuffer = buffer;
      else this.buffers.set(key, buffer);
    }
  }

  private compile(): void {
    const stride = this.plan.uniformStride;
    const uniformData = new Uint8Array(Math.max(256, this.plan.totals.dispatches * stride));
    let i = 0;
    this.plan.dispatches.forEach((list, nodeIndex) => {
      for (const d of list) {
        const { pipeline, layout } = this.dev.pipelines.get(d.program);
        const { grid, linear } = foldDispatch(d.program.dispatch, this.dev.limits.maxComputeWorkgroupsPerDimension);
        const packed = new Uint8Array(packUniforms(d.program, d.uniforms ?? {}, linear));
        uniformData.set(packed, i * stride);
        const cd: CompiledDispatch = {
          node: nodeIndex,
          pipeline,
          layout,
          bindings: d.bindings.map(bindingRef),
          bindGroup: null as unknown as GPUBindGroup,
          grid,
          uniformOffset: i * stride,
          uniformSize: packed.length,
          key: d.program.key,
        };
        cd.bindGroup = this.makeBindGroup(cd);
        this.dispatches.push(cd);
        i++;
      }
    });
    this.dev.device.queue.writeBuffer(this.uniformBuffer, 0, uniformData);
  }

  private makeBindGroup(d: CompiledDispatch): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = d.bindings.map((v, b) => ({ binding: b, resource: this.resourceOf(v, d) }));
    entries.push({ binding: d.bindings.length, resource: { buffer: this.uniformBuffer, offset: d.uniformOffset, size: d.uniformSize } });
    this.stats.bindGroupsCreated++;
    return this.dev.device.createBindGroup({ layout: d.layout, entries, label: d.key });
  }

  private resourceOf(ref: BindingRef, d: CompiledDispatch): GPUBufferBinding {
    const v = ref.value;
    const root = rootOf(v);
    const size = ref.byteLength;
    if (size > this.dev.limits.maxStorageBufferBindingSize) {
      throw new GraphError(
        `node '${this.graph.nodes[d.node]!.name}': a ${size}-byte binding exceeds this adapter's maxStorageBufferBindingSize (${this.dev.limits.maxStorageBufferBindingSize})`,
      );
    }
    const offset = viewOffsetOf(v) + ref.byteOffset;
    switch (root.kind) {
      case 'temp':
        return { buffer: this.buffers.get(`activation:slot${this.plan.slots.slotOf.get(root.id)}`)!, offset, size };
      case 'input': {
        const ext = this.externalInputs.get(root.name!);
        if (ext) return { buffer: ext.buffer, offset: ext.byteOffset + offset, size };
        return { buffer: this.buffers.get(`input:${root.name}`)!, offset, size };
      }
      case 'output':
        return { buffer: this.buffers.get(`output:${root.name}`)!, offset, size };
      case 'weight': {
        const seg = this.plan.streamedSegment.get(root.name!);
        if (seg === undefined) return { buffer: this.buffers.get(`weight:${root.name}`)!, offset, size };
        const slot = this.plan.segmentSlot[seg];
        return { buffer: this.buffers.get(`weight-slot:weights${slot}`)!, offset: this.plan.streamedOffset.get(root.name!)! + offset, size };
      }
    }
  }


  private async uploadResidentWeights(): Promise<void> {
    for (const [name, v] of this.graph.weights) {
      if (this.plan.streamedSegment.has(name)) continue;
      await this.uploadWeight(name, v, this.buffers.get(`weight:${name}`)!, 0);
    }
  }

  private async uploadSegment(seg: number): Promise<void> {
    if (this.plan.segmentWeightBytes[seg] === 0) return;
    const slot = this.buffers.get(`weight-slot:weights${this.plan.segmentSlot[seg]}`)!;
    for (const [name, s] of this.plan.streamedSegment) {
      if (s !== seg) continue;
      await this.uploadWeight(name, this.graph.weights.get(name)!, slot, this.plan.streamedOffset.get(name)!);
    }
  }

  private async uploadWeight(name: string, v: Value, buffer: GPUBuffer, base: number): Promise<void> {
    let since = 0;
    const queue = this.dev.device.queue;
    const constant = this.graph.constants.get(name);
    if (constant) {
      const bytes = encodeForStorage(constant, v.dtype);
      const padded = bytes.length % 4 === 0 ? bytes : padTo4(bytes);
      queue.writeBuffer(buffer, base, padded.buffer, padded.byteOffset, padded.length);
      return;
    }
    await this.weights!.stream(name, v.shape, v.dtype, async (offset, bytes) => {
      const padded = bytes.length % 4 === 0 ? bytes : padTo4(bytes);
      queue.writeBuffer(buffer, base + offset, padded.buffer, padded.byteOffset, padded.length);
      since += padded.length;
      if (since >= DRAIN_BYTES) {
        since = 0;
        await new Promise((r) => setImmediate(r));
        await queue.onSubmittedWorkDone(); // bound Dawn's staging memory
      }
    });
    const transform = this.transforms?.get(name);
    if (transform) {
      await transform(this.dev, new Tensor(buffer, v.shape, v.dtype, base));
      this.dev.flush(); // queued before the compute that reads the weight
    }
  }

  private setInput(name: string, data: Float32Array | Int32Array | Uint32Array | Uint16Array | Tensor): void {
    const v = this.graph.inputs.get(name);
    if (!v) throw new GraphError(`graph has no input '${name}' (inputs: ${[...this.graph.inputs.keys()].join(', ')})`);
    if (data instanceof Tensor) {
      if (data.numel !== v.shape.reduce((a, b) => a * b, 1) || data.dtype !== v.dtype) {
        throw new GraphError(`input '${name}': got [${data.shape}] ${data.dtype}, the graph expects [${v.shape}] ${v.dtype}`);
      }
      if (this.externalInputs.get(name)?.buffer === data.buffer && this.externalInputs.get(name)?.byteOffset === data.byteOffset) return;
      this.externalInputs.set(name, data);
      this.rebind(v);
      return;
    }
    const n = v.shape.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new GraphError(`input '${name}': ${data.length} values given, the graph expects [${v.shape}] = ${n}`);
    if (this.externalInputs.delete(name)) this.rebind(v);
    const bytes = encodeForStorage(data, v.dtype);
    const padded = bytes.length % 4 === 0 ? bytes : padTo4(bytes);
    this.dev.device.queue.writeBuffer(this.buffers.get(`input:${name}`)!, 0, padded.buffer, padded.byteOffset, padded.length);
    this.written.add(name);
  }

  /** Recreates only the bind groups that reference input `v`. */
  private rebind(v: Value): void {
    for (const d of this.dispatches) {
      if (d.bindings.some((b) => rootOf(b.value) === v)) d.bindGroup = this.makeBindGroup(d);
    }
  }

  private submit(list: readonly CompiledDispatch[]): void {
    if (list.length === 0) return;
    const device = this.dev.device;
    const encoder = device.createCommandEncoder({ label: 'egox-graph' });
    if (this.profiler) {
      // One pass per node: timestamps can only be written at pass boundaries.
      for (let i = 0; i < list.length; ) {
        const node = list[i]!.node;
        const pass = encoder.beginComputePass({ timestampWrites: this.profiler.writesFor(node) });
        for (; i < list.length && list[i]!.node === node; i++) {
          pass.setPipeline(list[i]!.pipeline);
          pass.setBindGroup(0, list[i]!.bindGroup);
          pass.dispatchWorkgroups(...list[i]!.grid);
        }
        pass.end();
      }
    } else {
      const pass = encoder.beginComputePass({ label: 'egox-graph' });
      for (const d of list) {
        pass.setPipeline(d.pipeline);
        pass.setBindGroup(0, d.bindGroup);
        pass.dispatchWorkgroups(...d.grid);
      }
      pass.end();
    }
    device.queue.submit([encoder.finish()]);
  }
}

function padTo4(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(bytes.length / 4) * 4);
  out.set(bytes);
  return out;
}
