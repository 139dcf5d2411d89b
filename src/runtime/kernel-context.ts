// What a kernel launcher needs of the device it launches on, in one interface: the adapter's
// identity, limits and features, the per-adapter choices (tuned winners, the subgroup-matrix
// verdict), and run/allocate. EgoxDevice implements it to run kernels; the graph's recording
// context (src/graph/recording.ts) implements it to plan them. Launchers take it as a
// parameter, so nothing they decide hides in module state, and the same code runs in a browser.

import type { DType } from './dtype.ts';
import type { KernelProgram } from './program.ts';
import type { Shape, Tensor } from './tensor.ts';

export type OptionalFeature = 'shader-f16' | 'subgroups' | 'timestamp-query' | 'chromium-experimental-subgroup-matrix';

/**
 * One subgroup-matrix shape the adapter multiplies natively (Dawn's GPUSubgroupMatrixConfig):
 * left M x K and right K x N of `componentType`, accumulated into M x N of `resultComponentType`.
 */
export interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  /** Empty unless the device was created with chromium-experimental-subgroup-matrix. */
  subgroupMatrixConfigs?: readonly SubgroupMatrixConfig[];
}

/** Limits egox raises to the adapter's maximum (the defaults are far too small for a DiT). */
export const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

export type DeviceLimits = Readonly<
  Record<(typeof RAISED_LIMITS)[number] | 'minUniformBufferOffsetAlignment' | 'minStorageBufferOffsetAlignment', number>
>;

/** Whether the rule-based variant choices may use subgroup matrices (tensor cores). */
export type SubgroupMatrixPolicy = 'unchecked' | 'trusted' | 'refused' | 'off';

/**
 * The decisions kernels consult that belong to one adapter: built once per device, shared with
 * every recording context that plans a graph for that device.
 */
export class KernelChoices {
  /**
   * 'unchecked' until the self-check ran (src/kernels/tuning/sgmatrix-check.ts), then 'trusted'
   * or 'refused'; 'off' when the user switched them off (EGOX_SUBGROUP_MATRICES=off).
   */
  subgroupMatrices: SubgroupMatrixPolicy;
  /** The self-check's result once started (later callers await the same run). */
  subgroupMatrixCheck: Promise<unknown> | undefined;
  private readonly tuned = new Map<string, Map<string, unknown>>();
  private readonly loads = new Map<string, Promise<unknown>>();
  private readonly programs = new Map<string, KernelProgram>();

  constructor(options: { subgroupMatrices?: 'auto' | 'off' } = {}) {
    this.subgroupMatrices = options.subgroupMatrices === 'off' ? 'off' : 'unchecked';
  }

  /** Tuned winners of one kernel family ('gemm', 'conv') by shape class. */
  tunedTable<T>(family: string): Map<string, T> {
    let t = this.tuned.get(family);
    if (!t) this.tuned.set(family, (t = new Map()));
    return t as Map<string, T>;
  }

  /** Runs `load` once per name (reading stored winners) and returns its promise thereafter. */
  loadOnce<T>(name: string, load: () => Promise<T>): Promise<T> {
    let p = this.loads.get(name);
    if (!p) this.loads.set(name, (p = load()));
    return p as Promise<T>;
  }

  /**
   * A kernel program by its spec id, generated once: generating the WGSL of a big tile costs
   * more than the launch itself. Bounded, not a policy: shapes are few in practice.
   */
  program(id: string, make: () => KernelProgram): KernelProgram {
    let p = this.programs.get(id);
    if (!p) {
      if (this.programs.size > 4096) this.programs.clear();
      this.programs.set(id, (p = make()));
    }
    return p;
  }
}

/** The launch surface every kernel launcher takes. */
export interface KernelContext {
  readonly adapter: AdapterSummary;
  readonly limits: DeviceLimits;
  readonly features: ReadonlySet<OptionalFeature>;
  readonly choices: KernelChoices;
  has(feature: OptionalFeature): boolean;
  /** A tensor with undefined contents (planning contexts refuse: graph ops pass every buffer). */
  empty(shape: Shape, dtype: DType, label?: string): Tensor;
  /** Records one launch; tensors bind in the order of the program's bindings. */
  run(program: KernelProgram, tensors: readonly Tensor[], uniforms?: Readonly<Record<string, number>>): void;
}

/** What variant choices read: the adapter and its choices (tests fake it with plain objects). */
export type KernelDeviceInfo = Pick<KernelContext, 'adapter' | 'has' | 'choices'> & {
  /** Workgroup memory the device allows (WebGPU's default 16384 when absent). */
  readonly limits?: Partial<DeviceLimits>;
};
