// Dtype casts and copies between storage formats, bit-exact with src/runtime/dtype.ts:
// round to nearest even, subnormals kept, canonical NaNs. Works on words, so 16-bit
// tensors are written one packed pair per thread (no write races).

import type { DType } from '../../runtime/dtype.ts';
import type { KernelProgram } from '../../runtime/program.ts';
import { WGSL_HALF_BITS, f32BitsToHalfCodeExpr, halfCodeToF32BitsExpr } from '../shared/wgsl-half.ts';

export interface CastSpec {
  from: DType;
  to: DType;
  numel: number;
}

const WG = 256;
const FLOAT_TYPES: readonly DType[] = ['f32', 'f16', 'bf16'];

export function castProgram(spec: CastSpec): KernelProgram {
  const { from, to, numel } = spec;
  const same = from === to;
  if (!same && !(FLOAT_TYPES.includes(from) && FLOAT_TYPES.includes(to))) {
    throw new Error(`cast ${from} -> ${to} is not supported (float types only, or a plain copy)`);
  }
  const outWords = to === 'f32' || to === 'i32' || to === 'u32' ? numel : Math.ceil(numel / 2);
  // One thread per output word.
  let body: string;
  if (same) {
    body = `dst[i] = src[i];`;
  } else if (from === 'f32') {
    const t = to as 'f16' | 'bf16';
    body = `
      let lo = ${f32BitsToHalfCodeExpr(t, 'src[2u * i]')};
      var hi = 0u;
      if (2u * i + 1u < params.numel) { hi = ${f32BitsToHalfCodeExpr(t, 'src[2u * i + 1u]')}; }
      dst[i] = lo | (hi << 16u);`;
  } else if (to === 'f32') {
    const f = from as 'f16' | 'bf16';
    body = `
      let w = src[i / 2u];
      let code = select(w & 0xffffu, w >> 16u, (i & 1u) == 1u);
      dst[i] = ${halfCodeToF32BitsExpr(f, 'code')};`;
  } else {
    const f = from as 'f16' | 'bf16';
    const t = to as 'f16' | 'bf16';
    body = `
      let w = src[i];
      let lo = ${f32BitsToHalfCodeExpr(t, halfCodeToF32BitsExpr(f, 'w & 0xffffu'))};
      let hi = ${f32BitsToHalfCodeExpr(t, halfCodeToF32BitsExpr(f, 'w >> 16u'))};
      dst[i] = lo | (hi << 16u);`;
  }
  return {
    name: 'cast',
    key: `cast:${from}->${to}`,
    uniforms: [{ name: 'numel', type: 'u32' }, { name: 'outWords', type: 'u32' }],
    uniformValues: { numel, outWords },
    workgroupSize: [WG, 1, 1],
    bindings: [
      { name: 'src', type: 'u32', access: 'read' },
      { name: 'dst', type: 'u32', access: 'read_write' },
    ],
    dispatch: Math.ceil(outWords / WG),
    wgsl: `${WGSL_HALF_BITS}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = egoxWorkgroupIndex(wid, nwg) * ${WG}u + lid;
  if (i >= params.outWords) { return; }
  ${body}
}`,
  };
}

import type { KernelContext } from '../../runtime/kernel-context.ts';
import type { Tensor } from '../../runtime/tensor.ts';

/** A new tensor holding `t` converted to `dtype` (a copy when the dtype is the same). */
export function cast(dev: KernelContext, t: Tensor, dtype: DType): Tensor {
  const y = dev.empty(t.shape, dtype);
  dev.run(castProgram({ from: t.dtype, to: dtype, numel: t.numel }), [t, y]);
  return y;
}
