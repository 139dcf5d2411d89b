// Activations: WGSL snippets shared with the fused epilogues of other families (GEMM, norms),
// and a standalone elementwise kernel y = act(x) [* gate] over f32, f16 or bf16 storage.
//
// Formulas (f32, overflow-safe: no tanh, whose sinh/cosh form gives NaN for large inputs on
// some backends):
//   SiLU(x)      = x / (1 + exp(-x))
//   GELU-tanh(x) = 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
//   GELU-erf(x)  = 0.5 x (1 + erf(x / sqrt(2)))   (PyTorch's exact GELU)
// erf is our own fit (|error| < 1e-7 over all f32 inputs, measured in test/kernels/elementwise/activation.test.ts):
//   |x| < 1:      erf(x) = x + x * P(x^2), P of degree 7 (the x + x*P form keeps the rounding
//                 of the small correction term away from the leading x);
//   1 <= |x| < 4: erf(x) = sign(x) (1 - exp(-x^2) R(|x|)), R(a) = erfc(a) exp(a^2) smooth and
//                 slowly varying, fitted by a degree-10 polynomial in a - 1.5 on [1, 2) and a
//                 degree-12 polynomial in a - 3 on [2, 4);
//   |x| >= 4:     erf(x) = sign(x) (erfc(4) = 1.5e-8 is below half an f32 ulp of 1).
// The coefficients are weighted least-squares fits on 300 Chebyshev nodes against mpmath's
// erf/erfc (relative fit error < 1e-9), rounded to f32.

import type { DType } from '../../runtime/dtype.ts';
import type { KernelProgram } from '../../runtime/program.ts';
import type { KernelContext } from '../../runtime/kernel-context.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { WGSL_HALF_BITS } from '../shared/wgsl-half.ts';
import { bindingAlign, bindingLimit, elemBytes, rowsPerWindow, wholeBindingBytes, windowOf } from '../shared/binding-window.ts';
import { asFloat, unitBindingType, unitLoadFn, unitStoreFn, unitType, type UnitWidth } from '../norm/reduce.ts';

/** `fn egoxSilu(x: f32) -> f32`. */
export const WGSL_SILU = /* wgsl */ `
fn egoxSilu(x: f32) -> f32 { return x / (1.0 + exp(-x)); }
`;

/** `fn egoxGeluTanh(x: f32) -> f32` (PyTorch gelu(approximate='tanh')). */
export const WGSL_GELU_TANH = /* wgsl */ `
fn egoxGeluTanh(x: f32) -> f32 {
  let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  return x / (1.0 + exp(-2.0 * u));
}
`;

const ERF_SMALL = [
  -9.408709047420416e-6, 0.00011168923083459958, -0.0008469496970064938, 0.0052199154160916805, -0.026864971965551376, 0.11283773183822632,
  -0.37612637877464294, 0.12837916612625122,
];
const ERFC_R_1_2 = [
  0, 0, 2.742289871093817e-5, -7.701657159486786e-5, 0.00022110345889814198, -0.0006610086420550942, 0.0018865516176447272, -0.005146035458892584,
  0.01337730884552002, -0.032930903136730194, 0.076151043176651, -0.1636229157447815, 0.32158541679382324,
];
const ERFC_R_2_4 = [
  3.4278293981060415e-8, -5.018726056960077e-8, 2.669106606845162e-7, -1.2694670203927672e-6, 5.144596798345447e-6, -2.0969835532014258e-5,
  8.356230682693422e-5, -0.0003241281374357641, 0.0012230370193719864, -0.004479431081563234, 0.01588437147438526, -0.054372258484363556,
  0.17900115251541138,
];

function lit(v: number): string {
  const s = String(v);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/** `fn egoxErf(x: f32) -> f32`, |error| < 1e-7 (see the header). */
export const WGSL_ERF = /* wgsl */ `
fn egoxErf(x: f32) -> f32 {
  let a = abs(x);
  let z = x * x;
  var p = ${lit(ERF_SMALL[0]!)};
${ERF_SMALL.slice(1).map((c) => `  p = p * z + ${lit(c)};`).join('\n')}
  let small = x + x * p;
  let far = a >= 2.0;
  let s = a - select(1.5, 3.0, far);
  var r = select(${lit(ERFC_R_1_2[0]!)}, ${lit(ERFC_R_2_4[0]!)}, far);
${ERFC_R_1_2.slice(1).map((c, i) => `  r = r * s + select(${lit(c)}, ${lit(ERFC_R_2_4[i + 1]!)}, far);`).join('\n')}
  let big = select(1.0 - exp(-z) * r, 1.0, a >= 4.0);
  return select(select(big, -big, x < 0.0), small, a < 1.0);
}
`;

/** `fn egoxGeluErf(x: f32) -> f32` (PyTorch's exact gelu); includes WGSL_ERF. */
export const WGSL_GELU_ERF = /* wgsl */ `${WGSL_ERF}
fn egoxGeluErf(x: f32) -> f32 { return 0.5 * x * (1.0 + egoxErf(x * 0.7071067811865476)); }
`;

const WGSL_RELU = /* wgsl */ `
fn egoxRelu(x: f32) -> f32 { return max(x, 0.0); }
`;

export type ActivationKind = 'silu' | 'gelu_tanh' | 'gelu_erf' | 'erf' | 'relu';

const SNIPPETS: Record<ActivationKind, { wgsl: string; fn: string }> = {
  silu: { wgsl: WGSL_SILU, fn: 'egoxSilu' },
  gelu_tanh: { wgsl: WGSL_GELU_TANH, fn: 'egoxGeluTanh' },
  gelu_erf: { wgsl: WGSL_GELU_ERF, fn: 'egoxGeluErf' },
  erf: { wgsl: WGSL_ERF, fn: 'egoxErf' },
  relu: { wgsl: WGSL_RELU, fn: 'egoxRelu' },
};

/** WGSL helper functions an activation needs (paste once per shader). */
export function activationWgsl(kind: ActivationKind): string {
  return SNIPPETS[kind].wgsl;
}

/** WGSL expression applying `kind` to `x`, an f32 or vecN<f32> of width V. */
export function activationExpr(kind: ActivationKind, x: string, V: UnitWidth = 1): string {
  const fn = SNIPPETS[kind].fn;
  if (V === 1) return `${fn}(${x})`;
  const comps = ['x', 'y', 'z', 'w'].slice(0, V).map((c) => `${fn}((${x}).${c})`);
  return `vec${V}<f32>(${comps.join(', ')})`;
}

// ---- standalone kernel ------------------------------------------------------------------------

export interface ActivationSpec {
  kind: ActivationKind;
  dtype: DType;
  numel: number;
  /** Multiply by a second tensor of the same shape and dtype (gated FFNs: act(a) * b). */
  gated?: boolean;
  /** A block of a split over the binding limit: x, gate and out are windows starting at unit offsets xOff, gOff, yOff. */
  windowed?: boolean;
}

const WG = 256;

/**
 * One thread per unit: 4 elements (vec4 f32, or two packed words) when numel % 4 == 0, else
 * one f32 element or one packed 16-bit word (an odd 16-bit tensor's last word carries a pad
 * half, which is computed and stored too: it belongs to no element).
 */
export function activationProgram(spec: ActivationSpec): KernelProgram {
  const dtype = asFloat(spec.dtype, spec.kind);
  const V: UnitWidth = spec.numel % 4 === 0 ? 4 : dtype === 'f32' ? 1 : 2;
  const units = Math.ceil(spec.numel / V);
  const vt = unitType(V);
  const y = spec.gated ? `${activationExpr(spec.kind, 'x', V)} * ldg(i)` : activationExpr(spec.kind, 'x', V);
  const w = spec.windowed;
  return {
    name: spec.kind,
    // The unit width V is all the key needs of numel: the count is a uniform.
    key: `act:${spec.kind}:${dtype}:v${V}${spec.gated ? ':gated' : ''}${w ? ':win' : ''}`,
    uniforms: [...(w ? [{ name: 'xOff', type: 'u32' as const }, { name: 'gOff', type: 'u32' as const }, { name: 'yOff', type: 'u32' as const }] : []), { name: 'units', type: 'u32' }],
    uniformValues: { units },
    workgroupSize: [WG, 1, 1],
    bindings: [
      { name: 'xs', type: unitBindingType(dtype, V), access: 'read' },
      ...(spec.gated ? [{ name: 'gs', type: unitBindingType(dtype, V), access: 'read' as const }] : []),
      { name: 'out', type: unitBindingType(dtype, V), access: 'read_write' },
    ],
    dispatch: Math.ceil(units / WG),
    wgsl: `${dtype === 'f32' ? '' : WGSL_HALF_BITS}
${activationWgsl(spec.kind)}
${unitLoadFn('ldx', 'xs', dtype, V, w ? 'params.xOff' : undefined)}
${spec.gated ? unitLoadFn('ldg', 'gs', dtype, V, w ? 'params.gOff' : undefined) : ''}
${unitStoreFn(w ? 'stoutAt' : 'stout', 'out', dtype, V)}${w ? `\nfn stout(i: u32, v: ${vt}) { stoutAt(i + params.yOff, v); }` : ''}
@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = egoxWorkgroupIndex(wid, nwg) * ${WG}u + lid;
  if (i >= params.units) { return; }
  let x: ${vt} = ldx(i);
  stout(i, ${y});
}`,
  };
}

export interface ActivationOptions {
  /** y = act(x) * gate (same shape and dtype as x). */
  gate?: Tensor;
  /** Output tensor (not x itself: a dispatch cannot read and write one buffer). */
  out?: Tensor;
  /** Binding size limit to split against (tests); default dev.limits.maxStorageBufferBindingSize. */
  maxBindingBytes?: number;
}

/** y = act(x) [* gate], elementwise, in x's dtype. */
export function activation(dev: KernelContext, x: Tensor, kind: ActivationKind, opts: ActivationOptions = {}): Tensor {
  const g = opts.gate;
  if (g && (g.numel !== x.numel || g.dtype !== x.dtype)) {
    throw new Error(`${kind}: gate ${g.dtype} [${g.shape.join(', ')}] must match x ${x.dtype} [${x.shape.join(', ')}]`);
  }
  const y = opts.out ?? dev.empty(x.shape, x.dtype);
  if (y.numel !== x.numel || y.dtype !== x.dtype) throw new Error(`${kind}: output ${y.dtype} [${y.shape.join(', ')}] must match x ${x.dtype} [${x.shape.join(', ')}]`);
  const spec: ActivationSpec = { kind, dtype: x.dtype, numel: x.numel, gated: Boolean(g) };
  const limit = bindingLimit(dev, opts.maxBindingBytes);
  if (wholeBindingBytes(x) <= limit) {
    dev.run(activationProgram(spec), g ? [x, g, y] : [x, y]);
    return y;
  }
  // Blocks of whole vec4 units (64 elements apart), each computed as unsplit.
  const align = bindingAlign(dev);
  const block = rowsPerWindow(limit, elemBytes(x), align, 64, kind);
  for (let e0 = 0; e0 < x.numel; e0 += block) {
    const e1 = Math.min(x.numel, e0 + block);
    const n = e1 - e0;
    const V = n % 4 === 0 ? 4 : x.dtype === 'f32' ? 1 : 2;
    const xw = windowOf(x, e0, e1, align, V);
    const yw = windowOf(y, e0, e1, align, V);
    const gw = g ? windowOf(g, e0, e1, align, V) : undefined;
    dev.run(activationProgram({ ...spec, numel: n, windowed: true }), gw ? [xw.view, gw.view, yw.view] : [xw.view, yw.view], { xOff: xw.off, gOff: gw?.off ?? 0, yOff: yw.off });
  }
  return y;
}

export const silu = (dev: KernelContext, x: Tensor, opts?: ActivationOptions): Tensor => activation(dev, x, 'silu', opts);
export const geluTanh = (dev: KernelContext, x: Tensor, opts?: ActivationOptions): Tensor => activation(dev, x, 'gelu_tanh', opts);
export const geluErf = (dev: KernelContext, x: Tensor, opts?: ActivationOptions): Tensor => activation(dev, x, 'gelu_erf', opts);
