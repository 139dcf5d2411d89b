// A kernel program: what a kernel family's generator returns for one specialisation.
// Kernel files write only their WGSL body (helpers + `@compute fn main`); the runtime adds
// the `enable` lines, the storage bindings, the uniform struct and the workgroup-index
// helper, so binding layout and uniform packing live in one place.

export type UniformType = 'u32' | 'i32' | 'f32';

export interface BindingDecl {
  /** WGSL variable name. */
  name: string;
  /** WGSL element type of the storage array, e.g. 'f32', 'u32', 'vec4<f32>'. */
  type: string;
  access: 'read' | 'read_write';
}

export interface UniformDecl {
  name: string;
  type: UniformType;
}

export interface KernelProgram {
  /** Family name, used in errors and profiles (e.g. 'gemm', 'cast'). */
  name: string;
  /** Unique name of this specialisation; pipelines are cached by it. */
  key: string;
  /** WGSL body: must define `@compute @workgroup_size(WORKGROUP_SIZE) fn main(...)`. */
  wgsl: string;
  workgroupSize: readonly [number, number, number];
  bindings: readonly BindingDecl[];
  uniforms?: readonly UniformDecl[];
  /**
   * Workgroups to launch. A number is a linear count that the runtime folds into x and y
   * when it exceeds maxComputeWorkgroupsPerDimension; the body then gets its index from
   * `egoxWorkgroupIndex(wid, nwg)` and must return when it is >= `params.egoxWorkgroups`.
   */
  dispatch: number | readonly [number, number, number];
  /**
   * Uniform values that belong to this specialisation but not to its pipeline (sizes,
   * strides, offsets): the key leaves them out, so one compiled pipeline serves every size.
   * Values given at launch take precedence.
   */
  uniformValues?: Readonly<Record<string, number>>;
  /** Optional WGSL extensions the body needs. */
  enables?: readonly ('f16' | 'subgroups' | 'chromium_experimental_subgroup_matrix')[];
}

/** The uniforms the runtime adds itself; kernels read them through `params`. */
const RUNTIME_UNIFORMS: readonly UniformDecl[] = [{ name: 'egoxWorkgroups', type: 'u32' }];

export function allUniforms(program: KernelProgram): UniformDecl[] {
  return [...(program.uniforms ?? []), ...RUNTIME_UNIFORMS];
}

/** Byte size of the packed uniform block (every field is 4 bytes; padded to 16). */
export function uniformBytes(program: KernelProgram): number {
  return Math.ceil((allUniforms(program).length * 4) / 16) * 16;
}

export function packUniforms(
  program: KernelProgram,
  values: Readonly<Record<string, number>>,
  linearWorkgroups: number,
): ArrayBuffer {
  const decls = allUniforms(program);
  const buf = new ArrayBuffer(uniformBytes(program));
  const view = new DataView(buf);
  decls.forEach((d, i) => {
    const v = d.name === 'egoxWorkgroups' ? linearWorkgroups : (values[d.name] ?? program.uniformValues?.[d.name]);
    if (v === undefined || Number.isNaN(v) && d.type !== 'f32') {
      throw new Error(`kernel ${program.key}: uniform '${d.name}' not given`);
    }
    if (d.type === 'f32') view.setFloat32(i * 4, v, true);
    else if (d.type === 'i32') view.setInt32(i * 4, v, true);
    else view.setUint32(i * 4, v >>> 0, true);
  });
  return buf;
}

export function assembleWgsl(program: KernelProgram): string {
  const lines: string[] = [];
  for (const e of program.enables ?? []) lines.push(`enable ${e};`);
  program.bindings.forEach((b, i) => {
    lines.push(`@group(0) @binding(${i}) var<storage, ${b.access}> ${b.name}: array<${b.type}>;`);
  });
  const uniforms = allUniforms(program);
  lines.push(`struct EgoxParams { ${uniforms.map((u) => `${u.name}: ${u.type},`).join(' ')} }`);
  lines.push(`@group(0) @binding(${program.bindings.length}) var<uniform> params: EgoxParams;`);
  lines.push(
    'fn egoxWorkgroupIndex(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.x + nwg.x * (wid.y + nwg.y * wid.z); }',
  );
  const [x, y, z] = program.workgroupSize;
  lines.push(program.wgsl.replaceAll('WORKGROUP_SIZE', `${x}, ${y}, ${z}`));
  return lines.join('\n');
}

/** Folds a linear workgroup count into a grid that respects the per-dimension limit. */
export function foldDispatch(
  dispatch: KernelProgram['dispatch'],
  maxPerDim: number,
): { grid: [number, number, number]; linear: number } {
  if (typeof dispatch !== 'number') {
    const [x, y, z] = dispatch;
    if (x > maxPerDim || y > maxPerDim || z > maxPerDim) {
      throw new Error(`dispatch [${x}, ${y}, ${z}] exceeds ${maxPerDim} workgroups per dimension; use a linear count`);
    }
    return { grid: [x, y, z], linear: x * y * z };
  }
  const n = Math.max(0, Math.ceil(dispatch));
  if (n <= maxPerDim) return { grid: [n, 1, 1], linear: n };
  const y = Math.ceil(n / maxPerDim);
  if (y <= maxPerDim) return { grid: [maxPerDim, y, 1], linear: n };
  const z = Math.ceil(y / maxPerDim);
  return { grid: [maxPerDim, maxPerDim, z], linear: n };
}
