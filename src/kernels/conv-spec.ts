// Shared description of one convolution for every conv variant: input [Cin, F, H, W]
// (batch 1, frames as the depth axis), weight [Cout, Cin, kt, kh, kw] (PyTorch layout),
// output [Cout, F', H', W']. Padding is zeros and may be asymmetric; in time it is causal
// (frames in front only). Cached frames of the previous chunk sit in front of x and replace
// front zero frames, as in Wan's CausalConv3d; cached frames beyond the zero padding lengthen
// the input instead (the downsample time conv concatenates its cached frame that way).

export type WeightDType = 'f32' | 'f16' | 'bf16';

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
  weight: WeightDType;
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

/** A key fragment naming every shape field (variants add their tile parameters). */
export function convShapeKey(s: ConvShapeSpec): string {
  const p = s.pad;
  return (
    `ci${s.cin}co${s.cout}:in${s.inF}x${s.inH}x${s.inW}:k${s.kernel.join('x')}:s${s.stride.join('x')}` +
    `:p${p.front},${p.top},${p.bottom},${p.left},${p.right}:c${s.cacheFrames}of${s.cacheTotalFrames}` +
    `:w${s.weight}${s.weightCin !== undefined && s.weightCin !== s.cin ? `of${s.weightCin}@${s.weightCinOffset ?? 0}` : ''}${s.bias ? ':bias' : ''}${s.residual ? ':res' : ''}`
  );
}

/** Elements between consecutive output channels' weights, and the first used element. */
export function weightLayout(s: ConvShapeSpec): { rowStride: number; base: number } {
  const kvol = s.kernel[0] * s.kernel[1] * s.kernel[2];
  return { rowStride: (s.weightCin ?? s.cin) * kvol, base: (s.weightCinOffset ?? 0) * kvol };
}

/** WGSL function `wAt(i: u32) -> f32` reading weight element i from binding `wts`. */
export function weightReader(weight: WeightDType): string {
  if (weight === 'f32') return 'fn wAt(i: u32) -> f32 { return wts[i]; }';
  const pair =
    weight === 'bf16'
      ? 'vec2<f32>(bitcast<f32>(v << 16u), bitcast<f32>(v & 0xffff0000u))'
      : 'unpack2x16float(v)';
  return `fn wAt(i: u32) -> f32 { let v = wts[i >> 1u]; let p = ${pair}; return select(p.x, p.y, (i & 1u) == 1u); }`;
}

/** Uniforms of the register-tile variants: loop bounds, see `convLoopUniforms`. */
export const CONV_LOOP_UNIFORMS = [
  { name: 'cin', type: 'u32' },
  { name: 'kt', type: 'u32' },
] as const;

export function convLoopUniforms(s: ConvShapeSpec): Record<string, number> {
  return { cin: s.cin, kt: s.kernel[0] };
}

/**
 * WGSL opening the loop over the kt temporal taps of one output frame `fo` (a uniform
 * value): skips taps that fall on front zero padding and sets `fb` (frame base, in load
 * units of `div` elements) and `cs` (channel stride) for the frame's source, x or the
 * cache (`fromCache`). The caller writes the channel loop and closes the brace.
 */
export function frameLoopOpen(s: ConvShapeSpec, g: ConvGeometry, div: number): string[] {
  const u = (n: number): string => `${n}u`;
  const hw = (s.inH * s.inW) / div;
  const L = [`  for (var dt = 0u; dt < params.kt; dt++) {`, `    let p = fo * ${u(s.stride[0])} + dt;`];
  if (g.zeroFront > 0) L.push(`    if (p < ${u(g.zeroFront)}) { continue; }`);
  const xBase = `(p - ${u(g.frontTotal)}) * ${u(hw)}`;
  if (s.cacheFrames > 0) {
    // Both arms are computed; the unused one may wrap around, which u32 arithmetic allows.
    L.push(`    let fromCache = p < ${u(g.frontTotal)};`);
    L.push(`    let fb = select(${xBase}, (p + ${u(s.cacheTotalFrames - s.cacheFrames)} - ${u(g.zeroFront)}) * ${u(hw)}, fromCache);`);
    L.push(`    let cs = select(${u(s.inF * hw)}, ${u(s.cacheTotalFrames * hw)}, fromCache);`);
  } else {
    L.push(`    let fb = ${xBase};`);
    L.push(`    let cs = ${u(s.inF * hw)};`);
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
