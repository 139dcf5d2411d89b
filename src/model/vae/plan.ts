// Dry-run memory plan of the VAE (no device): the executor's planner run on the chunk graphs
// the real encode and decode would build. Only one executor lives at a time (the first-chunk
// graph, then the later-chunk graph, caches handed over through the host), so a pass's peak
// is the larger of its two graphs' peaks, whatever the clip length.

import { planExecution, type ExecutionPlan, type PlanOptions } from '../../graph/plan.ts';
import type { Graph } from '../../graph/ir.ts';
import { valueBytes } from '../../graph/ir.ts';

import { spatialFactor, temporalFactor, WAN21_VAE, type VaeConfig } from './config.ts';
import { buildDecoderChunk, buildEncoderChunk, stateNames } from './graphs.ts';
import { tileStarts, type TileOptions } from './tiling.ts';
import type { FloatDType } from '../../runtime/dtype.ts';

export interface VaePlanRequest {
  width: number;
  height: number;
  /** Video frames (1 + 4k). */
  frames: number;
  dtypes?: { weights?: FloatDType };
  config?: VaeConfig;
  tile?: TileOptions;
  plan?: PlanOptions;
}

export interface GraphPlanSummary {
  peakBytes: number;
  weightBytes: number;
  activationBytes: number;
  /** Frame caches carried between chunks. */
  cacheBytes: number;
  flops: number;
  dispatches: number;
}

export interface VaePassPlan {
  /** Largest GPU footprint during the pass. */
  peakBytes: number;
  first: GraphPlanSummary;
  next: GraphPlanSummary;
  /** Chunk runs (per tile) and tiles. */
  chunks: number;
  tiles: number;
  /** FLOPs of the whole pass (all chunks, all tiles). */
  flops: number;
  /** Host bytes that hold the caches while the first-chunk graph hands over to the next. */
  handoverHostBytes: number;
  /** Spatial size one run processes (the tile, or the whole frame). */
  runHeight: number;
  runWidth: number;
}

export interface VaePlan {
  encode: VaePassPlan;
  decode: VaePassPlan;
  peakBytes: number;
}

function summarize(graph: Graph, plan: ExecutionPlan): GraphPlanSummary {
  const cacheBytes = stateNames(graph).reduce((s, n) => s + valueBytes(graph.outputs.get(n)!), 0);
  return {
    peakBytes: plan.totals.peakBytes,
    weightBytes: plan.totals.residentWeightBytes,
    activationBytes: plan.totals.activationBytes,
    cacheBytes,
    flops: plan.totals.flops,
    dispatches: plan.totals.dispatches,
  };
}

function runSize(total: number, tile: TileOptions | undefined): { size: number; count: number } {
  if (!tile || total <= tile.size) return { size: total, count: 1 };
  return { size: tile.size, count: tileStarts(total, tile.size, tile.overlap).length };
}

function passPlan(first: Graph, next: Graph, chunks: number, tiles: number, o: VaePlanRequest, h: number, w: number): VaePassPlan {
  const pf = summarize(first, planExecution(first, o.plan));
  const pn = summarize(next, planExecution(next, o.plan));
  return {
    peakBytes: chunks > 1 ? Math.max(pf.peakBytes, pn.peakBytes) : pf.peakBytes,
    first: pf,
    next: pn,
    chunks,
    tiles,
    flops: tiles * (pf.flops + (chunks - 1) * pn.flops),
    handoverHostBytes: chunks > 1 ? pf.cacheBytes : 0,
    runHeight: h,
    runWidth: w,
  };
}

/** Planned GPU memory and FLOPs of encoding `frames` frames of width x height and decoding them back. */
export function planVae(o: VaePlanRequest): VaePlan {
  const cfg = o.config ?? WAN21_VAE;
  const s = spatialFactor(cfg);
  const t = temporalFactor(cfg);
  if (o.width % s !== 0 || o.height % s !== 0) throw new Error(`planVae: ${o.width}x${o.height} is not a multiple of ${s}`);
  if ((o.frames - 1) % t !== 0 || o.frames < 1) throw new Error(`planVae: ${o.frames} frames is not 1 + ${t}k`);
  const rows = runSize(o.height, o.tile);
  const cols = runSize(o.width, o.tile);
  const tiles = rows.count * cols.count;
  const chunks = 1 + (o.frames - 1) / t;
  const weightDtype = o.dtypes?.weights ?? 'f32';
  const g = (first: boolean) => ({ height: rows.size, width: cols.size, first, weightDtype });
  const encode = passPlan(buildEncoderChunk(cfg, g(true)), buildEncoderChunk(cfg, g(false)), chunks, tiles, o, rows.size, cols.size);
  const decode = passPlan(buildDecoderChunk(cfg, g(true)), buildDecoderChunk(cfg, g(false)), chunks, tiles, o, rows.size, cols.size);
  return { encode, decode, peakBytes: Math.max(encode.peakBytes, decode.peakBytes) };
}
