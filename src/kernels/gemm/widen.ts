// One program shape for "widen n packed weight values to f32" (fp8 bytes, GGML blocks): what
// the matmul weight loaders compute, run on its own so tests can check each value and tools
// can dequantize.
import type { KernelProgram } from '../../runtime/program.ts';

/** `fns` defines the decoder; `valueOf(i)` is the WGSL of element i read from binding SRC. */
export function widenProgram(key: string, fns: string, valueOf: (i: string) => string, n: number): KernelProgram {
  return {
    name: 'widen',
    key: `widen:${key}:${n}`,
    wgsl: `${fns}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = egoxWorkgroupIndex(wid, nwg) * 64u + li;
  if (i >= ${n}u) { return; }
  DST[i] = ${valueOf('i')};
}`,
    workgroupSize: [64, 1, 1],
    bindings: [
      { name: 'SRC', type: 'u32', access: 'read' },
      { name: 'DST', type: 'f32', access: 'read_write' },
    ],
    uniforms: [],
    uniformValues: {},
    dispatch: Math.ceil(n / 64),
  };
}
