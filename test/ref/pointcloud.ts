/**
 * Float64 CPU reference of the point-cloud rules (spec B.2/B.3), plain loops: ViPE's reliable
 * depth mask, the NaN-mean background over static reliable frames, subsampled unprojection with
 * a pinhole (no pixel-centre offset) and camera-to-world, per-frame dynamic points.
 */
export function refReliable(depth: ArrayLike<number>, H: number, W: number): Uint8Array {
  const out = new Uint8Array(H * W);
  for (let r = 0; r < H; r++) {
    for (let c = 0; c < W; c++) {
      const d = depth[r * W + c]!;
      if (!(d > 0)) continue;
      let mx = -Infinity;
      let mn = Infinity;
      let sum = 0;
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) {
          const rr = r + dy;
          const cc = c + dx;
          if (rr < 0 || rr >= H || cc < 0 || cc >= W) continue; // -inf padding for max/min, 0 for the sum
          const v = depth[rr * W + cc]!;
          mx = Math.max(mx, v);
          mn = Math.min(mn, v);
          sum += v;
        }
      }
      out[r * W + c] = (mx - mn) / (sum / 25 + 1e-6) < 0.1 ? 1 : 0;
    }
  }
  return out;
}

export interface RefCloudInputs {
  H: number;
  W: number;
  depth: Float32Array[];
  rgb: Uint8Array[];
  exoH: number;
  exoW: number;
  rowOffset: number;
  colOffset: number;
  masks?: Uint8Array[];
  /** fx, fy, cx, cy of the depth grid. */
  intr: { fx: number; fy: number; cx: number; cy: number };
  /** camera-to-world 3x4 row-major. */
  c2w: ArrayLike<number>;
  step: number;
}

export interface RefPoint {
  slot: number;
  xyz: [number, number, number];
  rgb: [number, number, number];
}

function exoIndex(inp: RefCloudInputs, f: number, r: number, c: number): number {
  const er = r - inp.rowOffset;
  const ec = c - inp.colOffset;
  if (er < 0 || er >= inp.exoH || ec < 0 || ec >= inp.exoW) return -1;
  return (er * inp.exoW + ec) * 3;
}

function unproject(inp: RefCloudInputs, r: number, c: number, d: number): [number, number, number] {
  const x = ((c - inp.intr.cx) / inp.intr.fx) * d;
  const y = ((r - inp.intr.cy) / inp.intr.fy) * d;
  const m = inp.c2w;
  return [0, 1, 2].map((k) => m[4 * k]! * x + m[4 * k + 1]! * y + m[4 * k + 2]! * d + m[4 * k + 3]!) as [number, number, number];
}

/** Background points by slot (subsampled cell index). */
export function refBackground(inp: RefCloudInputs): RefPoint[] {
  const { H, W } = inp;
  const F = inp.depth.length;
  const rel = inp.depth.map((d) => refReliable(d, H, W));
  const meanD = new Float64Array(H * W);
  const meanC: ([number, number, number] | null)[] = new Array(H * W).fill(null);
  for (let p = 0; p < H * W; p++) {
    let sd = 0;
    let n = 0;
    const sc = [0, 0, 0];
    let nc = 0;
    const r = Math.floor(p / W);
    const c = p % W;
    for (let f = 0; f < F; f++) {
      if (inp.masks && inp.masks[f]![p] !== 0) continue;
      if (!rel[f]![p]) continue;
      sd += inp.depth[f]![p]!;
      n++;
      const e = exoIndex(inp, f, r, c);
      if (e >= 0) {
        for (let k = 0; k < 3; k++) sc[k]! += inp.rgb[f]![e + k]!;
        nc++;
      }
    }
    meanD[p] = n > 0 ? sd / n : 0; // NaN-mean, NaN -> 0
    if (nc > 0) meanC[p] = sc.map((s) => Math.floor(s / nc)) as [number, number, number];
  }
  const relMean = refReliable(meanD, H, W);
  const cols = Math.ceil(W / inp.step);
  const out: RefPoint[] = [];
  for (let r = 0; r < H; r += inp.step) {
    for (let c = 0; c < W; c += inp.step) {
      const p = r * W + c;
      if (!relMean[p] || !meanC[p]) continue;
      out.push({ slot: (r / inp.step) * cols + c / inp.step, xyz: unproject(inp, r, c, meanD[p]!), rgb: meanC[p]! });
    }
  }
  return out;
}

/** Dynamic points of frame f by slot (within the dynamic region). */
export function refDynamic(inp: RefCloudInputs, f: number): RefPoint[] {
  const { H, W } = inp;
  const rel = refReliable(inp.depth[f]!, H, W);
  const cols = Math.ceil(W / inp.step);
  const out: RefPoint[] = [];
  for (let r = 0; r < H; r += inp.step) {
    for (let c = 0; c < W; c += inp.step) {
      const p = r * W + c;
      const e = exoIndex(inp, f, r, c);
      if (!inp.masks || inp.masks[f]![p] === 0 || !rel[p] || e < 0) continue;
      const rgb = inp.rgb[f]!;
      out.push({ slot: (r / inp.step) * cols + c / inp.step, xyz: unproject(inp, r, c, inp.depth[f]![p]!), rgb: [rgb[e]!, rgb[e + 1]!, rgb[e + 2]!] });
    }
  }
  return out;
}
