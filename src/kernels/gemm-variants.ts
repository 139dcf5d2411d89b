// Which GEMM variant runs on which adapter: the default heuristic (no measurements), the
// candidate list the autotuner times, and the per-device table of tuned winners the launcher
// consults. Shape classes bucket M, N, K to powers of two so one tuning serves many shapes.

import type { AdapterSummary, OptionalFeature } from '../runtime/device.ts';
import type { FloatDType, GemmVariant } from './gemm-common.ts';

/** The parts of an EgoxDevice the choice depends on (an interface, so tests can fake one). */
export interface GemmDeviceInfo {
  adapter: AdapterSummary;
  has(feature: OptionalFeature): boolean;
}

export interface GemmShape {
  M: number;
  N: number;
  K: number;
  wDtype: FloatDType;
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

/** Shrinks a variant's tile for small problems (no point computing 32 rows for M = 4). */
export function fitVariantToShape(v: GemmVariant, s: GemmShape): GemmVariant {
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
  return { kind: 'tiled', tm: 4, tn: 4, bk: 16 };
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
  const seen = new Set<string>();
  return out
    .map((v) => fitVariantToShape(v, s))
    .filter((v) => {
      if ((s.yDtype ?? 'f32') !== 'f32' && (v.kind === 'subgroup' ? v.rn : v.tn) % 2 === 1) return false;
      const k = JSON.stringify(v);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
}

// ---- tuned choices -----------------------------------------------------------------------

const tuned = new WeakMap<object, Map<string, GemmVariant>>();

/**
 * Tuned choices belong to the adapter, not to one device object: graph lowering runs the
 * launchers against a recording stand-in that shares the real device's adapter summary.
 */
function keyOf(dev: object): object {
  return (dev as { adapter?: object }).adapter ?? dev;
}

function tableOf(dev: object): Map<string, GemmVariant> {
  let t = tuned.get(keyOf(dev));
  if (!t) tuned.set(keyOf(dev), (t = new Map()));
  return t;
}

export function recordGemmChoice(dev: object, shapeClass: string, v: GemmVariant): void {
  tableOf(dev).set(shapeClass, v);
}

export function tunedGemmChoice(dev: object, shapeClass: string): GemmVariant | undefined {
  return tuned.get(keyOf(dev))?.get(shapeClass);
}

export function tunedGemmTable(dev: object): ReadonlyMap<string, GemmVariant> {
  return tableOf(dev);
}

/** The tuned winner for the shape's class if there is one, else the default heuristic. */
export function chooseGemmVariant(dev: GemmDeviceInfo, s: GemmShape): GemmVariant {
  const t = tunedGemmChoice(dev, gemmShapeClass(s));
  if (t && (t.kind !== 'subgroup' || t.sg === fixedSubgroupSize(dev))) return fitVariantToShape(t, s);
  return defaultGemmVariant(dev, s);
}
