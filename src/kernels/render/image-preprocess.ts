// CLIP image preprocessing on the GPU: PIL's bicubic resize (what the Hugging Face image
// processor runs), separable, one pass per axis, evaluated only on the centre-crop window,
// then rescale and per-channel normalisation. Planar [C, H, W] f32 in and out.
//
// PIL's resize along one axis (n_in -> n_out): output i is centred at (i + 0.5) * n_in / n_out;
// when shrinking the Keys cubic (a = -0.5) is stretched by n_in / n_out (antialiasing); the
// window is cut at the borders and the weights renormalised to sum 1. The weights depend on
// sizes only, so the host computes them in float64 as a table [n, 1 + taps] (first entry: the
// window start) that the graph carries as a constant. On 8-bit images PIL works in fixed
// point: weights rounded to integers at 22 fractional bits, an integer sum plus 2^21, shifted
// right by 22 and clamped to 0..255 after each pass. `quantize` does exactly that in i32 (the
// integer weights, < 2^23, are exact in the f32 table), so a uint8 frame gives bit for bit
// the pixel values diffusers feeds CLIP, ties included.

import type { KernelContext } from '../../runtime/kernel-context.ts';
import type { KernelProgram } from '../../runtime/program.ts';
import type { Tensor } from '../../runtime/tensor.ts';

const WG = 256;

function cubic(x: number): number {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

const PRECISION_BITS = 22;

/** PIL's 8-bit coefficient: rounded half away from zero at 22 fractional bits. */
function pilFixed(w: number): number {
  const v = w * 2 ** PRECISION_BITS;
  return w < 0 ? Math.trunc(v - 0.5) : Math.trunc(v + 0.5);
}

/** Taps of the widest window of a resize from nIn to nOut. */
export function resizeTaps(nIn: number, nOut: number): number {
  const support = 2 * Math.max(nIn / nOut, 1);
  return Math.ceil(support) * 2 + 1;
}

/**
 * The weight table of outputs [start, start + count) of a bicubic resize nIn -> nOut:
 * row r = [window start, w_0 .. w_{taps-1}] (unused taps 0).
 */
export function bicubicTable(nIn: number, nOut: number, start: number, count: number, fixedPoint = false): { taps: number; table: Float32Array } {
  const taps = resizeTaps(nIn, nOut);
  const scale = nIn / nOut;
  const stretch = Math.max(scale, 1);
  const support = 2 * stretch;
  const table = new Float32Array(count * (1 + taps));
  for (let r = 0; r < count; r++) {
    const i = start + r;
    const centre = (i + 0.5) * scale;
    const lo = Math.max(Math.trunc(centre - support + 0.5), 0);
    const hi = Math.min(Math.trunc(centre + support + 0.5), nIn);
    const w: number[] = [];
    for (let j = lo; j < hi; j++) w.push(cubic((j - centre + 0.5) / stretch));
    const sum = w.reduce((a, b) => a + b, 0);
    if (w.length > taps) throw new Error(`bicubicTable: window of ${w.length} > ${taps} taps`);
    table[r * (1 + taps)] = lo;
    w.forEach((x, t) => (table[r * (1 + taps) + 1 + t] = fixedPoint ? pilFixed(x / sum) : x / sum));
  }
  return { taps, table };
}

export interface ResizeAxisSpec {
  axis: 'x' | 'y';
  channels: number;
  /** Input [channels, inH, inW]; output [channels, outH, outW] (one of the two dims unchanged). */
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  taps: number;
  /** PIL's 8-bit fixed point (table from bicubicTable(..., true)); input values 0..255 integers. */
  quantize: boolean;
  /** After the pass: (v * scale - mean[c]) / std[c] (uniforms; at most 4 channels). */
  normalize: boolean;
}

export function resizeAxisProgram(s: ResizeAxisSpec): KernelProgram {
  if (s.axis === 'x' ? s.inH !== s.outH : s.inW !== s.outW) throw new Error(`resize-axis: a ${s.axis} pass keeps the other dim`);
  if (s.normalize && s.channels > 4) throw new Error('resize-axis: normalisation takes at most 4 channels');
  const n = s.channels * s.outH * s.outW;
  const src = s.axis === 'x' ? `(c * params.inH + y) * params.inW + min(lo + t, params.inW - 1u)` : `(c * params.inH + min(lo + t, params.inH - 1u)) * params.inW + x`;
  // Image sizes are uniforms: one pipeline per pass kind serves every frame size.
  const key = `resize-axis:${s.axis}:c${s.channels}:${s.quantize ? 'q8' : 'float'}:${s.normalize ? 'norm' : 'raw'}`;
  const wgsl = `
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = egoxWorkgroupIndex(wid, nwg) * ${WG}u + lid;
  if (i >= params.n) { return; }
  let x = i % params.outW;
  let y = (i / params.outW) % params.outH;
  let c = i / (params.outW * params.outH);
  let row = ${s.axis === 'x' ? 'x' : 'y'} * (params.taps + 1u);
  let lo = u32(tab[row]);
  ${s.quantize
    ? `var ss = ${1 << 21}i;
  for (var t = 0u; t < params.taps; t++) { ss += i32(tab[row + 1u + t]) * i32(src[${src}]); }
  var acc = f32(clamp(ss >> ${22}u, 0i, 255i));`
    : `var acc = 0.0;
  for (var t = 0u; t < params.taps; t++) { acc += tab[row + 1u + t] * src[${src}]; }`}
  ${s.normalize ? `let mean = vec4<f32>(params.mean0, params.mean1, params.mean2, params.mean3);
  let istd = vec4<f32>(params.istd0, params.istd1, params.istd2, params.istd3);
  acc = (acc * params.scale - mean[c]) * istd[c];` : ''}
  out[i] = acc;
}`;
  return {
    name: 'resize-axis',
    key,
    wgsl,
    workgroupSize: [WG, 1, 1],
    bindings: [
      { name: 'src', type: 'f32', access: 'read' },
      { name: 'tab', type: 'f32', access: 'read' },
      { name: 'out', type: 'f32', access: 'read_write' },
    ],
    uniforms: [
      ...(s.normalize ? ['scale', 'mean0', 'mean1', 'mean2', 'mean3', 'istd0', 'istd1', 'istd2', 'istd3'].map((name) => ({ name, type: 'f32' as const })) : []),
      ...['inH', 'inW', 'outH', 'outW', 'n', 'taps'].map((name) => ({ name, type: 'u32' as const })),
    ],
    uniformValues: { inH: s.inH, inW: s.inW, outH: s.outH, outW: s.outW, n, taps: s.taps },
    dispatch: Math.ceil(n / WG),
  };
}

export interface Normalisation {
  /** Multiplies the resized value first (1/255 for 8-bit input). */
  scale: number;
  mean: readonly number[];
  std: readonly number[];
}

export function normalisationUniforms(n: Normalisation): Record<string, number> {
  const u: Record<string, number> = { scale: n.scale };
  for (let c = 0; c < 4; c++) {
    u[`mean${c}`] = n.mean[c] ?? 0;
    u[`istd${c}`] = 1 / (n.std[c] ?? 1);
  }
  return u;
}

/** One resize pass along `axis` of x [C, H, W] with a bicubicTable, optionally normalising. */
export function resizeAxis(
  dev: KernelContext,
  x: Tensor,
  table: Tensor,
  o: { axis: 'x' | 'y'; outSize: number; taps: number; quantize: boolean; normalize?: Normalisation; out?: Tensor },
): Tensor {
  const [C, H, W] = x.shape as [number, number, number];
  if (x.shape.length !== 3 || x.dtype !== 'f32') throw new Error(`resize-axis: input must be f32 [C, H, W], got [${x.shape}] ${x.dtype}`);
  const outH = o.axis === 'y' ? o.outSize : H;
  const outW = o.axis === 'x' ? o.outSize : W;
  if (table.numel !== o.outSize * (o.taps + 1)) throw new Error(`resize-axis: table has ${table.numel} values, expected ${o.outSize} x ${o.taps + 1}`);
  const spec: ResizeAxisSpec = { axis: o.axis, channels: C, inH: H, inW: W, outH, outW, taps: o.taps, quantize: o.quantize, normalize: Boolean(o.normalize) };
  const out = o.out ?? dev.empty([C, outH, outW], 'f32', 'resize-out');
  dev.run(resizeAxisProgram(spec), [x, table, out], o.normalize ? normalisationUniforms(o.normalize) : {});
  return out;
}
