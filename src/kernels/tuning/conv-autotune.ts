// Conv autotuner: times the candidate variants of a conv shape class on this adapter, checks
// each one's output against the first candidate's (a variant that miscomputes never wins),
// records the fastest in the per-device table defaultConvVariant consults, and persists it
// per adapter through the same kind of store as the GEMM winners, under its own entry
// ("<tuneStoreName>-conv") so conv and GEMM saves never overwrite each other.
// Browser-safe: no Node APIs here.

import type { AdapterSummary, EgoxDevice } from '../../runtime/device.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { tuneStoreName, type TuneStore } from './gemm-autotune.ts';
import { convGeometry, type ConvShapeSpec } from '../conv/common.ts';
import {
  convCandidates,
  convRun,
  convShapeClass,
  convVariantIs16Bit,
  defaultConvVariant,
  isCpuAdapter,
  recordConvChoice,
  tunedConvTable,
  type ConvDeviceInfo,
  type ConvVariant,
} from '../conv/conv.ts';
import { convSgmatrixRunnable } from '../conv/sgmatrix.ts';
import { relativeL2 } from './output-compare.ts';
import type { FloatDType } from '../../runtime/dtype.ts';

/** The fields that make a conv shape class (sizes are uniforms, so they do not). */
export interface ConvTuneSpec {
  cin: number;
  cout: number;
  kernel: readonly [number, number, number];
  stride: readonly [number, number, number];
  weight: FloatDType;
}

export interface ConvTuneOptions {
  /** Persist winners here (and read earlier ones). */
  store?: TuneStore;
  /** Measure even if a winner is known. */
  force?: boolean;
  /** Variants to time (default: convCandidates, without workgroup tiles on CPU adapters). */
  candidates?: ConvVariant[];
  /** Target time per measurement in ms (default 100). */
  targetMs?: number;
  /** Interleaved timing rounds over all candidates (default 3); each keeps its median. */
  rounds?: number;
  /** Output frames, rows, columns of the representative conv (default 2 x up to 32 x 32, capped by work). */
  outSize?: readonly [number, number, number];
  /**
   * Launches one candidate (default: `launch(variant)`, the real conv into `out`). Tests inject
   * a broken candidate here to check that a wrong output never wins.
   */
  dispatch?: (variant: ConvVariant, launch: (v: ConvVariant) => void, out: Tensor) => void;
  log?: (line: string) => void;
}

export interface ConvTuneResult {
  shapeClass: string;
  winner: ConvVariant;
  /** The variant the rule (defaultConvVariant without a table) picks. */
  ruleVariant: ConvVariant;
  /** Per candidate: median-round ms per conv (Infinity when it failed or was wrong), first-run (compile) ms. */
  timings: { variant: ConvVariant; ms: number; firstMs: number; error?: string }[];
  cached: boolean;
}

const FORMAT = 1;

interface StoredEntry {
  variant: ConvVariant;
  ms: number;
  ruleMs?: number;
  spec: ConvTuneSpec;
  date: string;
}

interface StoredConvTuning {
  format: number;
  adapter: AdapterSummary;
  conv: Record<string, StoredEntry>;
}

/** Store entry name for an adapter's conv winners (beside GEMM's tuneStoreName entry). */
export function convTuneStoreName(a: AdapterSummary): string {
  return `${tuneStoreName(a)}-conv`;
}

function isStored(v: unknown): v is StoredConvTuning {
  return typeof v === 'object' && v !== null && (v as StoredConvTuning).format === FORMAT && typeof (v as StoredConvTuning).conv === 'object';
}

/**
 * A stored variant this device can run: a chanlanes variant is compiled for one subgroup size,
 * a subgroup-matrix one for one config and subgroup size (never the emulation).
 */
function runnableHere(dev: ConvDeviceInfo, v: unknown): v is ConvVariant {
  if (typeof v !== 'object' || v === null) return false;
  const kind = (v as ConvVariant).kind;
  if (kind === 'regtile' || kind === 'wgtile') return true;
  if (kind === 'sgmatrix') {
    const cfg = (v as { cfg?: unknown }).cfg;
    return typeof cfg === 'object' && cfg !== null && convSgmatrixRunnable(dev, v as Extract<ConvVariant, { kind: 'sgmatrix' }>);
  }
  if (kind !== 'chanlanes') return false;
  const sgMin = dev.adapter.subgroupMinSize ?? 0;
  return dev.has('subgroups') && sgMin >= 4 && (v as { sg: number }).sg === Math.min(sgMin, 16);
}

/** Loads the adapter's stored conv winners into the device's table; returns how many. */
export async function loadConvTuning(dev: ConvDeviceInfo, store: TuneStore): Promise<number> {
  const stored = await store.read(convTuneStoreName(dev.adapter));
  if (!isStored(stored)) return 0;
  const table = tunedConvTable(dev);
  let n = 0;
  for (const [cls, e] of Object.entries(stored.conv)) {
    if (!runnableHere(dev, e?.variant)) continue; // another driver mode, or a malformed entry
    if (!table.has(cls)) recordConvChoice(dev, cls, e.variant); // winners tuned in this process stay
    n++;
  }
  return n;
}

async function saveConvTuning(dev: EgoxDevice, store: TuneStore, cls: string, entry: Omit<StoredEntry, 'date'>): Promise<void> {
  const name = convTuneStoreName(dev.adapter);
  const prev = await store.read(name);
  const data: StoredConvTuning = isStored(prev) ? prev : { format: FORMAT, adapter: dev.adapter, conv: {} };
  data.conv[cls] = { ...entry, date: new Date().toISOString() };
  await store.write(name, data);
}

/** The winners known for this device (tuned or loaded), by shape class. */
export function convTuningTable(dev: ConvDeviceInfo): ReadonlyMap<string, ConvVariant> {
  return tunedConvTable(dev);
}

/**
 * A representative conv of the class: VAE-like padding (causal in time; symmetric in space,
 * or right/bottom only when strided like the downsampler), 2 output frames and the largest
 * of 32/16/8 output rows and columns whose work stays under ~1.5 GFLOP (a few tenths of a
 * second per run on lavapipe), so tuning the 384-channel classes stays short.
 */
export function representativeConv(spec: ConvTuneSpec, outSize?: readonly [number, number, number]): ConvShapeSpec {
  const [kt, kh, kw] = spec.kernel;
  const [st, sh, sw] = spec.stride;
  const perVoxel = 2 * spec.cout * spec.cin * kt * kh * kw;
  const side = outSize ? undefined : ([32, 16, 8].find((s) => 2 * s * s * perVoxel <= 1.5e9) ?? 8);
  const [of, oh, ow] = outSize ?? [2, side!, side!];
  const front = st > 1 ? 0 : kt - 1;
  const padH = sh > 1 ? { top: 0, bottom: kh - 1 - Math.floor((kh - 1) / 2) } : { top: Math.floor((kh - 1) / 2), bottom: Math.floor((kh - 1) / 2) };
  const padW = sw > 1 ? { left: 0, right: kw - 1 - Math.floor((kw - 1) / 2) } : { left: Math.floor((kw - 1) / 2), right: Math.floor((kw - 1) / 2) };
  // Input extents that give exactly the requested output.
  const inF = (of - 1) * st + kt - front;
  const inH = (oh - 1) * sh + kh - padH.top - padH.bottom;
  const inW = (ow - 1) * sw + kw - padW.left - padW.right;
  return {
    cin: spec.cin,
    cout: spec.cout,
    inF,
    inH,
    inW,
    kernel: spec.kernel,
    stride: spec.stride,
    pad: { front, ...padH, ...padW },
    cacheFrames: 0,
    cacheTotalFrames: 0,
    weight: spec.weight,
    bias: true,
    residual: false,
  };
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function random(n: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (Math.random() * 2 - 1) * scale;
  return a;
}

/** Every f32-class variant accumulates in f32 in its own order: agreement is far tighter than this. */
const MAX_REL_ERR = 1e-3;
/**
 * A 16-bit-class variant (f16 operands; X rounded to f16, ~3e-4 relative on these inputs)
 * against an f32-class reference, or the reverse: the class's bound.
 */
const MAX_REL_ERR_16BIT = 3e-3;

/**
 * The fastest conv variant for the spec's shape class on this adapter. Returns a known
 * winner (this device's table, then the store) unless `force`; otherwise runs every
 * candidate once on a representative input (output poisoned with NaN first) and rejects those
 * whose output differs from the first working candidate's, times the rest in interleaved
 * rounds, records the winner and saves it. The rule's choice is kept unless another variant
 * is more than 5% faster (smaller differences flip with the load).
 */
export async function tuneConv(dev: EgoxDevice, spec: ConvTuneSpec, opts: ConvTuneOptions = {}): Promise<ConvTuneResult> {
  const cls = convShapeClass(spec)!;
  const ruleVariant = defaultConvVariant(dev, { cout: spec.cout, kernel: spec.kernel, stride: spec.stride, weight: spec.weight });
  if (!opts.force) {
    if (opts.store) await loadConvTuning(dev, opts.store);
    const known = tunedConvTable(dev).get(cls);
    if (known) return { shapeClass: cls, winner: known, ruleVariant, timings: [], cached: true };
  }
  let candidates = opts.candidates ?? convCandidates(dev, spec);
  // Workgroup-memory tiles are several times slower on CPU adapters (workgroup memory is no
  // faster than storage there) and would dominate the tuning time.
  if (!opts.candidates && isCpuAdapter(dev)) candidates = candidates.filter((v) => v.kind !== 'wgtile' || v === ruleVariant);
  // The reference output comes from an f32-class variant where there is one (16-bit ones run
  // after them), so f32-class candidates are still held to the tight bound among themselves.
  candidates = [...candidates.filter((v) => !convVariantIs16Bit(v)), ...candidates.filter((v) => convVariantIs16Bit(v))];

  const shape = representativeConv(spec, opts.outSize);
  const g = convGeometry(shape);
  const x = await dev.upload(random(shape.cin * shape.inF * shape.inH * shape.inW, 1), [shape.cin, shape.inF, shape.inH, shape.inW], 'f32');
  const w = await dev.upload(random(shape.cout * g.k, 1 / Math.sqrt(g.k)), [shape.cout, shape.cin, ...shape.kernel], spec.weight);
  const b = await dev.upload(random(shape.cout, 0.1), [shape.cout], 'f32');
  const outShape = [shape.cout, g.outF, g.outH, g.outW];
  const y = dev.empty(outShape, 'f32', 'conv-tune-out');
  const nan = new Uint8Array(new Float32Array(y.numel).fill(NaN).buffer);
  const launch = (variant: ConvVariant) => void convRun(dev, shape, x, w, b, null, { out: y, variant });
  const dispatch = (variant: ConvVariant) => (opts.dispatch ? opts.dispatch(variant, launch, y) : launch(variant));
  const target = opts.targetMs ?? 100;
  const rounds = opts.rounds ?? 3;
  const live: { variant: ConvVariant; reps: number; firstMs: number; samples: number[] }[] = [];
  const timings: ConvTuneResult['timings'] = [];
  const reject = (variant: ConvVariant, error: string, firstMs = Infinity) => {
    timings.push({ variant, ms: Infinity, firstMs, error });
    opts.log?.(`  ${JSON.stringify(variant)}: rejected: ${error}`);
  };
  let reference: Float32Array | undefined;
  let reference16 = false;
  try {
    for (const variant of candidates) {
      try {
        await dev.write(y, nan);
        let t0 = performance.now();
        dispatch(variant);
        await dev.sync();
        const firstMs = performance.now() - t0;
        const out = await dev.read(y);
        if (!reference) {
          if (out.some((v) => !Number.isFinite(v))) {
            reject(variant, 'non-finite output', firstMs);
            continue;
          }
          reference = out;
          reference16 = convVariantIs16Bit(variant);
        } else {
          const err = relativeL2(out, reference);
          const bound = reference16 || convVariantIs16Bit(variant) ? MAX_REL_ERR_16BIT : MAX_REL_ERR;
          if (!(err <= bound)) {
            reject(variant, `output differs from the first candidate's (rel L2 ${err.toExponential(2)})`, firstMs);
            continue;
          }
        }
        t0 = performance.now();
        dispatch(variant);
        await dev.sync();
        const once = performance.now() - t0;
        live.push({ variant, firstMs, reps: Math.max(1, Math.min(20, Math.round(target / Math.max(once, 0.01)))), samples: [] });
      } catch (e) {
        reject(variant, `failed: ${String((e as Error).message ?? e)}`);
      }
    }
    // Interleaved rounds, median per candidate: lavapipe shares the CPU with everything else,
    // and bursts of load then hit every candidate alike.
    for (let r = 0; r < rounds; r++) {
      for (const c of live) {
        const t0 = performance.now();
        for (let i = 0; i < c.reps; i++) dispatch(c.variant);
        await dev.sync();
        c.samples.push((performance.now() - t0) / c.reps);
      }
    }
    for (const c of live) {
      const ms = median(c.samples);
      timings.push({ variant: c.variant, ms, firstMs: c.firstMs });
      opts.log?.(`  ${JSON.stringify(c.variant)}: ${ms.toFixed(2)} ms (${(g.flops / ms / 1e6).toFixed(1)} GFLOP/s, first run ${c.firstMs.toFixed(0)} ms)`);
    }
  } finally {
    for (const t of [x, w, b, y] as Tensor[]) t.release();
  }
  const ok = timings.filter((t) => Number.isFinite(t.ms)).sort((a, b) => a.ms - b.ms);
  let best = ok[0];
  if (!best) throw new Error(`tuneConv: no candidate ran correctly for ${cls}: ${timings.map((t) => t.error).join('; ')}`);
  const rule = ok.find((t) => JSON.stringify(t.variant) === JSON.stringify(ruleVariant));
  if (rule && rule.ms <= best.ms * 1.05) best = rule;
  recordConvChoice(dev, cls, best.variant);
  if (opts.store) await saveConvTuning(dev, opts.store, cls, { variant: best.variant, ms: best.ms, ruleMs: rule?.ms, spec: { ...spec } });
  return { shapeClass: cls, winner: best.variant, ruleVariant, timings, cached: false };
}
