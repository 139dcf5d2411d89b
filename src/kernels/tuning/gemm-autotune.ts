// GEMM autotuner: times the candidate variants for a shape class on this adapter, records
// the fastest in the per-device table the launcher consults, and persists it per adapter
// through a JSON store (Node: src/runtime/tune-cache-node.ts -> ~/.cache/egox/tune-<adapter>.json).
// Browser-safe: no Node APIs here.

import type { AdapterSummary, EgoxDevice } from '../../runtime/device.ts';
import type { GemmVariant } from '../gemm/common.ts';
import { gemm } from '../gemm/gemm.ts';
import { relativeL2 } from './output-compare.ts';
import {
  defaultGemmVariant,
  fixedSubgroupSize,
  gemmCandidates,
  gemmShapeClass,
  isCpuAdapter,
  recordGemmChoice,
  tunedGemmChoice,
  tunedGemmTable,
  tunedVariantRunnable,
  type GemmDeviceInfo,
  type GemmShape,
} from '../gemm/variants.ts';

/** Where tuning results persist (same shape as src/runtime/tune-cache-node.ts's JsonStore). */
export interface TuneStore {
  read(name: string): Promise<unknown | undefined>;
  write(name: string, data: unknown): Promise<void>;
}

export function memoryTuneStore(): TuneStore & { data: Map<string, unknown> } {
  const data = new Map<string, unknown>();
  return {
    data,
    async read(name) {
      return data.has(name) ? structuredClone(data.get(name)) : undefined;
    },
    async write(name, value) {
      data.set(name, structuredClone(value));
    },
  };
}

/** Store entry name for an adapter: "tune-<vendor>-<device>-<description>" (sanitised by the store). */
export function tuneStoreName(a: AdapterSummary): string {
  const id = [a.vendor, a.architecture, a.device, a.description, a.subgroupMinSize ? `sg${a.subgroupMinSize}-${a.subgroupMaxSize}` : '']
    .filter((s) => s)
    .join('-');
  return `tune-${id}`.replace(/[^A-Za-z0-9._-]+/g, '_');
}

const FORMAT = 1;

interface StoredTuning {
  format: number;
  adapter: AdapterSummary;
  gemm: Record<string, { variant: GemmVariant; ms: number; shape: GemmShape; date: string }>;
}

function isStored(v: unknown): v is StoredTuning {
  return typeof v === 'object' && v !== null && (v as StoredTuning).format === FORMAT && typeof (v as StoredTuning).gemm === 'object';
}

/** Loads the adapter's stored winners into the device's table (once per device); returns how many. */
export async function loadGemmTuning(dev: GemmDeviceInfo, store: TuneStore): Promise<number> {
  const stored = await dev.choices.loadOnce('gemm-tuning', () => store.read(tuneStoreName(dev.adapter)).then((v) => (isStored(v) ? v : undefined)));
  if (!stored) return 0;
  let n = 0;
  for (const [cls, e] of Object.entries(stored.gemm)) {
    // Another mode of the driver (subgroup size), or a feature this device was created without.
    if (!tunedVariantRunnable(dev, e.variant)) continue;
    if (!tunedGemmChoice(dev, cls)) recordGemmChoice(dev, cls, e.variant);
    n++;
  }
  return n;
}

export interface TuneOptions {
  /** Persist winners here (and read earlier ones). */
  store?: TuneStore;
  /** Measure even if a winner is known. */
  force?: boolean;
  /** Variants to time (default: gemmCandidates for this adapter and shape). */
  candidates?: GemmVariant[];
  /** Target time per measurement in ms (default 150). */
  targetMs?: number;
  /** Interleaved timing rounds over all candidates (default 5); each keeps its median. */
  rounds?: number;
  log?: (line: string) => void;
}


/**
 * Subgroup-matrix variants round X (and W) to their component type: one may win only if its
 * output agrees with an f32-accumulating variant within the problem's precision class
 * (3e-3 relative L2 when any operand or the output is 16-bit, else 1e-5).
 */
function precisionBound(shape: GemmShape): number {
  return [shape.wDtype, shape.xDtype ?? 'f32', shape.yDtype ?? 'f32'].every((d) => d === 'f32') ? 1e-5 : 3e-3;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export interface TuneResult {
  shapeClass: string;
  winner: GemmVariant;
  /** Per candidate: median-round ms per GEMM (Infinity when it failed), and first-run (compile) ms. */
  timings: { variant: GemmVariant; ms: number; firstMs: number; error?: string }[];
  cached: boolean;
}

/**
 * The fastest GEMM variant for the shape's class on this adapter. Returns a known winner
 * (this device's table, then the store) unless `force`; otherwise times every candidate on
 * random operands of exactly this shape, records the winner and saves it to the store.
 */
export async function tuneGemm(dev: EgoxDevice, shape: GemmShape, opts: TuneOptions = {}): Promise<TuneResult> {
  const cls = gemmShapeClass(shape);
  if (!opts.force) {
    if (opts.store) await loadGemmTuning(dev, opts.store);
    const known = tunedGemmChoice(dev, cls);
    if (known) return { shapeClass: cls, winner: known, timings: [], cached: true };
  }
  let candidates = opts.candidates ?? gemmCandidates(dev, shape);
  // On CPU adapters the workgroup-memory variants are an order of magnitude slower and slow to
  // compile; time one of them, for the record.
  if (!opts.candidates && isCpuAdapter(dev) && fixedSubgroupSize(dev) !== undefined) {
    const tiled = candidates.filter((v) => v.kind === 'tiled');
    candidates = [...candidates.filter((v) => v.kind !== 'tiled'), ...tiled.slice(0, 1)];
  }
  // Per-tile behaviour does not change past a few thousand rows: cap M so tuning a DiT shape
  // (tens of thousands of tokens) does not allocate gigabytes.
  const { N, K } = shape;
  const M = Math.min(shape.M, 4096);
  const rand = (n: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = Math.random() * 2 - 1;
    return a;
  };
  const x = await dev.upload(rand(M * K), [M, K], shape.xDtype ?? 'f32');
  const w = await dev.upload(rand(N * K), [N, K], shape.wDtype);
  const y = dev.empty([M, N], shape.yDtype ?? 'f32');
  const target = opts.targetMs ?? 150;
  const rounds = opts.rounds ?? 5;
  // Compile and calibrate every candidate, then time them in interleaved rounds and keep each
  // one's median round: other processes load the CPU in bursts (lavapipe runs on it);
  // interleaving exposes every candidate to the same conditions, and the median does not
  // reward a candidate for one lucky quiet moment (the best round did).
  const live: { variant: GemmVariant; reps: number; firstMs: number; samples: number[] }[] = [];
  const timings: TuneResult['timings'] = [];
  const fail = (variant: GemmVariant, e: unknown) => {
    const error = String((e as Error).message ?? e);
    timings.push({ variant, ms: Infinity, firstMs: Infinity, error });
    opts.log?.(`  ${JSON.stringify(variant)}: failed: ${error}`);
  };
  try {
    let reference: Float32Array | undefined;
    for (const variant of candidates) {
      try {
        let t0 = performance.now();
        gemm(dev, x, w, { out: y, variant });
        await dev.sync();
        const firstMs = performance.now() - t0;
        if (variant.kind === 'sgmatrix') {
          if (!reference) {
            const dflt = defaultGemmVariant(dev, shape);
            const refVariant: GemmVariant = dflt.kind === 'sgmatrix' ? { kind: 'tiled', tm: 4, tn: 4, bk: 16 } : dflt;
            const yRef = dev.empty([M, N], shape.yDtype ?? 'f32');
            gemm(dev, x, w, { out: yRef, variant: refVariant });
            reference = await dev.read(yRef);
            yRef.release();
          }
          const d = relativeL2(await dev.read(y), reference);
          if (!(d <= precisionBound(shape))) throw new Error(`output differs from the f32-accumulating variant by ${d.toExponential(2)} (relative L2)`);
        }
        t0 = performance.now();
        gemm(dev, x, w, { out: y, variant });
        await dev.sync();
        const once = performance.now() - t0;
        live.push({ variant, firstMs, reps: Math.max(1, Math.min(50, Math.round(target / Math.max(once, 0.01)))), samples: [] });
      } catch (e) {
        fail(variant, e);
      }
    }
    for (let r = 0; r < rounds; r++) {
      for (const c of live) {
        const t0 = performance.now();
        for (let i = 0; i < c.reps; i++) gemm(dev, x, w, { out: y, variant: c.variant });
        await dev.sync();
        c.samples.push((performance.now() - t0) / c.reps);
      }
    }
    for (const c of live) {
      const ms = median(c.samples);
      timings.push({ variant: c.variant, ms, firstMs: c.firstMs });
      opts.log?.(`  ${JSON.stringify(c.variant)}: ${ms.toFixed(2)} ms (${((2 * M * N * K) / ms / 1e6).toFixed(1)} GFLOP/s, first run ${c.firstMs.toFixed(0)} ms)`);
    }
  } finally {
    x.release();
    w.release();
    y.release();
  }
  let best = timings.filter((t) => Number.isFinite(t.ms)).sort((a, b) => a.ms - b.ms)[0];
  if (!best) throw new Error(`tuneGemm: every candidate failed for ${cls}: ${timings.map((t) => t.error).join('; ')}`);
  // Keep the default unless another variant is clearly faster: ties flip with the noise.
  const fallback = JSON.stringify(defaultGemmVariant(dev, shape));
  const dflt = timings.find((t) => JSON.stringify(t.variant) === fallback);
  if (dflt && dflt.ms <= best.ms * 1.05) best = dflt;
  recordGemmChoice(dev, cls, best.variant);
  if (opts.store) await saveGemmTuning(dev, opts.store, { [cls]: { variant: best.variant, ms: best.ms, shape } });
  return { shapeClass: cls, winner: best.variant, timings, cached: false };
}

async function saveGemmTuning(dev: EgoxDevice, store: TuneStore, add: Record<string, { variant: GemmVariant; ms: number; shape: GemmShape }>): Promise<void> {
  const name = tuneStoreName(dev.adapter);
  const prev = await store.read(name);
  const data: StoredTuning = isStored(prev) ? prev : { format: FORMAT, adapter: dev.adapter, gemm: {} };
  const date = new Date().toISOString();
  for (const [cls, e] of Object.entries(add)) data.gemm[cls] = { ...e, date };
  await store.write(name, data);
}

/** The winners known for this device (tuned or loaded), by shape class. */
export function gemmTuningTable(dev: EgoxDevice): ReadonlyMap<string, GemmVariant> {
  return tunedGemmTable(dev);
}
