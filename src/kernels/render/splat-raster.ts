// Splatting passes 4-5 (see splat.ts): sort each tile's list by (z, index), then composite the
// K nearest points per pixel; the 'array' variant inserts into per-pixel K-lists instead.

import type { KernelProgram } from '../../runtime/program.ts';
import { type SplatSpec, BLACK_CUTOFF, tileOf, splatTiles, checkSpec, specKey, commonWgsl, type RasterVariant } from './splat-common.ts';

const QUANTISE_WGSL = `
fn quantise(c: vec3<f32>) -> u32 {
  let v = clamp(c, vec3<f32>(0.0), vec3<f32>(1.0));
  if (v.x < ${BLACK_CUTOFF} && v.y < ${BLACK_CUTOFF} && v.z < ${BLACK_CUTOFF}) { return 0u; }
  let q = vec3<u32>(floor(v * 255.0));
  return q.x | (q.y << 8u) | (q.z << 16u);
}
fn colourOf(w: u32) -> vec3<f32> {
  return vec3<f32>(f32(w & 255u), f32((w >> 8u) & 255u), f32((w >> 16u) & 255u)) / 255.0;
}`;

/**
 * Variant 'array': a per-pixel K-list in private arrays kept sorted by (z, index) with an insertion
 * loop. Needs no sort pass, but on CPU backends (lavapipe) dynamically indexed private arrays become
 * per-lane memory traffic: measured 2-3x slower than 'presorted' there (bench/splat.bench.ts).
 */
function rasterBodyArray(K: number): string {
  return `
  var zs: array<f32, ${K}>;
  var ids: array<u32, ${K}>;
  var ds: array<f32, ${K}>;
  var cnt = 0u;
  let start = offsets[tileIdx];
  let end = offsets[tileIdx + 1u];
  for (var e = start; e < end; e++) {
    let idx = pairs[e].y;
    let q = proj[idx];
    let dx = px - bitcast<f32>(q.x);
    let dy = py - bitcast<f32>(q.y);
    let d2 = dx * dx + dy * dy;
    if (!(d2 < R2)) { continue; }
    let z = bitcast<f32>(q.z);
    if (cnt == ${K}u && (z > zs[${K - 1}] || (z == zs[${K - 1}] && idx > ids[${K - 1}]))) { continue; }
    var j = min(cnt, ${K - 1}u);
    loop {
      if (j == 0u) { break; }
      let zp = zs[j - 1u];
      if (zp < z || (zp == z && ids[j - 1u] < idx)) { break; }
      zs[j] = zp;
      ids[j] = ids[j - 1u];
      ds[j] = ds[j - 1u];
      j--;
    }
    zs[j] = z;
    ids[j] = idx;
    ds[j] = d2;
    cnt = min(cnt + 1u, ${K}u);
  }
  var acc = vec3<f32>(0.0);
  var trans = 1.0;
  for (var k = 0u; k < cnt; k++) {
    let w = 1.0 - ds[k] / R2;
    acc += (w * trans) * colourOf(proj[ids[k]].w);
    trans *= 1.0 - w;
  }`;
}

/**
 * Variant 'presorted' (after splatSortProgram): the tile's records are already in (z, index)
 * order, so every pixel composites the first K points inside its disc as it walks them and stops
 * there. Records (ndcX, ndcY, colour) are contiguous: no dependent load per test.
 */
function presortedBody(K: number): string {
  return `
  var acc = vec3<f32>(0.0);
  var trans = 1.0;
  var hits = 0u;
  let end = offsets[tileIdx + 1u];
  for (var e = offsets[tileIdx]; e < end; e++) {
    let q = rec[e];
    let dx = px - bitcast<f32>(q.x);
    let dy = py - bitcast<f32>(q.y);
    let d2 = dx * dx + dy * dy;
    if (d2 < R2) {
      let w = 1.0 - d2 / R2;
      acc += (w * trans) * colourOf(q.z);
      trans *= 1.0 - w;
      hits++;
      if (hits == ${K}u) { break; }
    }
  }`;
}

/**
 * Sorts every tile's list by (z bits, point index), one thread per tile: insertion sort for short
 * lists, bottom-up merge sort through the scratch arrays for long ones (O(n log n) even for the
 * densest tiles). Keys are the z bits (positive floats order like their bits). Then writes the
 * rasteriser's records in that order.
 */
export function splatSortProgram(spec: SplatSpec): KernelProgram {
  checkSpec(spec);
  const nt = splatTiles(spec).count;
  return {
    name: 'splat-sort',
    key: `splat-sort:${specKey(spec)}`,
    workgroupSize: [64, 1, 1],
    bindings: [
      { name: 'offsets', type: 'u32', access: 'read' },
      { name: 'pairs', type: 'vec2<u32>', access: 'read_write' },
      { name: 'pairs2', type: 'vec2<u32>', access: 'read_write' },
      { name: 'proj', type: 'vec4<u32>', access: 'read' },
      { name: 'rec', type: 'vec4<u32>', access: 'read_write' },
    ],
    dispatch: Math.ceil(nt / 64),
    wgsl: `
const INSERTION_MAX: u32 = 32u;
// (z bits, point index) pairs in lexicographic order.
fn before(a: vec2<u32>, b: vec2<u32>) -> bool { return a.x < b.x || (a.x == b.x && a.y < b.y); }
// The rasteriser's records, in sorted order: (ndcX, ndcY, colour, point index).
fn writeRecords(s: u32, n: u32) {
  for (var o = 0u; o < n; o++) {
    let id = pairs[s + o].y;
    let q = proj[id];
    rec[s + o] = vec4<u32>(q.x, q.y, q.w, id);
  }
}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = egoxWorkgroupIndex(wid, nwg);
  if (wg >= params.egoxWorkgroups) { return; }
  let t = wg * 64u + lid;
  if (t >= ${nt}u) { return; }
  let s = offsets[t];
  let n = offsets[t + 1u] - s;
  if (n <= INSERTION_MAX) {
    for (var i = 1u; i < n; i++) {
      let v = pairs[s + i];
      var j = i;
      while (j > 0u && before(v, pairs[s + j - 1u])) {
        pairs[s + j] = pairs[s + j - 1u];
        j--;
      }
      pairs[s + j] = v;
    }
    writeRecords(s, n);
    return;
  }
  // Bottom-up merge sort, ping-ponging between pairs and pairs2.
  var inPrimary = true;
  for (var width = 1u; width < n; width = width * 2u) {
    for (var lo = 0u; lo < n; lo += 2u * width) {
      let mid = min(lo + width, n);
      let hi = min(lo + 2u * width, n);
      var a = lo;
      var b = mid;
      for (var o = lo; o < hi; o++) {
        var va: vec2<u32>;
        var vb: vec2<u32>;
        if (inPrimary) { va = pairs[s + min(a, n - 1u)]; vb = pairs[s + min(b, n - 1u)]; }
        else { va = pairs2[s + min(a, n - 1u)]; vb = pairs2[s + min(b, n - 1u)]; }
        let takeA = b >= hi || (a < mid && !before(vb, va));
        let v = select(vb, va, takeA);
        if (takeA) { a++; } else { b++; }
        if (inPrimary) { pairs2[s + o] = v; } else { pairs[s + o] = v; }
      }
    }
    inPrimary = !inPrimary;
  }
  if (!inPrimary) {
    for (var o = 0u; o < n; o++) { pairs[s + o] = pairs2[s + o]; }
  }
  writeRecords(s, n);
}`,
  };
}

/** Pass 4: per-pixel K nearest (by z, then index) within the radius, alpha-composited on black. */
export function splatRasterProgram(spec: SplatSpec, variant: RasterVariant = 'presorted'): KernelProgram {
  checkSpec(spec);
  const t = tileOf(spec);
  const K = spec.pointsPerPixel;
  const body = `  if (!inside) { return; }\n${variant === 'presorted' ? presortedBody(K) : rasterBodyArray(K)}`;
  return {
    name: 'splat-raster',
    key: `splat-raster:${specKey(spec)}:${variant}`,
    workgroupSize: [t, t, 1],
    bindings:
      variant === 'presorted'
        ? [
            { name: 'rec', type: 'vec4<u32>', access: 'read' },
            { name: 'offsets', type: 'u32', access: 'read' },
            { name: 'out', type: 'u32', access: 'read_write' },
          ]
        : [
            { name: 'proj', type: 'vec4<u32>', access: 'read' },
            { name: 'offsets', type: 'u32', access: 'read' },
            { name: 'pairs', type: 'vec2<u32>', access: 'read' },
            { name: 'out', type: 'u32', access: 'read_write' },
          ],
    dispatch: splatTiles(spec).count,
    wgsl: `${commonWgsl(spec)}
${QUANTISE_WGSL}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let tileIdx = egoxWorkgroupIndex(wid, nwg);
  if (tileIdx >= params.egoxWorkgroups) { return; }
  let col = (tileIdx % TILES_X) * TILE + lid.x;
  let row = (tileIdx / TILES_X) * TILE + lid.y;
  let inside = col < W && row < H;
  let px = pixelNdcX(col);
  let py = pixelNdcY(row);
${body}
  out[row * W + col] = quantise(acc);
}`,
  };
}

/** Fills a u32 buffer with `value` (clears counters and z-buffers between frames). */
export function splatClearProgram(numel: number): KernelProgram {
  return {
    name: 'splat-clear',
    key: `splat-clear:${numel}`,
    workgroupSize: [256, 1, 1],
    bindings: [{ name: 'buf', type: 'u32', access: 'read_write' }],
    uniforms: [{ name: 'value', type: 'u32' }],
    dispatch: Math.ceil(numel / 256),
    wgsl: `
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = egoxWorkgroupIndex(wid, nwg);
  if (wg >= params.egoxWorkgroups) { return; }
  let i = wg * 256u + lid;
  if (i < ${numel}u) { buf[i] = params.value; }
}`,
  };
}

/**
 * Z-buffer passes over each point's covered pixels (d^2 < r^2): 'depth' = atomicMin of the depth
 * bits, 'index' = atomicMin of the point index among points at the winning depth.
 */
