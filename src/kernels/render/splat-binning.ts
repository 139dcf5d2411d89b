// Splatting passes 1-3 (see splat.ts): project points and count them per tile, prefix-sum the
// counts into list offsets, scatter point indices into their tiles' lists.

import type { KernelProgram } from '../../runtime/program.ts';
import { type SplatSpec, WG_POINTS, SCAN_WG, splatTiles, checkSpec, specKey, commonWgsl, PROJECT_WGSL, POINT_MAIN_HEAD } from './splat-common.ts';

export function splatProjectProgram(spec: SplatSpec & { countTiles: boolean }): KernelProgram {
  checkSpec(spec);
  const count = spec.countTiles
    ? `
    let pr = pixelRange(q.x, q.y);
    if (pr.x <= pr.y && pr.z <= pr.w) {
      for (var ty = u32(pr.z) / TILE; ty <= u32(pr.w) / TILE; ty++) {
        for (var tx = u32(pr.x) / TILE; tx <= u32(pr.y) / TILE; tx++) { atomicAdd(&tileCount[ty * TILES_X + tx], 1u); }
      }
    }`
    : '';
  return {
    name: 'splat-project',
    key: `splat-project:${specKey(spec)}:${spec.countTiles ? 'count' : 'nocount'}`,
    workgroupSize: [WG_POINTS, 1, 1],
    bindings: [
      { name: 'points', type: 'vec4<u32>', access: 'read' },
      { name: 'cam', type: 'f32', access: 'read' },
      { name: 'proj', type: 'vec4<u32>', access: 'read_write' },
      ...(spec.countTiles ? [{ name: 'tileCount', type: 'atomic<u32>', access: 'read_write' as const }] : []),
    ],
    uniforms: [
      { name: 'n', type: 'u32' },
      { name: 'camIndex', type: 'u32' },
    ],
    dispatch: 1,
    wgsl: `${commonWgsl(spec)}
${PROJECT_WGSL}
${POINT_MAIN_HEAD}
  let p = points[i];
  var out = vec4<u32>(0u);
  if ((p.w >> 24u) != 0u) {
    let q = project(vec3<f32>(bitcast<f32>(p.x), bitcast<f32>(p.y), bitcast<f32>(p.z)), params.camIndex * CAM);
    if (q.w != 0.0) {
      out = vec4<u32>(bitcast<u32>(q.x), bitcast<u32>(q.y), bitcast<u32>(q.z), p.w);${count}
    }
  }
  proj[i] = out;
}`,
  };
}

/** Pass 2: exclusive scan of tile counts into offsets[0..T] (offsets[T] = total) and cursors. */
export function splatScanProgram(spec: SplatSpec): KernelProgram {
  checkSpec(spec);
  const n = splatTiles(spec).count;
  const per = Math.ceil(n / SCAN_WG);
  return {
    name: 'splat-scan',
    key: `splat-scan:${specKey(spec)}`,
    workgroupSize: [SCAN_WG, 1, 1],
    bindings: [
      { name: 'tileCount', type: 'u32', access: 'read' },
      { name: 'offsets', type: 'u32', access: 'read_write' },
      { name: 'cursor', type: 'u32', access: 'read_write' },
    ],
    dispatch: 1,
    wgsl: `
const NT: u32 = ${n}u;
const PER: u32 = ${per}u;
var<workgroup> sums: array<u32, ${SCAN_WG}>;
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(local_invocation_index) lid: u32) {
  let start = lid * PER;
  var s = 0u;
  for (var k = 0u; k < PER; k++) { if (start + k < NT) { s += tileCount[start + k]; } }
  sums[lid] = s;
  workgroupBarrier();
  // Hillis-Steele inclusive scan over the per-thread sums.
  for (var d = 1u; d < ${SCAN_WG}u; d = d * 2u) {
    var v = 0u;
    if (lid >= d) { v = sums[lid - d]; }
    workgroupBarrier();
    sums[lid] += v;
    workgroupBarrier();
  }
  var run = sums[lid] - s;
  for (var k = 0u; k < PER; k++) {
    if (start + k < NT) {
      offsets[start + k] = run;
      cursor[start + k] = run;
      run += tileCount[start + k];
    }
  }
  if (lid == ${SCAN_WG - 1}u) { offsets[NT] = sums[lid]; }
}`,
  };
}

/** Pass 3: pairs[cursor[t]++] = (z bits, i) for every tile t the point touches. */
export function splatScatterProgram(spec: SplatSpec): KernelProgram {
  checkSpec(spec);
  return {
    name: 'splat-scatter',
    key: `splat-scatter:${specKey(spec)}`,
    workgroupSize: [WG_POINTS, 1, 1],
    bindings: [
      { name: 'proj', type: 'vec4<u32>', access: 'read' },
      { name: 'cursor', type: 'atomic<u32>', access: 'read_write' },
      { name: 'pairs', type: 'vec2<u32>', access: 'read_write' },
    ],
    uniforms: [{ name: 'n', type: 'u32' }],
    dispatch: 1,
    wgsl: `${commonWgsl(spec)}
${POINT_MAIN_HEAD}
  let q = proj[i];
  if (q.w == 0u) { return; }
  let pr = pixelRange(bitcast<f32>(q.x), bitcast<f32>(q.y));
  if (pr.x > pr.y || pr.z > pr.w) { return; }
  for (var ty = u32(pr.z) / TILE; ty <= u32(pr.w) / TILE; ty++) {
    for (var tx = u32(pr.x) / TILE; tx <= u32(pr.y) / TILE; tx++) {
      let slot = atomicAdd(&cursor[ty * TILES_X + tx], 1u);
      pairs[slot] = vec2<u32>(q.z, i);
    }
  }
}`,
  };
}

/** Colour word -> packed output after clamp, near-black cut-off and floor(x * 255). */
