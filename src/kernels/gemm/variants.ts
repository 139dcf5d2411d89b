// Which GEMM variant runs on which adapter: the default heuristic (no measurements), the
// candidate list the autotuner times, and the per-device table of tuned winners the launcher
// consults. Shape classes bucket M, N, K to powers of two so one tuning serves many shapes.

import type { KernelDeviceInfo } from '../../runtime/kernel-context.ts';
import type { GemmVariant, SgmatrixVariant } from './common.ts';
import { sgmatrixWorkgroupBytes } from './sgmatrix.ts';
import { PORTABLE_WORKGROUP_BYTES, deviceSgmShapes, sgmTilingRunnable, subgroupMatricesTrusted, type SgmShape } from '../shared/subgroup-matrix.ts';
import type { FloatDType, WeightDType } from '../../runtime/dtype.ts';

/** The parts of a kernel context the choice depends on (tests fake it with plain objects). */
export type GemmDeviceInfo = KernelDeviceInfo;

export interface GemmShape {
  M: number;
  N: number;
  K: number;
  wDtype: WeightDType;
  xDtype?: FloatDType;
  yDtype?: FloatDType;
}

function bucket(v: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, v)));
}

/** Shape class: dtypes and M/N/K rounded up to powers of two. */
export function gemmShapeClass(s: GemmShape): string {
  return `${s.xDtype ?? 'f32'}.${s.wDtype}->${s.yDtype ?? 'f32'}:m${bucket(s.M)}n${bucket(s.N)}k${bucket(s.K)}`;
}

/** The subgroup size when it is fixed on this adapter and the subgroup variant can run. */
export function fixedSubgroupSize(dev: GemmDeviceInfo): number | undefined {
  const { subgroupMinSize: lo, subgroupMaxSize: hi } = dev.adapter;
  if (!dev.has('subgroups') || !lo || lo !== hi) return undefined;
  return lo;
}

/** Software rasterisers that run shader lanes in CPU SIMD registers. */
export function isCpuAdapter(dev: GemmDeviceInfo): boolean {
  const a = dev.adapter;
  return a.isFallbackAdapter || a.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(`${a.device} ${a.description}`);
}

function roundUp(v: number, m: number): number {
  return Math.ceil(v / m) * m;
}

// ---- subgroup matrices -------------------------------------------------------------------

/**
 * The config for this shape, if subgroup matrices may serve it: GPUs only (never lavapipe),
 * and f16 components only where the weights are 16-bit anyway (X is rounded to f16 too, so
 * an f32 problem would lose its precision class); f32 problems may use f32-component configs.
 */
function sgmConfigFor(dev: GemmDeviceInfo, s: GemmShape): SgmShape | undefined {
  if (isCpuAdapter(dev)) return undefined;
  const shapes = deviceSgmShapes(dev);
  return s.wDtype === 'f32' ? shapes.find((c) => c.component === 'f32' && c.result === 'f32') : shapes[0];
}

/**
 * A 2 x 2 grid of subgroups over a tile of about (64 * mScale) x (64 * nScale), slices of
 * 32 (16 for f32 components), shallower when the workgroup memory would pass 16 KiB.
 */
function sgmatrixVariant(cfg: SgmShape, sg: number, mScale: number, nScale: number): SgmatrixVariant | undefined {
  const sm = Math.max(1, Math.round((32 * mScale) / cfg.M));
  const sn = Math.max(1, Math.round((32 * nScale) / cfg.N));
  for (const depth of cfg.component === 'f16' ? [32, 16] : [16, 8]) {
    const bk = Math.max(cfg.K, Math.floor(depth / cfg.K) * cfg.K);
    const v: SgmatrixVariant = { kind: 'sgmatrix', cfg, sg, gm: 2, gn: 2, sm, sn, bk };
    if (bk % 4 === 0 && sgmatrixWorkgroupBytes(v) <= PORTABLE_WORKGROUP_BYTES) return v;
  }
  return undefined;
}

/** Halves the subgroup tile, then the subgroup grid, while the tile is twice the problem. */
function fitSgmatrix(v: SgmatrixVariant, s: GemmShape): SgmatrixVariant {
  let { gm, gn, sm, sn } = v;
  const needM = roundUp(s.M, v.cfg.M);
  const needN = roundUp(s.N, v.cfg.N);
  while (gm * sm * v.cfg.M >= 2 * needM && gm * sm > 1) {
    if (sm > 1) sm = Math.ceil(sm / 2);
    else gm = Math.ceil(gm / 2);
  }
  while (gn * sn * v.cfg.N >= 2 * needN && gn * sn > 1) {
    if (sn > 1) sn = Math.ceil(sn / 2);
    else gn = Math.ceil(gn / 2);
  }
  return { ...v, gm, gn, sm, sn };
}

/** Shrinks a variant's tile for small problems (no point computing 32 rows for M = 4). */
export function fitVariantToShape(v: GemmVariant, s: GemmShape): GemmVariant {
  if (v.kind === 'sgmatrix') return fitSgmatrix(v, s);
  if (v.kind === 'subgroup') {
    const tm = Math.min(v.tm, roundUp(s.M, v.sg));
    let rn = Math.min(v.rn, Math.ceil(s.N / v.sg));
    if ((s.yDtype ?? 'f32') !== 'f32' && rn % 2 === 1) rn = Math.min(v.rn, rn + 1);
    return { ...v, tm, rn: Math.max(1, rn) };
  }
  return v;
}

/** The variant to use when nothing was measured on this adapter. */
export function defaultGemmVariant(dev: GemmDeviceInfo, s: GemmShape): GemmVariant {
  const sg = fixedSubgroupSize(dev);
  if (sg !== undefined && isCpuAdapter(dev)) {
    // Measured on lavapipe at 1024^3: 8 lanes (256-bit): 128 named accumulators per lane
    // (a 32 x 32 tile) beat 64 by ~1.3x; 16 lanes (LP_NATIVE_VECTOR_WIDTH=512): 64 accumulators
    // (32 x 32) beat 128 by ~1.5x.
    const v: GemmVariant = sg <= 8 ? { kind: 'subgroup', sg, tm: 4 * sg, rn: 4 } : { kind: 'subgroup', sg, tm: 2 * sg, rn: 2 };
    return fitVariantToShape(v, s);
  }
  const sgm = subgroupMatricesTrusted(dev) ? sgmatrixGemmRule(dev, s) : undefined;
  return sgm ?? { kind: 'tiled', tm: 4, tn: 4, bk: 16 };
}

/** The subgroup-matrix variant the default would use for this shape once the adapter is trusted. */
export function sgmatrixGemmRule(dev: GemmDeviceInfo, s: GemmShape): SgmatrixVariant | undefined {
  const cfg = sgmConfigFor(dev, s);
  const v = cfg && sgmatrixVariant(cfg, dev.adapter.subgroupMaxSize!, 1, 1);
  return v && fitSgmatrix(v, s);
}

/** Variants worth timing on this adapter for this shape. */
export function gemmCandidates(dev: GemmDeviceInfo, s: GemmShape): GemmVariant[] {
  const out: GemmVariant[] = [];
  const sg = fixedSubgroupSize(dev);
  if (sg !== undefined) {
    for (const rows of [1, 2, 4]) {
      for (const rn of [1, 2, 4]) {
        const accs = rows * sg * rn;
        if (accs < 16 || accs > 128) continue;
        out.push({ kind: 'subgroup', sg, tm: rows * sg, rn });
      }
    }
  }
  out.push({ kind: 'tiled', tm: 4, tn: 4, bk: 16 }, { kind: 'tiled', tm: 2, tn: 2, bk: 16 }, { kind: 'tiled', tm: 4, tn: 4, bk: 32 });
  const cfg = sgmConfigFor(dev, s);
  if (cfg) {
    for (const [mScale, nScale] of [[1, 1], [2, 1], [1, 2], [0.5, 1]]) {
      const v = sgmatrixVariant(cfg, dev.adapter.subgroupMaxSize!, mScale!, nScale!);
      if (v) out.push(v);
    }
  }
  const seen = new Set<string>();
  return out
    .map((v) => fitVariantToShape(v, s))
    .filter((v) => {
      if ((s.yDtype ?? 'f32') !== 'f32' && (v.kind === 'subgroup' ? v.rn : v.kind === 'tiled' ? v.tn : v.cfg.N) % 2 === 1) return false;
      const k = JSON.stringify(v);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
}

// ---- tuned choices -----------------------------------------------------------------------

/**
 * Tuned winners live in the device's choices, which the recording contexts that lower graphs
 * for that device share.
 */
function tableOf(dev: Pick<KernelDeviceInfo, 'choices'>): Map<string, GemmVariant> {
  return dev.choices.tunedTable<GemmVariant>('gemm');
}

export function recordGemmChoice(dev: Pick<KernelDeviceInfo, 'choices'>, shapeClass: string, v: GemmVariant): void {
  tableOf(dev).set(shapeClass, v);
}

export function tunedGemmChoice(dev: Pick<KernelDeviceInfo, 'choices'>, shapeClass: string): GemmVariant | undefined {
  return tableOf(dev).get(shapeClass);
}

export function tunedGemmTable(dev: Pick<KernelDeviceInfo, 'choices'>): ReadonlyMap<string, GemmVariant> {
  return tableOf(dev);
}

/** Whether a tuned (possibly stored) winner can run on this device as it is now. */
export function tunedVariantRunnable(dev: GemmDeviceInfo, v: GemmVariant): boolean {
  if (v.kind === 'subgroup') return v.sg === fixedSubgroupSize(dev);
  if (v.kind === 'sgmatrix') return sgmTilingRunnable(dev, v);
  return true;
}

/** The tuned winner for the shape's class if there is one, else the default heuristic. */
export function chooseGemmVariant(dev: GemmDeviceInfo, s: GemmShape): GemmVariant {
  const t = tunedGemmChoice(dev, gemmShapeClass(s));
  if (t && tunedVariantRunnable(dev, t)) return fitVariantToShape(t, s);
  return defaultGemmVariant(dev, s);
}
