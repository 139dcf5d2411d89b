// Point splatting of the ego prior (spec B.4/B.5): project points through the renderer's Aria
// fisheye camera, keep for every pixel the K nearest-in-z points whose squared NDC distance to the
// pixel centre is < r^2 (PyTorch3D's rule), composite them front to back with weight 1 - d^2/r^2
// on black, clamp, apply the near-black cut-off and quantise to uint8.
//
// Passes (all on the GPU, no CPU loop over points):
//   1. project  (one thread per point): NDC + view z, and per-tile counts (atomicAdd);
//   2. scan     (one workgroup): exclusive prefix sum of the tile counts -> list offsets;
//   3. scatter  (one thread per point): point indices and their z bits into their tiles' lists
//               (atomic cursor: the order inside a list is arbitrary);
//   4. sort     (one thread per tile): the list by (z, point index), so ties are deterministic
//               whatever order the atomics produced; writes contiguous records (ndc, colour);
//   5. raster   (one workgroup per TxT tile, one thread per pixel): walk the sorted records,
//               composite the first K inside the pixel's disc, stop.
// Variant 'array' replaces 4-5 by a per-pixel K-list insertion over the unsorted list (no sort
// pass; slower on lavapipe, kept as the peer in bench/splat.bench.ts and as a cross-check).
// The z-buffer preview mode keeps only the nearest point per pixel, flat-coloured, with its own
// (small) point radius: atomicMin on the depth bits (positive floats order like their u32 bits),
// then atomicMin on the index among the points at that depth, then a resolve pass.
//
// Points: [N, 4] u32 = (x, y, z) world float bits + colour word r | g<<8 | b<<16 | valid<<24.
// Cameras: [F, 32] f32 packed by packFisheyeParams (src/recon/cameras.ts); the projection below
// mirrors projectFisheyePacked step by step. Output: [H*W] u32 = r | g<<8 | b<<16.
// Pixel centres follow PyTorch3D's non-square NDC: x_j = (W - 2j - 1)/m, y_i = (H - 2i - 1)/m,
// m = min(W, H) (for a square image: x_j = 1 - (2j+1)/W as in B.4).

import type { EgoxDevice } from '../../runtime/device.ts';
import type { KernelProgram } from '../../runtime/program.ts';
import type { Tensor } from '../../runtime/tensor.ts';

export interface SplatSpec {
  width: number;
  height: number;
  /** Point radius in NDC units (5 px at 448 = 5 * 2/448). */
  radius: number;
  /** Points kept per pixel (PyTorch3D points_per_pixel; EgoX 20). */
  pointsPerPixel: number;
  /** Tile edge in pixels for binning and rasterisation (default 8). */
  tile?: number;
  /**
   * Point radius (NDC) of the z-buffer preview mode (default: `radius`). Its cost grows with the
   * pixels each point covers (two atomic passes over them), so previews use ~1.5 px.
   */
  zbufferRadius?: number;
}

/** Same layout as FISHEYE_PARAMS in src/recon/cameras.ts (kernels may not import recon). */
const CAM_FLOATS = 32;
const WG_POINTS = 128;
const SCAN_WG = 256;
/** Near-black cut-off of the renderer's post-processing (B.5). */
const BLACK_CUTOFF = 0.01;
/** World points must be finite and inside |P| < 1e6 (B.4). */
const MAX_COORD = 1e6;

function tileOf(spec: SplatSpec): number {
  return spec.tile ?? 8;
}

function radiusPx(spec: SplatSpec): number {
  return (spec.radius * Math.min(spec.width, spec.height)) / 2;
}

/** Tiles per axis a point can touch: its pixel range spans at most 2*rpx + 2 pixels. */
function tilesPerAxis(spec: SplatSpec): number {
  return Math.ceil((2 * radiusPx(spec) + 2) / tileOf(spec)) + 1;
}

export function splatTiles(spec: SplatSpec): { tx: number; ty: number; count: number } {
  const t = tileOf(spec);
  const tx = Math.ceil(spec.width / t);
  const ty = Math.ceil(spec.height / t);
  return { tx, ty, count: tx * ty };
}

/** Upper bound of list entries for N points (each point lands in at most tilesPerAxis^2 tiles). */
export function splatListCapacity(spec: SplatSpec, points: number): number {
  return Math.max(1, points * tilesPerAxis(spec) ** 2);
}

function checkSpec(spec: SplatSpec): void {
  const { width, height, radius, pointsPerPixel } = spec;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) throw new Error(`splat: bad size ${width}x${height}`);
  if (!(radius > 0 && radius <= 0.5)) throw new Error(`splat: radius ${radius} NDC outside (0, 0.5]`);
  if (spec.zbufferRadius !== undefined && !(spec.zbufferRadius > 0 && spec.zbufferRadius <= 0.5)) throw new Error(`splat: zbufferRadius ${spec.zbufferRadius} NDC outside (0, 0.5]`);
  if (!(Number.isInteger(pointsPerPixel) && pointsPerPixel >= 1 && pointsPerPixel <= 64)) throw new Error(`splat: pointsPerPixel ${pointsPerPixel} outside 1..64`);
}

function specKey(spec: SplatSpec): string {
  return `${spec.width}x${spec.height}:r${spec.radius}:k${spec.pointsPerPixel}:t${tileOf(spec)}${spec.zbufferRadius !== undefined ? `:zr${spec.zbufferRadius}` : ''}`;
}

/** f32 literal that WGSL parses back to the same float. */
function f32Lit(x: number): string {
  const v = Math.fround(x);
  const s = v.toPrecision(9);
  return s.includes('.') || s.includes('e') ? s : `${s}.0`;
}

/** Shared WGSL: constants, pixel-centre NDC and the pixel range of a point. */
function commonWgsl(spec: SplatSpec): string {
  const m = Math.min(spec.width, spec.height);
  const { tx, ty } = splatTiles(spec);
  return `
const W: u32 = ${spec.width}u;
const H: u32 = ${spec.height}u;
const TILE: u32 = ${tileOf(spec)}u;
const TILES_X: u32 = ${tx}u;
const TILES_Y: u32 = ${ty}u;
const M: f32 = ${m}.0;
const RADIUS: f32 = ${f32Lit(spec.radius)};
const R2: f32 = ${f32Lit(spec.radius * spec.radius)};
const CAM: u32 = ${CAM_FLOATS}u;

// NDC of pixel centres (PyTorch3D, +x left, +y up).
fn pixelNdcX(j: u32) -> f32 { return f32(i32(W) - 2 * i32(j) - 1) / M; }
fn pixelNdcY(i: u32) -> f32 { return f32(i32(H) - 2 * i32(i) - 1) / M; }
${RANGE_WGSL}`;
}

/** WGSL projection through the packed fisheye camera (needs a `cam` binding). */
const PROJECT_WGSL = `
// Projects world point p with camera c (base offset into cam[]): vec4(ndcX, ndcY, viewZ, ok).
fn project(p: vec3<f32>, c: u32) -> vec4<f32> {
  if (!(abs(p.x) < ${f32Lit(MAX_COORD)} && abs(p.y) < ${f32Lit(MAX_COORD)} && abs(p.z) < ${f32Lit(MAX_COORD)})) { return vec4<f32>(0.0); }
  let X = cam[c + 0u] * p.x + cam[c + 1u] * p.y + cam[c + 2u] * p.z + cam[c + 3u];
  let Y = cam[c + 4u] * p.x + cam[c + 5u] * p.y + cam[c + 6u] * p.z + cam[c + 7u];
  let Z = cam[c + 8u] * p.x + cam[c + 9u] * p.y + cam[c + 10u] * p.z + cam[c + 11u];
  if (!(Z > 0.0)) { return vec4<f32>(0.0); }
  let a = X / Z;
  let b = Y / Z;
  let r = sqrt(a * a + b * b);
  let th = atan(r);
  var sc = 1.0;
  if (!(r < cam[c + 28u])) { sc = th / r; }
  let t2 = th * th;
  let g = 1.0 + t2 * (cam[c + 16u] + t2 * (cam[c + 17u] + t2 * (cam[c + 18u] + t2 * (cam[c + 19u] + t2 * (cam[c + 20u] + t2 * cam[c + 21u])))));
  let xr = sc * g * a;
  let yr = sc * g * b;
  let rd2 = xr * xr + yr * yr;
  let p1 = cam[c + 22u];
  let p2 = cam[c + 23u];
  let xd = xr + p1 * (2.0 * xr * xr + rd2) + 2.0 * p2 * xr * yr + cam[c + 24u] * rd2 + cam[c + 25u] * rd2 * rd2;
  let yd = yr + p2 * (2.0 * yr * yr + rd2) + 2.0 * p1 * xr * yr + cam[c + 26u] * rd2 + cam[c + 27u] * rd2 * rd2;
  let nx = cam[c + 12u] * xd + cam[c + 13u];
  let ny = cam[c + 12u] * yd + cam[c + 14u];
  // Far off-axis points can blow up; such points cover no pixel anyway.
  if (!(abs(nx) < 1e6 && abs(ny) < 1e6)) { return vec4<f32>(0.0); }
  return vec4<f32>(nx, ny, Z, 1.0);
}
`;

/** WGSL: pixel range a point may cover. */
const RANGE_WGSL = `
// Inclusive pixel ranges (cols.x..cols.y, rows.x..rows.y) a point at NDC (nx, ny) may cover;
// empty when lo > hi. Conservative (floor/ceil); the exact d^2 < r^2 test decides.
fn pixelRange(nx: f32, ny: f32) -> vec4<i32> {
  let jlo = clamp(floor((f32(W) - 1.0 - M * (nx + RADIUS)) * 0.5), -1.0, f32(W));
  let jhi = clamp(ceil((f32(W) - 1.0 - M * (nx - RADIUS)) * 0.5), -1.0, f32(W));
  let ilo = clamp(floor((f32(H) - 1.0 - M * (ny + RADIUS)) * 0.5), -1.0, f32(H));
  let ihi = clamp(ceil((f32(H) - 1.0 - M * (ny - RADIUS)) * 0.5), -1.0, f32(H));
  return vec4<i32>(max(i32(jlo), 0), min(i32(jhi), i32(W) - 1), max(i32(ilo), 0), min(i32(ihi), i32(H) - 1));
}
`;

const POINT_MAIN_HEAD = `
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = egoxWorkgroupIndex(wid, nwg);
  if (wg >= params.egoxWorkgroups) { return; }
  let i = wg * ${WG_POINTS}u + lid;
  if (i >= params.n) { return; }`;

/**
 * Pass 1: proj[i] = (ndcX, ndcY, z bits, colour word; colour 0 = no point) and, when `countTiles`,
 * tileCount[t] += 1 for every tile the point's pixel range touches.
 */
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

export type SplatMode = 'composite' | 'zbuffer';
export type RasterVariant = 'presorted' | 'array';

/** Scratch buffers of one splatter, reused across frames (pooled tensors). */
export class Splatter {
  readonly spec: SplatSpec;
  readonly capacity: number;
  private readonly proj: Tensor;
  private readonly tileCount: Tensor;
  private readonly offsets: Tensor;
  private readonly cursor: Tensor;
  private readonly pairs: Tensor;
  private readonly pairs2: Tensor;
  private readonly rec: Tensor;
  private readonly zbuf: Tensor;
  private readonly ibuf: Tensor;

  /**
   * `capacity` = the most points one call will splat. `variant` picks the rasteriser:
   * 'presorted' (sort tile lists, then walk them; default) or 'array' (per-pixel K-list insertion).
   */
  constructor(private readonly dev: EgoxDevice, spec: SplatSpec, capacity: number, readonly variant: 'presorted' | 'array' = 'presorted') {
    checkSpec(spec);
    this.spec = { ...spec, tile: tileOf(spec) };
    this.capacity = capacity;
    const tiles = splatTiles(spec).count;
    const pixels = spec.width * spec.height;
    this.proj = dev.empty([Math.max(capacity, 1), 4], 'u32', 'splat-proj');
    this.tileCount = dev.empty([tiles], 'u32', 'splat-tile-count');
    this.offsets = dev.empty([tiles + 1], 'u32', 'splat-offsets');
    this.cursor = dev.empty([tiles], 'u32', 'splat-cursor');
    const cap = splatListCapacity(spec, capacity);
    this.pairs = dev.empty([cap, 2], 'u32', 'splat-pairs');
    // merge-sort scratch and sorted records: presorted variant only
    this.pairs2 = dev.empty([variant === 'presorted' ? cap : 1, 2], 'u32', 'splat-pairs2');
    this.rec = dev.empty([variant === 'presorted' ? cap : 1, 4], 'u32', 'splat-records');
    this.zbuf = dev.empty([pixels], 'u32', 'zbuffer-depth');
    this.ibuf = dev.empty([pixels], 'u32', 'zbuffer-index');
  }

  /**
   * Records the splat of points[0..n) seen by camera `camIndex` of `cameras` into `out`
   * ([H*W] u32, r | g<<8 | b<<16). Nothing runs until the device flushes.
   */
  run(points: Tensor, n: number, cameras: Tensor, camIndex: number, out: Tensor, mode: SplatMode = 'composite'): Tensor {
    const { dev, spec } = this;
    if (n > this.capacity) throw new Error(`splat: ${n} points exceed the splatter's capacity ${this.capacity}`);
    if (points.numel < n * 4) throw new Error(`splat: points tensor holds ${points.numel / 4} points, n = ${n}`);
    if ((camIndex + 1) * CAM_FLOATS > cameras.numel) throw new Error(`splat: camera ${camIndex} not in a tensor of ${cameras.numel / CAM_FLOATS}`);
    if (out.numel !== spec.width * spec.height) throw new Error(`splat: out has ${out.numel} elements, expected ${spec.width * spec.height}`);
    const pointGroups = Math.ceil(n / WG_POINTS);
    const pointDispatch = <P extends KernelProgram>(p: P): P => ({ ...p, dispatch: pointGroups });
    if (mode === 'composite') {
      dev.run(splatClearProgram(this.tileCount.numel), [this.tileCount], { value: 0 });
      dev.run(pointDispatch(splatProjectProgram({ ...spec, countTiles: true })), [points, cameras, this.proj, this.tileCount], { n, camIndex });
      dev.run(splatScanProgram(spec), [this.tileCount, this.offsets, this.cursor]);
      dev.run(pointDispatch(splatScatterProgram(spec)), [this.proj, this.cursor, this.pairs], { n });
      if (this.variant === 'presorted') {
        dev.run(splatSortProgram(spec), [this.offsets, this.pairs, this.pairs2, this.proj, this.rec]);
        dev.run(splatRasterProgram(spec, 'presorted'), [this.rec, this.offsets, out]);
      } else {
        dev.run(splatRasterProgram(spec, 'array'), [this.proj, this.offsets, this.pairs, out]);
      }
    } else {
      dev.run(splatClearProgram(this.zbuf.numel), [this.zbuf], { value: 0xffffffff });
      dev.run(splatClearProgram(this.ibuf.numel), [this.ibuf], { value: 0xffffffff });
      dev.run(pointDispatch(splatProjectProgram({ ...spec, countTiles: false })), [points, cameras, this.proj], { n, camIndex });
      dev.run(pointDispatch(zbufferProgram(spec, 'depth')), [this.proj, this.zbuf], { n });
      dev.run(pointDispatch(zbufferProgram(spec, 'index')), [this.proj, this.zbuf, this.ibuf], { n });
      dev.run(zbufferResolveProgram(spec), [this.proj, this.ibuf, out]);
    }
    return out;
  }

  release(): void {
    for (const t of [this.proj, this.tileCount, this.offsets, this.cursor, this.pairs, this.pairs2, this.rec, this.zbuf, this.ibuf]) t.release();
  }
}

/** Unpacks [H*W] u32 pixels (r | g<<8 | b<<16) to RGB24 bytes. */
export function unpackRgb(packed: Uint8Array, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    out[3 * p] = packed[4 * p]!;
    out[3 * p + 1] = packed[4 * p + 1]!;
    out[3 * p + 2] = packed[4 * p + 2]!;
  }
  return out;
}
