// A few GEMM, attention and row-norm checks against their float64 references, written once and
// run both under Node (test/kernels/parity.test.ts, Dawn) and inside Chromium's WebGPU
// (test/browser/kernels.test.ts): the same code and the same bounds (REL_L2_BOUND) on a second
// WebGPU implementation. Each uses the launcher's own variant choice for the adapter, plus the
// workgroup-memory (GPU) variant, at odd sizes, with NaN-poisoned outputs.
import { gemm, type GemmEpilogue } from '../../src/kernels/gemm/index.ts';
import { attention } from '../../src/kernels/attention/index.ts';
import { layerNorm, rmsNorm } from '../../src/kernels/norm/index.ts';
import { roundThrough, type FloatDType } from '../../src/runtime/dtype.ts';
import type { EgoxDevice } from '../../src/runtime/device.ts';
import type { Tensor } from '../../src/runtime/tensor.ts';
import { refGemm } from '../ref/gemm.ts';
import { refAttention } from '../ref/attention.ts';
import { refRowNorm } from '../ref/norm.ts';
import { randomF32, relL2, REL_L2_BOUND } from '../helpers/numeric.ts';
import type { Check, KernelCase } from '../helpers/checks.ts';

/** An output tensor filled with NaN bits (0xffff.. is a NaN in f32, f16 and bf16). */
async function poisoned(dev: EgoxDevice, shape: number[], dtype: FloatDType): Promise<Tensor> {
  const t = dev.empty(shape, dtype);
  await dev.write(t, new Uint8Array(t.byteLength).fill(0xff));
  return t;
}

function errorCheck(what: string, got: Float32Array, want: ArrayLike<number>, dtype: FloatDType): Check[] {
  const nonFinite = got.reduce((n, v) => n + (Number.isFinite(v) ? 0 : 1), 0);
  return [
    { what: `${what}: values left non-finite (poisoned output)`, value: nonFinite, equals: 0 },
    { what: `${what}: relative L2 error`, value: relL2(got, want), max: REL_L2_BOUND[dtype] },
  ];
}

async function gemmCheck(dev: EgoxDevice, M: number, N: number, K: number, wDtype: FloatDType, epilogue: GemmEpilogue, tiled: boolean): Promise<Check[]> {
  const xs = randomF32(M * K, 2);
  const ws = randomF32(N * K, 0.5);
  const bias = randomF32(N);
  const out = await poisoned(dev, [M, N], 'f32');
  const variant = tiled ? ({ kind: 'tiled', tm: 2, tn: 2, bk: 8 } as const) : undefined;
  gemm(dev, await dev.upload(xs, [M, K], 'f32'), await dev.upload(ws, [N, K], wDtype), { bias: await dev.upload(bias, [N], 'f32'), epilogue, out, variant });
  const want = refGemm({ M, N, K, x: xs, w: roundThrough(ws, wDtype), bias, epilogue });
  // the weights' dtype sets the bound, as in gemm.test.ts (16-bit weights: 3e-3)
  return errorCheck(`gemm ${M}x${N}x${K} W ${wDtype} ${epilogue}${tiled ? ' tiled' : ''}`, await dev.read(out), want, wDtype);
}

async function attentionCheck(dev: EgoxDevice, D: number, egoBias: boolean): Promise<Check[]> {
  const [LQ, LK, H] = [37, 53, 3];
  const ego = { tokensPerFrame: 14, gridWidth: 7, egoColStart: 4, lambda: 3 };
  const q = randomF32(LQ * H * D, 3); // peaked softmax, not nearly uniform
  const k = randomF32(LK * H * D);
  const v = randomF32(LK * H * D);
  const frames = Math.ceil(LQ / ego.tokensPerFrame);
  const qdir = randomF32(LQ * 3);
  const kdir = randomF32(frames * LK * 3);
  const out = await poisoned(dev, [LQ, H * D], 'f32');
  attention(dev, await dev.upload(q, [LQ, H * D], 'f32'), await dev.upload(k, [LK, H * D], 'f32'), await dev.upload(v, [LK, H * D], 'f32'), {
    heads: H,
    out,
    egoBias: egoBias ? { qdir: await dev.upload(qdir, [LQ, 3], 'f32'), kdir: await dev.upload(kdir, [frames, LK, 3], 'f32'), ...ego } : undefined,
  });
  const want = refAttention(q, k, v, { lq: LQ, lk: LK, heads: H, headDim: D, egoBias: egoBias ? { qdir, kdir, ...ego } : undefined });
  return errorCheck(`attention L ${LQ}x${LK} heads ${H} D ${D}${egoBias ? ' EgoX bias' : ''}`, await dev.read(out), want, 'f32');
}

async function rowNormCheck(dev: EgoxDevice, kind: 'layer' | 'rms', rows: number, C: number, workgroup: boolean): Promise<Check[]> {
  const x = randomF32(rows * C, 2).map((v) => v + (kind === 'layer' ? 3 : 0)); // an offset: mean subtraction matters
  const w = randomF32(C).map((v) => v + 1);
  const b = randomF32(C);
  const mod = randomF32(2 * C, 0.5); // [scale | shift], like the DiT's modulation rows
  const eps = kind === 'layer' ? 1e-5 : 1e-6;
  const out = await poisoned(dev, [rows, C], 'f32');
  const m = await dev.upload(mod, [2 * C], 'f32');
  (kind === 'layer' ? layerNorm : rmsNorm)(dev, await dev.upload(x, [rows, C], 'f32'), {
    eps,
    weight: await dev.upload(w, [C], 'f32'),
    bias: await dev.upload(b, [C], 'f32'),
    modulation: { shift: m, scale: m, shiftOffset: C, scaleOffset: 0 },
    out,
    variant: workgroup ? { reduction: 'workgroup' } : undefined,
  });
  const want = refRowNorm(x, rows, C, { kind, eps, weight: w, bias: b, shift: mod.subarray(C), scale: mod.subarray(0, C) });
  return errorCheck(`${kind}Norm ${rows}x${C}${workgroup ? ' workgroup' : ''}`, await dev.read(out), want, 'f32');
}

export const PARITY_CASES: KernelCase[] = [
  { name: 'gemm: the adapter default, f32 and bf16 weights, odd M N K', run: async (dev) => [...(await gemmCheck(dev, 37, 29, 67, 'f32', 'gelu_tanh', false)), ...(await gemmCheck(dev, 37, 29, 64, 'bf16', 'silu', false))] },
  { name: 'gemm: the workgroup-tiled variant', run: (dev) => gemmCheck(dev, 37, 29, 67, 'f32', 'gelu_erf', true) },
  { name: 'attention: plain and with the EgoX geometry bias', run: async (dev) => [...(await attentionCheck(dev, 64, false)), ...(await attentionCheck(dev, 64, true))] },
  { name: 'layerNorm and rmsNorm with modulation, both reductions', run: async (dev) => [...(await rowNormCheck(dev, 'layer', 13, 67, false)), ...(await rowNormCheck(dev, 'rms', 13, 67, true))] },
];
