// Shared description of one convolution for every conv variant: input [Cin, F, H, W]
// (batch 1, frames as the depth axis), weight [Cout, Cin, kt, kh, kw] (PyTorch layout),
// output [Cout, F', H', W']. Padding is zeros and may be asymmetric; in time it is causal
// (frames in front only). Cached frames of the previous chunk sit in front of x and replace
// front zero frames, as in Wan's CausalConv3d; cached frames beyond the zero padding lengthen
// the input instead (the downsample time conv concatenates its cached frame that way).

import type { KernelProgram } from '../../runtime/program.ts';
import type { FloatDType } from '../../runtime/dtype.ts';

export interface ConvPadding {
  /** Zero frames in front (causal: nothing at the back). */
  front: number;
  top: number;
  bottom: number;
  left: number;
  right: number;
}

export interface ConvShapeSpec {
  cin: number;
  cout: number;
  /** Frames, rows and columns of x. */
  inF: number;
  inH: number;
  inW: number;
  kernel: readonly [number, number, number];
  stride: readonly [number, number, number];
  pad: ConvPadding;
  /** Cached frames used in front of x (0 = none). */
  cacheFrames: number;
  /** Frames the cache tensor holds; its LAST `cacheFrames` frames are used. */
  cacheTotalFrames: number;
  weight: FloatDType;
  /**
   * Input channels of the weight tensor and the first one this conv uses (default: Cin, 0):
   * a conv over a channel slice of x with the matching weight columns, so a tensor too big
   * for one binding can be split over input channels and the parts summed via `residual`.
   */
  weightCin?: number;
  weightCinOffset?: number;
  bias: boolean;
  /** out = conv(x) + bias + residual, residual shaped like out. */
  residual: boolean;
}

export interface ConvGeometry {
  /** Frames in front of x after padding and cache: max(pad.front, cacheFrames). */
  frontTotal: number;
  /** Zero frames at the very front: frontTotal - cacheFrames. */
  zeroFront: number;
  outF: number;
  outH: number;
  outW: number;
  /** Reduction length Cin * kt * kh * kw. */
  k: number;
  flops: number;
}

export function convGeometry(s: ConvShapeSpec): ConvGeometry {
  const [kt, kh, kw] = s.kernel;
  const [st, sh, sw] = s.stride;
  const frontTotal = Math.max(s.pad.front, s.cacheFrames);
  const outF = Math.floor((frontTotal + s.inF - kt) / st) + 1;
  const outH = Math.floor((s.pad.top + s.inH + s.pad.bottom - kh) / sh) + 1;
  const outW = Math.floor((s.pad.left + s.inW + s.pad.right - kw) / sw) + 1;
  const k = s.cin * kt * kh * kw;
  return { frontTotal, zeroFront: frontTotal - s.cacheFrames, outF, outH, outW, k, flops: 2 * s.cout * outF * outH * outW * k };
}

function positiveInt(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`conv: ${what} must be a positive integer, got ${v}`);
}

function nonNegativeInt(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0) throw new Error(`conv: ${what} must be a non-negative integer, got ${v}`);
}

/** Throws on a spec no variant can run; returns the geometry. */
export function checkConvSpec(s: ConvShapeSpec): ConvGeometry {
  positiveInt(s.cin, 'Cin');
  positiveInt(s.cout, 'Cout');
  positiveInt(s.inF, 'input frames');
  positiveInt(s.inH, 'input height');
  positiveInt(s.inW, 'input width');
  s.kernel.forEach((v, i) => positiveInt(v, `kernel[${i}]`));
  s.stride.forEach((v, i) => positiveInt(v, `stride[${i}]`));
  for (const [name, v] of Object.entries(s.pad)) nonNegativeInt(v, `padding ${name}`);
  nonNegativeInt(s.cacheFrames, 'cache frames');
  const wcin = s.weightCin ?? s.cin;
  const woff = s.weightCinOffset ?? 0;
  nonNegativeInt(woff, 'weight channel offset');
  if (woff + s.cin > wcin) throw new Error(`conv: input channels [${woff}, ${woff + s.cin}) exceed the weight's ${wcin}`);
  if (s.cacheFrames > s.cacheTotalFrames) {
    throw new Error(`conv: ${s.cacheFrames} cache frames requested from a cache of ${s.cacheTotalFrames}`);
  }
  const g = convGeometry(s);
  if (g.outF < 1 || g.outH < 1 || g.outW < 1) {
    throw new Error(
      `conv: kernel ${s.kernel.join('x')} with stride ${s.stride.join('x')} does not fit input ` +
        `[${s.cin}, ${s.inF}, ${s.inH}, ${s.inW}] (+${g.frontTotal} front frames)`,
    );
  }
  return g;
}

/**
 * A key fragment naming every compile-time field (variants add their tile parameters). The
 * sizes that change with the clip (input frames, rows, columns, the cache's total frames)
 * are uniforms (see `convUniforms`) and stay out of the key, so one pipeline serves a conv
 * at every frame count and resolution (each lavapipe compile costs about a second).
 */
export function convShapeKey(s: ConvShapeSpec): string {
  const p = s.pad;
  return (
    `ci${s.cin}co${s.cout}:k${s.kernel.join('x')}:s${s.stride.join('x')}` +
    `:p${p.front},${p.top},${p.bottom},${p.left},${p.right}:c${s.cacheFrames}` +
    `:w${s.weight}${s.weightCin !== undefined && s.weightCin !== s.cin ? `of${s.weightCin}@${s.weightCinOffset ?? 0}` : ''}${s.bias ? ':bias' : ''}${s.residual ? ':res' : ''}`
  );
}

/** Elements between consecutive output channels' weights, and the first used element. */
export function weightLayout(s: ConvShapeSpec): { rowStride: number; base: number } {
  const kvol = s.kernel[0] * s.kernel[1] * s.kernel[2];
  return { rowStride: (s.weightCin ?? s.cin) * kvol, base: (s.weightCinOffset ?? 0) * kvol };
}

/** WGSL function `wAt(i: u32) -> f32` reading weight element i from binding `wts`. */
export function weightReader(weight: FloatDType): string {
  if (weight === 'f32') return 'fn wAt(i: u32) -> f32 { return wts[i]; }';
  const pair =
    weight === 'bf16'
      ? 'vec2<f32>(bitcast<f32>(v << 16u), bitcast<f32>(v & 0xffff0000u))'
      : 'unpack2x16float(v)';
  return `fn wAt(i: u32) -> f32 { let v = wts[i >> 1u]; let p = ${pair}; return select(p.x, p.y, (i & 1u) == 1u); }`;
}

/**
 * Uniforms of every conv variant: the loop bounds (cin, kt: as constants the compiler would
 * unroll the already unrolled body many times over, seconds of lavapipe compile) and the
 * run-time sizes. Kernels read them as `params.<name>`.
 */
/**
 * Bindings of every conv variant, in this order: x, [cache], wts, [bias], [res], out.
 * `input` is the element type of x and cache, `output` of res and out (f32 by default).
 */
export function convBindings(s: ConvShapeSpec, types: { input?: string; output?: string } = {}): KernelProgram['bindings'] {
  const input = types.input ?? 'f32';
  const output = types.output ?? 'f32';
  return [
    { name: 'x', type: input, access: 'read' },
    ...(s.cacheFrames > 0 ? [{ name: 'cache', type: input, access: 'read' as const }] : []),
    { name: 'wts', type: s.weight === 'f32' ? 'f32' : 'u32', access: 'read' },
    ...(s.bias ? [{ name: 'bias', type: 'f32', access: 'read' as const }] : []),
    ...(s.residual ? [{ name: 'res', type: output, access: 'read' as const }] : []),
    { name: 'out', type: output, access: 'read_write' },
  ];
}

export const CONV_UNIFORMS = [
  { name: 'cin', type: 'u32' },
  { name: 'kt', type: 'u32' },
  { name: 'inF', type: 'u32' },
  { name: 'inH', type: 'u32' },
  { name: 'inW', type: 'u32' },
  { name: 'outF', type: 'u32' },
  { name: 'outH', type: 'u32' },
  { name: 'outW', type: 'u32' },
  { name: 'cacheTotal', type: 'u32' },
] as const;

/** Values of CONV_UNIFORMS for one conv (pass them with every launch of its program). */
export function convUniforms(s: ConvShapeSpec): Record<string, number> {
  const g = convGeometry(s);
  return {
    cin: s.cin,
    kt: s.kernel[0],
    inF: s.inF,
    inH: s.inH,
    inW: s.inW,
    outF: g.outF,
    outH: g.outH,
    outW: g.outW,
    cacheTotal: s.cacheTotalFrames,
  };
}

/**
 * WGSL opening the loop over the kt temporal taps of one output frame `fo` (a uniform
 * value): skips taps that fall on front zero padding and sets `fb` (frame base, in load
 * units of `div` elements) and `cs` (channel stride) for the frame's source, x or the
 * cache (`fromCache`). The caller writes the channel loop and closes the brace.
 */
export function frameLoopOpen(s: ConvShapeSpec, g: ConvGeometry, div: number): string[] {
  const u = (n: number): string => `${n}u`;
  const L = [
    `  let hwU = params.inH * params.inW / ${u(div)};`,
    `  for (var dt = 0u; dt < params.kt; dt++) {`,
    `    let p = fo * ${u(s.stride[0])} + dt;`,
  ];
  if (g.zeroFront > 0) L.push(`    if (p < ${u(g.zeroFront)}) { continue; }`);
  const xBase = `(p - ${u(g.frontTotal)}) * hwU`;
  if (s.cacheFrames > 0) {
    // Both arms are computed; the unused one may wrap around, which u32 arithmetic allows.
    L.push(`    let fromCache = p < ${u(g.frontTotal)};`);
    L.push(`    let fb = select(${xBase}, (p + params.cacheTotal - ${u(s.cacheFrames + g.zeroFront)}) * hwU, fromCache);`);
    L.push(`    let cs = select(params.inF * hwU, params.cacheTotal * hwU, fromCache);`);
  } else {
    L.push(`    let fb = ${xBase};`);
    L.push(`    let cs = params.inF * hwU;`);
  }
  return L;
}

/**
 * WGSL declaring `name` = input element `idx` (of x, or of the cache when `fromCache`),
 * or zero where `ok` is false. One load in the code either way, so the unrolled
 * multiply-adds after it are emitted once, not once per frame source.
 */
export function inputLoad(s: ConvShapeSpec, name: string, type: 'f32' | 'vec4<f32>', idx: string, ok: string): string {
  const zero = type === 'f32' ? '0.0' : 'vec4<f32>()';
  if (s.cacheFrames === 0) return `let ${name} = select(${zero}, x[${idx}], ${ok});`;
  return `var ${name} = ${zero}; if (${ok}) { if (fromCache) { ${name} = cache[${idx}]; } else { ${name} = x[${idx}]; } }`;
}
