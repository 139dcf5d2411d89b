// The z-buffer preview of the splatter (see splat.ts): nearest point per pixel by atomicMin on
// the depth bits, then on the index among the points at that depth, then a flat-colour resolve.

import type { KernelProgram } from '../../runtime/program.ts';
import { type SplatSpec, WG_POINTS, checkSpec, specKey, commonWgsl, POINT_MAIN_HEAD } from './splat-common.ts';

export function zbufferProgram(splatSpec: SplatSpec, pass: 'depth' | 'index'): KernelProgram {
  checkSpec(splatSpec);
  // The preview's own radius replaces the splat radius everywhere in this program.
  const spec: SplatSpec = { ...splatSpec, radius: splatSpec.zbufferRadius ?? splatSpec.radius };
  const body =
    pass === 'depth'
      ? 'if (atomicLoad(&zbuf[pix]) > q.z) { atomicMin(&zbuf[pix], q.z); }' // plain load first: most candidates lose
      : 'if (atomicLoad(&zbuf[pix]) == q.z) { atomicMin(&ibuf[pix], i); }';
  return {
    name: `zbuffer-${pass}`,
    key: `zbuffer-${pass}:${specKey(spec)}`,
    workgroupSize: [WG_POINTS, 1, 1],
    bindings: [
      { name: 'proj', type: 'vec4<u32>', access: 'read' },
      { name: 'zbuf', type: 'atomic<u32>', access: 'read_write' },
      ...(pass === 'index' ? [{ name: 'ibuf', type: 'atomic<u32>', access: 'read_write' as const }] : []),
    ],
    uniforms: [{ name: 'n', type: 'u32' }],
    dispatch: 1,
    wgsl: `${commonWgsl(spec)}
${POINT_MAIN_HEAD}
  let q = proj[i];
  if (q.w == 0u) { return; }
  let nx = bitcast<f32>(q.x);
  let ny = bitcast<f32>(q.y);
  let pr = pixelRange(nx, ny);
  for (var row = pr.z; row <= pr.w; row++) {
    let dy = pixelNdcY(u32(row)) - ny;
    for (var col = pr.x; col <= pr.y; col++) {
      let dx = pixelNdcX(u32(col)) - nx;
      if (dx * dx + dy * dy < R2) {
        let pix = u32(row) * W + u32(col);
        ${body}
      }
    }
  }
}`,
  };
}

/** Z-buffer resolve: the winning point's colour (flat), with the near-black cut-off. */
export function zbufferResolveProgram(spec: SplatSpec): KernelProgram {
  checkSpec(spec);
  const n = spec.width * spec.height;
  return {
    name: 'zbuffer-resolve',
    key: `zbuffer-resolve:${specKey(spec)}`,
    workgroupSize: [256, 1, 1],
    bindings: [
      { name: 'proj', type: 'vec4<u32>', access: 'read' },
      { name: 'ibuf', type: 'u32', access: 'read' },
      { name: 'out', type: 'u32', access: 'read_write' },
    ],
    dispatch: Math.ceil(n / 256),
    wgsl: `
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = egoxWorkgroupIndex(wid, nwg);
  if (wg >= params.egoxWorkgroups) { return; }
  let p = wg * 256u + lid;
  if (p >= ${n}u) { return; }
  let idx = ibuf[p];
  var c = 0u;
  if (idx != 0xffffffffu) {
    // Flat colour, bytes as stored; the cut-off x/255 < 0.01 is byte <= 2 in every channel.
    c = proj[idx].w & 0xffffffu;
    if ((c & 255u) <= 2u && ((c >> 8u) & 255u) <= 2u && (c >> 16u) <= 2u) { c = 0u; }
  }
  out[p] = c;
}`,
  };
}

// ---- launcher ----------------------------------------------------------------------------
