// Wan 3D rotary position embedding on q or k stored token-major [L, H, D] (L = F * Hp * Wp
// tokens in (frame, row, col) order, col fastest). Adjacent pairs (x[2j], x[2j+1]) are
// complex numbers; the head dim splits into t = D - 4 * floor(D / 6) real dims for the frame
// axis and h = w = 2 * floor(D / 6) for rows and columns (44/42/42 at D = 128, 24/20/20 at
// D = 64). Pair j of an axis part of `dim` real dims turns by pos * theta^(-2j / dim).
//
// Angles are computed on the CPU in float64 (as the reference does) and uploaded as per-axis
// f32 (cos, sin) tables [F, t/2] ++ [Hp, h/2] ++ [Wp, w/2]: a few KB instead of an
// [L, D/2] table, and the kernel looks up one row per axis. One thread per (token, pair)
// loads its (cos, sin) once and rotates that pair in every head. A pair is one packed word
// for f16/bf16 storage, so in-place updates never race.

import type { EgoxDevice } from '../../runtime/device.ts';
import type { KernelContext } from '../../runtime/kernel-context.ts';
import type { KernelProgram } from '../../runtime/program.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { WGSL_HALF_BITS, f32BitsToHalfCodeExpr, unpackPairFn } from '../shared/wgsl-half.ts';
import { bindingAlign, bindingLimit, elemBytes, rowsPerWindow, wholeBindingBytes, windowOf } from '../shared/binding-window.ts';
import type { FloatDType } from '../../runtime/dtype.ts';

/** Token grid: frames, rows, columns (the patch grid of the latent video). */
export type RopeGrid = readonly [frames: number, rows: number, cols: number];

export interface RopeSpec {
  grid: RopeGrid;
  heads: number;
  headDim: number;
  dtype: FloatDType;
  /** Rotate x itself (one read_write binding) instead of writing a separate output. */
  inPlace: boolean;
  /**
   * A split over the binding limit: this dispatch rotates `tokens` tokens starting at the
   * global token of uniform tok0, in windows of x (and out) that start at pair offsets xOff
   * (and yOff).
   */
  window?: { tokens: number };
}

export const ROPE_THETA = 10000;
const WG = 64;

/** Real dims of the (frame, row, col) parts of a head of `headDim` (Wan's split). */
export function ropeSplit(headDim: number): [number, number, number] {
  const hw = 2 * Math.floor(headDim / 6);
  return [headDim - 2 * hw, hw, hw];
}

/**
 * The (cos, sin) tables as interleaved f32 pairs: frame part [F, t/2], then row part
 * [Hp, h/2], then column part [Wp, w/2]. Angles in float64.
 */
export function ropeTableValues(grid: RopeGrid, headDim: number, theta = ROPE_THETA): Float32Array {
  const parts = ropeSplit(headDim);
  const out = new Float32Array(ropeTableLength(grid, headDim));
  let i = 0;
  for (let a = 0; a < 3; a++) {
    const dim = parts[a]!;
    for (let pos = 0; pos < grid[a]!; pos++) {
      for (let j = 0; j < dim / 2; j++) {
        const angle = pos * Math.pow(theta, (-2 * j) / dim);
        out[i++] = Math.cos(angle);
        out[i++] = Math.sin(angle);
      }
    }
  }
  return out;
}

/** f32 values in the tables of a grid: 2 * (F * t/2 + Hp * h/2 + Wp * w/2). */
export function ropeTableLength(grid: RopeGrid, headDim: number): number {
  const parts = ropeSplit(headDim);
  return grid.reduce((n, len, a) => n + len * parts[a]!, 0);
}

/** The tables for a grid on `dev`, uploaded once per (grid, head dim, theta) and kept. */
export function ropeTables(dev: EgoxDevice, grid: RopeGrid, headDim: number, theta = ROPE_THETA): Promise<Tensor> {
  return dev.constant(`rope-table ${grid.join('x')}:d${headDim}:t${theta}`, () => ropeTableValues(grid, headDim, theta));
}

function checkSpec(s: RopeSpec): void {
  const [f, r, c] = s.grid;
  if (![f, r, c, s.heads].every((v) => Number.isInteger(v) && v >= 1)) throw new Error(`rope: bad grid ${s.grid} or heads ${s.heads}`);
  if (!(Number.isInteger(s.headDim) && s.headDim >= 6 && s.headDim % 2 === 0)) throw new Error(`rope: head dim ${s.headDim} must be even and >= 6`);
}

export function ropeProgram(s: RopeSpec): KernelProgram {
  checkSpec(s);
  const [F, HP, WP] = s.grid;
  const [t, h, w] = ropeSplit(s.headDim);
  const [t2, h2, w2] = [t / 2, h / 2, w / 2];
  const pairs = s.headDim / 2;
  const win = s.window;
  const L = win ? win.tokens : F * HP * WP;
  const threads = L * pairs;
  const half = s.dtype !== 'f32';
  const dst = s.inPlace ? 'X' : 'Y';
  const pairType = half ? 'u32' : 'vec2<f32>';
  const xi = win ? 'i + params.xOff' : 'i';
  const yi = win && !s.inPlace ? 'i + params.yOff' : xi;
  const load = half ? `unpackPair(X[${xi}])` : `X[${xi}]`;
  const store = half
    ? `${dst}[${yi}] = ${f32BitsToHalfCodeExpr(s.dtype as 'f16' | 'bf16', 'bitcast<u32>(r.x)')} | (${f32BitsToHalfCodeExpr(s.dtype as 'f16' | 'bf16', 'bitcast<u32>(r.y)')} << 16u);`
    : `${dst}[${yi}] = r;`;
  const wgsl = `${half ? WGSL_HALF_BITS : ''}
${half ? unpackPairFn(s.dtype, 'unpackPair') : ''}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = egoxWorkgroupIndex(wid, nwg) * ${WG}u + lid;
  if (g >= params.threads) { return; }
  let ${win ? 'local' : 'tok'} = g / ${pairs}u;${win ? '\n  let tok = params.tok0 + local;' : ''}
  let j = g % ${pairs}u;
  let col = tok % params.WP;
  let row = (tok / params.WP) % params.HP;
  let frame = tok / (params.WP * params.HP);
  var ti: u32;
  if (j < ${t2}u) {
    ti = frame * ${t2}u + j;
  } else if (j < ${t2 + h2}u) {
    ti = params.F * ${t2}u + row * ${h2}u + (j - ${t2}u);
  } else {
    ti = params.F * ${t2}u + params.HP * ${h2}u + col * ${w2}u + (j - ${t2 + h2}u);
  }
  let cs = TAB[ti];
  for (var hd = 0u; hd < ${s.heads}u; hd++) {
    let i = (${win ? 'local' : 'tok'} * ${s.heads}u + hd) * ${pairs}u + j;
    let x = ${load};
    let r = vec2<f32>(x.x * cs.x - x.y * cs.y, x.x * cs.y + x.y * cs.x);
    ${store}
  }
}`;
  const bindings = [
    { name: 'X', type: pairType, access: s.inPlace ? ('read_write' as const) : ('read' as const) },
    { name: 'TAB', type: 'vec2<f32>', access: 'read' as const },
  ];
  if (!s.inPlace) bindings.push({ name: 'Y', type: pairType, access: 'read_write' as const });
  return {
    name: 'rope',
    // The grid and token count are uniforms: one pipeline per head layout and dtype.
    key: `rope:h${s.heads}:d${s.headDim}:${s.dtype}:${s.inPlace ? 'inplace' : 'copy'}${win ? ':win' : ''}`,
    wgsl,
    workgroupSize: [WG, 1, 1],
    bindings,
    uniforms: [
      ...(win ? [{ name: 'tok0', type: 'u32' as const }, { name: 'xOff', type: 'u32' as const }, ...(s.inPlace ? [] : [{ name: 'yOff', type: 'u32' as const }])] : []),
      ...['F', 'HP', 'WP', 'threads'].map((name) => ({ name, type: 'u32' as const })),
    ],
    uniformValues: { F, HP, WP, threads },
    dispatch: Math.ceil(threads / WG),
  };
}

export interface RopeOptions {
  /** Token grid [frames, rows, cols]; its product must be the token count. */
  grid: RopeGrid;
  /** Heads when x is [L, H * D] (ignored for a 3-D [L, H, D] x). */
  heads?: number;
  /** Write here instead of rotating x in place. */
  out?: Tensor;
  /** Binding size limit to split against (tests); default dev.limits.maxStorageBufferBindingSize. */
  maxBindingBytes?: number;
}

/**
 * Rotates q or k ([L, H, D] or [L, H * D] with opts.heads) by Wan's 3D RoPE; in place
 * unless opts.out is given. `table` comes from `ropeTables(dev, grid, D)`.
 */
export function rope(dev: KernelContext, x: Tensor, table: Tensor, opts: RopeOptions): Tensor {
  const [L, H, D] = x.shape.length === 3 ? x.shape : [x.shape[0]!, opts.heads ?? 0, (x.shape[1] ?? 0) / (opts.heads || 1)];
  if (!H || !Number.isInteger(D)) throw new Error(`rope: x ${JSON.stringify(x.shape)} needs [L, H, D], or [L, H*D] with opts.heads`);
  const [f, r, c] = opts.grid;
  if (f * r * c !== L) throw new Error(`rope: grid ${f}x${r}x${c} has ${f * r * c} tokens but x has ${L}`);
  if (x.dtype !== 'f32' && x.dtype !== 'f16' && x.dtype !== 'bf16') throw new Error(`rope: dtype ${x.dtype} not supported`);
  const want = ropeTableLength(opts.grid, D!);
  if (table.numel !== want) throw new Error(`rope: table has ${table.numel} values, grid ${opts.grid} at head dim ${D} needs ${want}`);
  const spec: RopeSpec = { grid: opts.grid, heads: H!, headDim: D!, dtype: x.dtype, inPlace: !opts.out };
  const out = opts.out;
  if (out && (out.dtype !== x.dtype || out.numel !== x.numel)) throw new Error('rope: out must match x in dtype and size');
  const limit = bindingLimit(dev, opts.maxBindingBytes);
  if (wholeBindingBytes(x) <= limit) {
    dev.run(ropeProgram(spec), out ? [x, table, out] : [x, table]);
    return out ?? x;
  }
  // Split along tokens: a token's H * D values are contiguous, and its angles come from its
  // global position (tok0 + local), so every value is computed exactly as unsplit.
  const align = bindingAlign(dev);
  const rowBytes = H! * D! * elemBytes(x);
  const block = rowsPerWindow(limit, rowBytes, align, 1, 'rope');
  for (let t0 = 0; t0 < L!; t0 += block) {
    const t1 = Math.min(L!, t0 + block);
    const xw = windowOf(x, t0 * H! * D!, t1 * H! * D!, align, 2);
    const uniforms: Record<string, number> = { tok0: t0, xOff: xw.off };
    const tensors = [xw.view, table];
    if (out) {
      const yw = windowOf(out, t0 * H! * D!, t1 * H! * D!, align, 2);
      tensors.push(yw.view);
      uniforms.yOff = yw.off;
    }
    dev.run(ropeProgram({ ...spec, window: { tokens: t1 - t0 } }), tensors, uniforms);
  }
  return out ?? x;
}
