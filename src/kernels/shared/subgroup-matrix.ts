// WGSL for subgroup matrices (Dawn's chromium_experimental_subgroup_matrix: tensor cores on
// NVIDIA through VK_KHR_cooperative_matrix, simdgroup matrices on Apple), and an emulation of
// the same operations in plain WGSL. Kernels are written once against `SubgroupMatrixWgsl`;
// the real form runs where the adapter offers a matching config, the emulated form runs on
// any adapter (lavapipe included), so the tiling, staging and epilogue logic of those kernels
// is tested against float64 here although no machine of ours has the hardware. The real form
// is checked by Tint on Dawn's null backend (test/helpers/null-backend.ts).
//
// Semantics shared by both forms (see Dawn's docs/dawn/features/subgroup_matrix.md):
// left is M x K, right is K x N, result is M x N; in memory, row-major element [r][c] is at
// offset + stride * r + c and column-major at offset + stride * c + r. A subgroup's lanes
// cooperate on one matrix, so every call must be made by the whole subgroup with uniform
// arguments. The emulation gives each lane a full private copy and splits stores over lanes.

import type { KernelContext, SubgroupMatrixConfig } from '../../runtime/kernel-context.ts';

export type SgmComponent = 'f16' | 'f32';
export type Majorness = 'row_major' | 'col_major';

/** A config the kernels can use: float components, f32 accumulation (or f16 on f16-only parts). */
export interface SgmShape {
  M: number;
  N: number;
  K: number;
  component: SgmComponent;
  result: SgmComponent;
}

/**
 * How a matrix kernel (GEMM, conv) tiles its output: gm x gn subgroups per workgroup, each
 * owning sm x sn result matrices of `cfg`, operands staged in k-slices of `bk`.
 */
export interface SgmTiling {
  /** The adapter's matrix config (emulation: any). */
  cfg: SgmShape;
  /** Lanes per subgroup the workgroup is sized for: the adapter's subgroupMaxSize (emulation: any). */
  sg: number;
  gm: number;
  gn: number;
  sm: number;
  sn: number;
  /** Reduction slice staged per step (a multiple of cfg.K). */
  bk: number;
  /** Plain-WGSL emulation of the matrix builtins (tests on adapters without the feature; never chosen automatically). */
  emulate?: true;
}

/** Workgroup memory every adapter offers (maxComputeWorkgroupStorageSize's default). */
export const PORTABLE_WORKGROUP_BYTES = 16384;

// ---- trust --------------------------------------------------------------------------------

/**
 * Whether rule-based choices (the GEMM, attention and conv defaults) may use subgroup matrices
 * on this adapter: only after checkSubgroupMatrices (sgmatrix-check.ts) saw them agree with the
 * f32 kernels there. The builtins' behaviour is the driver's, and no machine of ours has them.
 */
export function subgroupMatricesTrusted(dev: Pick<KernelContext, 'choices'>): boolean {
  return dev.choices.subgroupMatrices === 'trusted';
}

/** Records the check's verdict in the device's choices (a user's 'off' stays off). */
export function setSubgroupMatricesTrusted(dev: Pick<KernelContext, 'choices'>, value: boolean): void {
  if (dev.choices.subgroupMatrices !== 'off') dev.choices.subgroupMatrices = value ? 'trusted' : 'refused';
}

/** A workgroup array the matrices are loaded from or stored to. */
export interface SgmArray {
  name: string;
  elem: SgmComponent;
}

export interface SgmOptions {
  /** Plain-WGSL emulation instead of the builtins. */
  emulate: boolean;
  /** Lanes per emulated subgroup (the real subgroup size comes from the hardware). */
  lanes: number;
}

/** Float configs of the adapter, f32 results first, then larger K (fewer, bigger steps). */
export function usableSgmShapes(configs: readonly SubgroupMatrixConfig[] | undefined): SgmShape[] {
  const out: SgmShape[] = [];
  for (const c of configs ?? []) {
    if ((c.componentType !== 'f16' && c.componentType !== 'f32') || (c.resultComponentType !== 'f16' && c.resultComponentType !== 'f32')) continue;
    out.push({ M: c.M, N: c.N, K: c.K, component: c.componentType, result: c.resultComponentType });
  }
  const score = (s: SgmShape) => (s.result === 'f32' ? 1e6 : 0) + (s.component === 'f16' ? 1e5 : 0) + s.M * s.N * s.K;
  return out.sort((a, b) => score(b) - score(a));
}

/** What the subgroup-matrix choices need of a device (a kernel context, or a stand-in in tests). */
export type SgmDeviceInfo = Pick<KernelContext, 'adapter' | 'has'>;

/** The adapter's configs this device can compile: the feature with subgroups, shader-f16 for any f16 part. */
export function deviceSgmShapes(dev: SgmDeviceInfo): SgmShape[] {
  if (!dev.has('chromium-experimental-subgroup-matrix') || !dev.has('subgroups') || !dev.adapter.subgroupMaxSize) return [];
  return usableSgmShapes(dev.adapter.subgroupMatrixConfigs).filter((c) => dev.has('shader-f16') || (c.component === 'f32' && c.result === 'f32'));
}

/** Whether the real form of a tiling can run here: its config offered, workgroups sized for subgroupMaxSize. */
export function sgmTilingRunnable(dev: SgmDeviceInfo, t: SgmTiling): boolean {
  const c = t.cfg;
  return (
    !t.emulate &&
    t.sg === dev.adapter.subgroupMaxSize &&
    deviceSgmShapes(dev).some((d) => d.M === c.M && d.N === c.N && d.K === c.K && d.component === c.component && d.result === c.result)
  );
}

export function sgmShapeKey(s: SgmShape): string {
  return `${s.component}${s.M}x${s.N}x${s.K}${s.result}`;
}

/**
 * Loop bound for the emulation: `n` plus a zero the compiler cannot see through (the top bit
 * of the runtime's workgroup count), so lavapipe keeps the loops instead of unrolling them
 * fully (10-20 s of compile per GEMM kernel instead of about 2 s; same results).
 */
export const OPAQUE_ZERO = '(params.egoxWorkgroups >> 31u)';

function opaque(n: number): string {
  return `${n}u + ${OPAQUE_ZERO}`;
}

export class SubgroupMatrixWgsl {
  readonly leftType: string;
  readonly rightType: string;
  readonly resultType: string;
  private readonly fns = new Map<string, string>();

  constructor(
    readonly shape: SgmShape,
    readonly options: SgmOptions,
  ) {
    const { M, N, K, component, result } = shape;
    if (options.emulate) {
      this.leftType = `array<f32, ${M * K}>`;
      this.rightType = `array<f32, ${K * N}>`;
      this.resultType = `array<f32, ${M * N}>`;
    } else {
      // WGSL names the column count first: left<T, K, M> is M rows x K columns.
      this.leftType = `subgroup_matrix_left<${component}, ${K}, ${M}>`;
      this.rightType = `subgroup_matrix_right<${component}, ${N}, ${K}>`;
      this.resultType = `subgroup_matrix_result<${result}, ${N}, ${M}>`;
    }
  }

  /** `enable` lines the kernel needs. */
  enables(): ('f16' | 'subgroups' | 'chromium_experimental_subgroup_matrix')[] {
    if (this.options.emulate) return this.shape.component === 'f16' || this.shape.result === 'f16' ? ['f16'] : [];
    const e: ('f16' | 'subgroups' | 'chromium_experimental_subgroup_matrix')[] = ['subgroups', 'chromium_experimental_subgroup_matrix'];
    if (this.shape.component === 'f16' || this.shape.result === 'f16') e.unshift('f16');
    return e;
  }

  /** Parameters `main` must declare so that `subgroupIndex` and `subgroupCount` work. */
  mainParams(): string {
    return this.options.emulate ? '' : '@builtin(subgroup_id) sgmId: u32, @builtin(subgroup_size) sgmSize: u32';
  }

  /** This invocation's subgroup within the workgroup (`lid` = local_invocation_index). */
  subgroupIndex(lid: string): string {
    return this.options.emulate ? `(${lid} / ${this.options.lanes}u)` : 'sgmId';
  }

  /** Subgroups in a workgroup of `threads` invocations (the hardware may use fewer lanes). */
  subgroupCount(threads: number): string {
    return this.options.emulate ? `${threads / this.options.lanes}u` : `(${threads}u / sgmSize)`;
  }

  zero(): string {
    return `${this.resultType}()`;
  }

  loadLeft(arr: SgmArray, offset: string, major: Majorness, stride: string): string {
    return this.load('left', arr, offset, major, stride);
  }

  loadRight(arr: SgmArray, offset: string, major: Majorness, stride: string): string {
    return this.load('right', arr, offset, major, stride);
  }

  /** acc + left * right */
  mma(left: string, right: string, acc: string): string {
    if (!this.options.emulate) return `subgroupMatrixMultiplyAccumulate(${left}, ${right}, ${acc})`;
    const { M, N, K } = this.shape;
    this.fns.set(
      'mma',
      `fn sgmEmuMma(l: ${this.leftType}, r: ${this.rightType}, a: ${this.resultType}) -> ${this.resultType} {
  var o = a;
  for (var i = 0u; i < ${opaque(M)}; i++) {
    for (var j = 0u; j < ${opaque(N)}; j++) {
      var s = 0.0;
      for (var k = 0u; k < ${opaque(K)}; k++) { s += l[i * ${K}u + k] * r[k * ${N}u + j]; }
      o[i * ${N}u + j] += ${this.shape.result === 'f16' ? 'f32(f16(s))' : 's'};
    }
  }
  return o;
}`,
    );
    return `sgmEmuMma(${left}, ${right}, ${acc})`;
  }

  /** Statement storing a result matrix; `lid` is the local invocation index (emulation splits by lane). */
  store(arr: SgmArray, offset: string, value: string, major: Majorness, stride: string, lid: string): string {
    if (!this.options.emulate) return `subgroupMatrixStore<${major}>(&${arr.name}, ${offset}, ${value}, ${stride});`;
    const { M, N } = this.shape;
    const name = `sgmEmuStore_${arr.name}_${major}`;
    const at = major === 'row_major' ? 'off + st * r + c' : 'off + st * c + r';
    this.fns.set(
      name,
      `fn ${name}(off: u32, v: ${this.resultType}, st: u32, lane: u32) {
  for (var e = lane; e < ${opaque(M * N)}; e += ${this.options.lanes}u) {
    let r = e / ${N}u;
    let c = e % ${N}u;
    ${arr.name}[${at}] = ${arr.elem}(v[e]);
  }
}`,
    );
    return `${name}(${offset}, ${value}, ${stride}, ${lid} % ${this.options.lanes}u);`;
  }

  /** Helper functions the emulated calls made so far need (empty for the real form). */
  prelude(): string {
    return [...this.fns.values()].join('\n');
  }

  private load(use: 'left' | 'right', arr: SgmArray, offset: string, major: Majorness, stride: string): string {
    const type = use === 'left' ? this.leftType : this.rightType;
    if (!this.options.emulate) return `subgroupMatrixLoad<${type}, ${major}>(&${arr.name}, ${offset}, ${stride})`;
    const { M, N, K } = this.shape;
    const [rows, cols] = use === 'left' ? [M, K] : [K, N];
    const name = `sgmEmuLoad_${use}_${arr.name}_${major}`;
    const at = major === 'row_major' ? 'off + st * r + c' : 'off + st * c + r';
    // Rounding through the component type models what the hardware multiplies.
    const value = this.shape.component === 'f16' ? `f32(f16(${arr.name}[${at}]))` : `f32(${arr.name}[${at}])`;
    this.fns.set(
      name,
      `fn ${name}(off: u32, st: u32) -> ${type} {
  var m: ${type};
  for (var r = 0u; r < ${opaque(rows)}; r++) {
    for (var c = 0u; c < ${opaque(cols)}; c++) { m[r * ${cols}u + c] = ${value}; }
  }
  return m;
}`,
    );
    return `${name}(${offset}, ${stride})`;
  }
}
