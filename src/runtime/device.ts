// EgoxDevice wraps a GPUDevice with what every layer above needs: the limits and features
// we asked for, the pipeline cache, the buffer pool, batched dispatch recording (many
// dispatches in one compute pass and one submit), uploads and readbacks, and GPU errors
// turned into exceptions that name the kernel. It takes a GPUAdapter, so it runs in a
// browser as well as under Dawn (see node.ts for the Node side).

import { EnvironmentError, GpuError } from './errors.ts';
import { BufferPool } from './pool.ts';
import { PipelineCache } from './pipelines.ts';
import { foldDispatch, packUniforms, uniformBytes, type KernelProgram } from './program.ts';
import { Tensor, numelOf, shapeString, type Shape } from './tensor.ts';
import { f32ToHalfCodes, halfCodesToF32, isPacked16, storageBytes, type DType } from './dtype.ts';
import {
  KernelChoices,
  RAISED_LIMITS,
  type AdapterSummary,
  type DeviceLimits,
  type KernelContext,
  type OptionalFeature,
  type SubgroupMatrixConfig,
} from './kernel-context.ts';

const OPTIONAL_FEATURES: readonly OptionalFeature[] = ['shader-f16', 'subgroups', 'timestamp-query', 'chromium-experimental-subgroup-matrix'];
const EXPERIMENTAL_FEATURE: OptionalFeature = 'chromium-experimental-subgroup-matrix';

export interface DeviceOptions {
  /** Submit every dispatch alone inside error scopes (EGOX_DEBUG=sync). */
  debugSync?: boolean;
  /** Features to leave off even if the adapter has them (for testing fallbacks). */
  disableFeatures?: readonly OptionalFeature[];
  /** 'off' keeps the kernels off subgroup matrices whatever the adapter offers. */
  subgroupMatrices?: 'auto' | 'off';
}

const UNIFORM_ARENA_BYTES = 256 * 1024;
const UPLOAD_CHUNK_BYTES = 16 * 1024 * 1024;
/** Dawn stages queue.writeBuffer data until the GPU consumes it; wait after this much. */
const UPLOAD_DRAIN_BYTES = 64 * 1024 * 1024;

export class EgoxDevice implements KernelContext {
  readonly pipelines: PipelineCache;
  readonly pool: BufferPool;
  readonly features: ReadonlySet<OptionalFeature>;
  readonly limits: DeviceLimits;
  readonly debugSync: boolean;
  /** Per-adapter kernel choices (tuned winners, subgroup-matrix verdict); recorders share it. */
  readonly choices: KernelChoices;
  /** Dispatches recorded so far (all batches); useful for tests and profiles. */
  dispatchCount = 0;

  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly uniformArena: GPUBuffer;
  private uniformStaging = new Uint8Array(UNIFORM_ARENA_BYTES);
  private uniformUsed = 0;
  private pendingError: Error | null = null;
  private readonly pendingChecks: Promise<void>[] = [];
  private lastKernel: string | undefined;
  private destroyed = false;
  private readonly constants = new Map<string, Promise<Tensor>>();

  private constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterSummary,
    features: Set<OptionalFeature>,
    debugSync: boolean,
    choices: KernelChoices,
  ) {
    this.features = features;
    this.debugSync = debugSync;
    this.choices = choices;
    const l = device.limits as unknown as Record<string, number>;
    const limits: Record<string, number> = {};
    for (const k of [...RAISED_LIMITS, 'minUniformBufferOffsetAlignment', 'minStorageBufferOffsetAlignment']) limits[k] = l[k]!;
    this.limits = limits as DeviceLimits;
    this.pipelines = new PipelineCache(device);
    this.pool = new BufferPool(device);
    this.uniformArena = device.createBuffer({
      label: 'egox-uniforms',
      size: UNIFORM_ARENA_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    device.addEventListener('uncapturederror', (ev) => {
      const message = (ev as GPUUncapturedErrorEvent).error.message;
      this.pendingError ??= new GpuError(`GPU error: ${firstLine(message)}`, this.lastKernel);
    });
    void device.lost.then((info) => {
      if (!this.destroyed) this.pendingError ??= new GpuError(`GPU device lost (${info.reason}): ${firstLine(info.message)}`, this.lastKernel);
    });
  }

  static async fromAdapter(adapter: GPUAdapter, options: DeviceOptions = {}): Promise<EgoxDevice> {
    const features = new Set<OptionalFeature>();
    for (const f of OPTIONAL_FEATURES) {
      if (adapter.features.has(f) && !options.disableFeatures?.includes(f)) features.add(f);
    }
    const requiredLimits: Record<string, number> = {};
    const al = adapter.limits as unknown as Record<string, number>;
    for (const k of RAISED_LIMITS) if (typeof al[k] === 'number') requiredLimits[k] = al[k]!;
    let device: GPUDevice;
    try {
      device = await adapter.requestDevice({ requiredFeatures: [...features] as GPUFeatureName[], requiredLimits });
    } catch (e) {
      // An experimental feature must never cost the device: retry without it.
      if (!features.delete(EXPERIMENTAL_FEATURE)) throw new EnvironmentError(`the GPU adapter refused to create a device: ${firstLine(String(e))}; update the GPU driver`);
      try {
        device = await adapter.requestDevice({ requiredFeatures: [...features] as GPUFeatureName[], requiredLimits });
      } catch (e2) {
        throw new EnvironmentError(`the GPU adapter refused to create a device: ${firstLine(String(e2))}; update the GPU driver`);
      }
    }
    const info = adapter.info;
    const summary: AdapterSummary = {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      isFallbackAdapter: Boolean((info as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter),
      subgroupMinSize: (info as unknown as { subgroupMinSize?: number }).subgroupMinSize,
      subgroupMaxSize: (info as unknown as { subgroupMaxSize?: number }).subgroupMaxSize,
      subgroupMatrixConfigs: features.has('chromium-experimental-subgroup-matrix') ? readSubgroupMatrixConfigs(info) : [],
    };
    return new EgoxDevice(device, summary, features, options.debugSync ?? false, new KernelChoices({ subgroupMatrices: options.subgroupMatrices }));
  }

  has(feature: OptionalFeature): boolean {
    return this.features.has(feature);
  }

  /** A constant tensor uploaded once per device under `key` and kept (e.g. RoPE tables). */
  constant(key: string, make: () => Float32Array): Promise<Tensor> {
    let t = this.constants.get(key);
    if (!t) {
      const values = make();
      this.constants.set(key, (t = this.upload(values, [values.length], 'f32', key)));
    }
    return t;
  }

  // ---- tensors ---------------------------------------------------------------------------

  /** A pooled tensor with undefined contents. */
  empty(shape: Shape, dtype: DType, label?: string): Tensor {
    const bytes = storageBytes(dtype, numelOf(shape));
    if (bytes > this.limits.maxBufferSize) {
      throw new EnvironmentError(
        `tensor ${label ?? ''} ${shapeString(shape)} ${dtype} needs ${bytes} bytes, over this adapter's maxBufferSize ${this.limits.maxBufferSize}`,
      );
    }
    return new Tensor(this.pool.acquire(Math.max(bytes, 4), label), shape, dtype, 0, {
      releaseBuffer: (b) => this.pool.release(b),
    });
  }

  /** Uploads values; f32 input for f16/bf16 tensors is rounded on the CPU (nearest even). */
  async upload(data: Float32Array | Int32Array | Uint32Array | Uint16Array, shape: Shape, dtype: DType, label?: string): Promise<Tensor> {
    const n = numelOf(shape);
    if (data.length !== n) throw new Error(`upload: ${data.length} values for shape ${shapeString(shape)}`);
    const t = this.empty(shape, dtype, label);
    await this.write(t, encodeForStorage(data, dtype));
    return t;
  }

  /** Writes raw storage bytes into a tensor at a byte offset, in bounded chunks. */
  async write(t: Tensor, bytes: Uint8Array, byteOffset = 0): Promise<void> {
    this.flush();
    let sinceDrain = 0;
    for (let pos = 0; pos < bytes.length; pos += UPLOAD_CHUNK_BYTES) {
      const piece = bytes.subarray(pos, Math.min(bytes.length, pos + UPLOAD_CHUNK_BYTES));
      this.writePadded(t.buffer, t.byteOffset + byteOffset + pos, piece);
      sinceDrain += piece.length;
      if (sinceDrain >= UPLOAD_DRAIN_BYTES) {
        await this.gpuIdle();
        sinceDrain = 0;
      }
    }
    this.throwIfFailed();
  }

  /** Streams chunks (e.g. from a safetensors file) into a tensor without holding it all. */
  async writeStream(t: Tensor, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    let offset = 0;
    for await (const chunk of chunks) {
      await this.write(t, chunk, offset);
      offset += chunk.length;
    }
    if (offset > t.byteLength) throw new Error(`writeStream: ${offset} bytes for a ${t.byteLength}-byte tensor`);
  }

  /** Reads a tensor's raw storage bytes back. */
  async readBytes(t: Tensor): Promise<Uint8Array> {
    this.flush();
    const size = Math.ceil(t.byteLength / 4) * 4;
    const staging = this.device.createBuffer({ size: Math.max(size, 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = this.device.createCommandEncoder({ label: 'egox-readback' });
    enc.copyBufferToBuffer(t.buffer, t.byteOffset, staging, 0, size);
    this.device.queue.submit([enc.finish()]);
    await yieldToEventLoop();
    await this.settleChecks();
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      this.throwIfFailed();
      throw e;
    }
    const out = new Uint8Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    this.throwIfFailed();
    return out;
  }

  /** Reads a float tensor as f32 values (16-bit storage is widened exactly). */
  async read(t: Tensor): Promise<Float32Array> {
    const bytes = await this.readBytes(t);
    if (isPacked16(t.dtype)) {
      return halfCodesToF32(new Uint16Array(bytes.buffer, 0, t.numel), t.dtype as 'f16' | 'bf16');
    }
    if (t.dtype !== 'f32') throw new Error(`read: ${t.dtype} tensor; use readBytes`);
    return new Float32Array(bytes.buffer, 0, t.numel);
  }

  // ---- dispatch --------------------------------------------------------------------------

  /**
   * Records one kernel launch into the current batch. Tensors bind in the order of the
   * program's bindings. Nothing runs until flush() (or a read/sync).
   */
  run(program: KernelProgram, tensors: readonly Tensor[], uniforms: Readonly<Record<string, number>> = {}): void {
    this.throwIfFailed();
    this.lastKernel = program.key; // set before compiling: compile errors name it too
    if (tensors.length !== program.bindings.length) {
      throw new Error(`kernel ${program.key}: ${tensors.length} tensors given for ${program.bindings.length} bindings`);
    }
    const { pipeline, layout } = this.pipelines.get(program);
    const { grid, linear } = foldDispatch(program.dispatch, this.limits.maxComputeWorkgroupsPerDimension);
    if (linear === 0) return;
    const ubytes = uniformBytes(program);
    const align = this.limits.minUniformBufferOffsetAlignment;
    if (this.uniformUsed + ubytes > UNIFORM_ARENA_BYTES) this.flush();
    const uOffset = this.uniformUsed;
    this.uniformStaging.set(new Uint8Array(packUniforms(program, uniforms, linear)), uOffset);
    this.uniformUsed = Math.ceil((uOffset + ubytes) / align) * align;
    if (this.debugSync) this.device.pushErrorScope('validation'), this.device.pushErrorScope('out-of-memory');
    const entries: GPUBindGroupEntry[] = tensors.map((t, i) => this.bindingOf(program, i, t));
    entries.push({ binding: tensors.length, resource: { buffer: this.uniformArena, offset: uOffset, size: ubytes } });
    const bindGroup = this.device.createBindGroup({ layout, entries, label: program.key });
    this.dispatchCount++;
    const pass = this.currentPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    if (this.debugSync) {
      this.flush();
      const key = program.key;
      const oom = this.device.popErrorScope();
      const validation = this.device.popErrorScope();
      this.pendingChecks.push(
        Promise.all([oom, validation]).then(([a, b]) => {
          const err = a ?? b;
          if (err) this.pendingError ??= new GpuError(`GPU error: ${firstLine(err.message)}`, key);
        }),
      );
    }
  }

  /** Ends the current pass and submits everything recorded. */
  flush(): void {
    if (!this.encoder) return;
    this.pass!.end();
    if (this.uniformUsed > 0) this.device.queue.writeBuffer(this.uniformArena, 0, this.uniformStaging, 0, this.uniformUsed);
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.pass = null;
    this.uniformUsed = 0;
  }

  /** Submits and waits for the GPU; throws the first GPU error seen. */
  async sync(): Promise<void> {
    this.flush();
    await this.gpuIdle();
    await this.settleChecks();
    this.throwIfFailed();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.pool.trim();
    this.device.destroy();
  }

  // ---- internals ---------------------------------------------------------------------------

  private currentPass(): GPUComputePassEncoder {
    if (!this.pass) {
      this.encoder = this.device.createCommandEncoder({ label: 'egox-batch' });
      this.pass = this.encoder.beginComputePass({ label: 'egox-batch' });
    }
    return this.pass;
  }

  private bindingOf(program: KernelProgram, i: number, t: Tensor): GPUBindGroupEntry {
    const size = Math.max(4, Math.ceil(t.byteLength / 4) * 4);
    if (size > this.limits.maxStorageBufferBindingSize) {
      throw new EnvironmentError(
        `kernel ${program.key}: binding '${program.bindings[i]!.name}' of ${size} bytes exceeds this adapter's maxStorageBufferBindingSize (${this.limits.maxStorageBufferBindingSize}); use a smaller tile or split the tensor`,
      );
    }
    if (t.byteOffset % this.limits.minStorageBufferOffsetAlignment !== 0) {
      throw new Error(`kernel ${program.key}: binding '${program.bindings[i]!.name}' is a view at unaligned offset ${t.byteOffset}`);
    }
    return { binding: i, resource: { buffer: t.buffer, offset: t.byteOffset, size } };
  }

  /** queue.writeBuffer needs a size that is a multiple of 4. */
  private writePadded(buffer: GPUBuffer, offset: number, piece: Uint8Array): void {
    if (piece.length % 4 === 0 && piece.byteOffset % 4 === 0) {
      this.device.queue.writeBuffer(buffer, offset, piece.buffer, piece.byteOffset, piece.length);
      return;
    }
    const padded = new Uint8Array(Math.ceil(piece.length / 4) * 4);
    padded.set(piece);
    this.device.queue.writeBuffer(buffer, offset, padded);
  }

  /** Waits until the GPU has finished everything submitted. */
  private async gpuIdle(): Promise<void> {
    await yieldToEventLoop();
    await this.device.queue.onSubmittedWorkDone();
  }

  private async settleChecks(): Promise<void> {
    if (this.pendingChecks.length === 0) return;
    const checks = this.pendingChecks.splice(0);
    await Promise.all(checks);
  }

  private throwIfFailed(): void {
    if (this.pendingError) {
      const e = this.pendingError;
      this.pendingError = null;
      throw e;
    }
  }
}

/** Lets Dawn's scheduled event processing run before we block on a GPU promise. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
}

function firstLine(s: string): string {
  return s.split('\n').find((l) => l.trim().length > 0)?.trim() ?? s;
}

/** Turns host values into the bytes a tensor of `dtype` stores. */
export function encodeForStorage(data: Float32Array | Int32Array | Uint32Array | Uint16Array, dtype: DType): Uint8Array {
  if (isPacked16(dtype)) {
    const codes = data instanceof Uint16Array ? data : f32ToHalfCodes(Float32Array.from(data), dtype as 'f16' | 'bf16');
    const padded = new Uint16Array(Math.ceil(codes.length / 2) * 2);
    padded.set(codes);
    return new Uint8Array(padded.buffer);
  }
  if (dtype === 'f32' && !(data instanceof Float32Array)) return new Uint8Array(Float32Array.from(data).buffer);
  if (dtype === 'i32' && !(data instanceof Int32Array)) return new Uint8Array(Int32Array.from(data).buffer);
  if (dtype === 'u32' && !(data instanceof Uint32Array)) return new Uint8Array(Uint32Array.from(data).buffer);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export type { AdapterSummary, OptionalFeature, SubgroupMatrixConfig } from './kernel-context.ts';

/** Copies Dawn's GPUSubgroupMatrixConfig objects into plain data (they are host objects). */
function readSubgroupMatrixConfigs(info: GPUAdapterInfo): SubgroupMatrixConfig[] {
  const raw = (info as unknown as { subgroupMatrixConfigs?: Iterable<SubgroupMatrixConfig> }).subgroupMatrixConfigs;
  if (!raw) return [];
  return [...raw].map((c) => ({
    componentType: String(c.componentType),
    resultComponentType: String(c.resultComponentType),
    M: Number(c.M),
    N: Number(c.N),
    K: Number(c.K),
  }));
}
