// The tensor-core kernels (the sgmatrix variants of GEMM, attention and conv) are tested here
// only emulated and through Tint: on a real adapter the builtins' behaviour is the driver's.
// So the defaults use them only after this check: each family's rule variant runs a small
// problem with 16-bit operands next to an f32-accumulating variant, and must agree within the
// 16-bit class (relative L2 <= 3e-3, all finite). The verdict is kept per adapter
// (setSubgroupMatricesTrusted); tuned winners are checked by the autotuners anyway.

import type { EgoxDevice } from '../../runtime/device.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { attention, sgmatrixConfigFor } from '../attention/attention.ts';
import { DEFAULT_WGTILE, conv3d, sgmatrixConvRule, type ConvSgmatrixParams } from '../conv/conv.ts';
import { gemm } from '../gemm/gemm.ts';
import { relativeL2 } from './output-compare.ts';
import type { SgmatrixVariant } from '../gemm/common.ts';
import { sgmatrixGemmRule } from '../gemm/variants.ts';
import { setSubgroupMatricesTrusted, type SgmShape } from '../shared/subgroup-matrix.ts';

export type SgmFamily = 'gemm' | 'attention' | 'conv';

/** The subgroup-matrix variants to check; a missing family has no usable config. */
export interface SgmatrixProbe {
  gemm?: SgmatrixVariant;
  attention?: { shape: SgmShape; emulate?: true; lanes?: number };
  conv?: ConvSgmatrixParams;
}

export interface SgmatrixCheck {
  /** False when the adapter offers no usable config (nothing to check, nothing trusted). */
  ran: boolean;
  passed: boolean;
  /** Relative L2 error per family vs the f32-accumulating variant (Infinity: non-finite output). */
  errors: Partial<Record<SgmFamily, number>>;
  /** Set when a kernel could not run at all (e.g. the driver rejected the shader). */
  failure?: string;
}

export const SGMATRIX_TOLERANCE = 3e-3;

// Odd sizes, so edge tiles are exercised: GEMM 67 x 40 x 96, attention 2 heads of 64 with
// 37 queries over 53 keys, conv 3x3x3 from 8 to 16 channels on 3 x 6 x 7.
const GEMM = { M: 67, N: 40, K: 96 };
const ATTN = { lq: 37, lk: 53, heads: 2, d: 64 };
const CONV = { cin: 8, cout: 16, f: 3, h: 6, w: 7 };

/** What the default rules would pick for 16-bit operands once the adapter is trusted. */
export function ruleProbe(dev: EgoxDevice): SgmatrixProbe {
  const shape = sgmatrixConfigFor(dev, ATTN.d);
  return {
    gemm: sgmatrixGemmRule(dev, { ...GEMM, wDtype: 'bf16' }),
    attention: shape ? { shape } : undefined,
    conv: sgmatrixConvRule(dev, { cin: CONV.cin, cout: CONV.cout, kernel: [3, 3, 3], stride: [1, 1, 1], weight: 'bf16' }),
  };
}

/** Pass/fail of measured errors: every family within the 16-bit tolerance and finite. */
export function judgeSgmatrixErrors(errors: Partial<Record<SgmFamily, number>>): boolean {
  const values = Object.values(errors);
  return values.length > 0 && values.every((e) => Number.isFinite(e) && e <= SGMATRIX_TOLERANCE);
}

/**
 * Runs the check once per adapter (later calls return the first result) and records whether
 * the defaults may use subgroup matrices there. `probe` replaces the rule variants (tests run
 * the emulated forms on adapters without the feature); then nothing is cached or recorded.
 */
export function checkSubgroupMatrices(dev: EgoxDevice, probe?: SgmatrixProbe): Promise<SgmatrixCheck> {
  if (probe) return runProbe(dev, probe);
  if (dev.choices.subgroupMatrices === 'off') return Promise.resolve({ ran: false, passed: false, errors: {} });
  let v = dev.choices.subgroupMatrixCheck as Promise<SgmatrixCheck> | undefined;
  if (!v) {
    v = runProbe(dev, ruleProbe(dev))
      .catch(async (e: unknown): Promise<SgmatrixCheck> => {
        // A kernel that cannot run is a failed check, not a failed command: drain the
        // device's pending errors and carry on without subgroup matrices.
        try {
          await dev.sync();
        } catch {
          // the same failure, reported again
        }
        return { ran: true, passed: false, errors: {}, failure: String((e as Error)?.message ?? e).split('\n')[0] };
      })
      .then((r) => {
        if (r.ran) setSubgroupMatricesTrusted(dev, r.passed);
        return r;
      });
    dev.choices.subgroupMatrixCheck = v;
  }
  return v;
}

async function runProbe(dev: EgoxDevice, probe: SgmatrixProbe): Promise<SgmatrixCheck> {
  const errors: Partial<Record<SgmFamily, number>> = {};
  const rng = lcg(0x5eed);
  const made: Tensor[] = [];
  const upload = async (n: number, shape: number[], dtype: 'f32' | 'bf16') => {
    const t = await dev.upload(Float32Array.from({ length: n }, () => rng()), shape, dtype);
    made.push(t);
    return t;
  };
  const compare = async (got: Tensor, want: Tensor) => {
    made.push(got, want);
    return relativeL2(await dev.read(got), await dev.read(want));
  };
  try {
    if (probe.gemm) {
      const x = await upload(GEMM.M * GEMM.K, [GEMM.M, GEMM.K], 'f32');
      const w = await upload(GEMM.N * GEMM.K, [GEMM.N, GEMM.K], 'bf16');
      errors.gemm = await compare(gemm(dev, x, w, { variant: probe.gemm }), gemm(dev, x, w, { variant: { kind: 'tiled', tm: 4, tn: 4, bk: 16 } }));
    }
    if (probe.attention) {
      const { lq, lk, heads, d } = ATTN;
      const q = await upload(lq * heads * d, [lq, heads * d], 'bf16');
      const k = await upload(lk * heads * d, [lk, heads * d], 'bf16');
      const v = await upload(lk * heads * d, [lk, heads * d], 'bf16');
      const got = attention(dev, q, k, v, { heads, variant: 'sgmatrix', sgmatrix: probe.attention, outDtype: 'f32' });
      errors.attention = await compare(got, attention(dev, q, k, v, { heads, variant: 'flash', outDtype: 'f32' }));
    }
    if (probe.conv) {
      const { cin, cout, f, h, w: wd } = CONV;
      const x = await upload(cin * f * h * wd, [cin, f, h, wd], 'f32');
      const w = await upload(cout * cin * 27, [cout, cin, 3, 3, 3], 'bf16');
      const b = await upload(cout, [cout], 'f32');
      const run = (variant: ConvSgmatrixParams | typeof DEFAULT_WGTILE) => conv3d(dev, x, w, b, { padding: [1, 1, 1], variant });
      errors.conv = await compare(run(probe.conv), run(DEFAULT_WGTILE));
    }
  } finally {
    for (const t of made) t.release();
  }
  const ran = Object.keys(errors).length > 0;
  return { ran, passed: ran && judgeSgmatrixErrors(errors), errors };
}



/** Deterministic values in [-1, 1) (no dependency on the pipeline's generator). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}
