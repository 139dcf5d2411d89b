// Dry-run plan (no device) of CLIP vision on one frame: peak GPU memory and FLOPs for `egox plan`.
import { planExecution } from '../../graph/plan.ts';
import type { EncoderPlanOptions, EncoderPlanSummary } from '../umt5/plan.ts';
import { allQuantized } from '../../graph/quantized.ts';
import { CLIP_VIT_H14, OPENAI_CLIP_PREPROCESS, type ClipPreprocessConfig, type ClipVisionConfig } from './config.ts';
import { buildClipGraph } from './graph.ts';
import { preprocessPlan } from './preprocess.ts';

export function planClipVision(
  frame: { height: number; width: number },
  opts: EncoderPlanOptions & { config?: ClipVisionConfig; preprocess?: ClipPreprocessConfig } = {},
): EncoderPlanSummary {
  const pre = opts.preprocess ?? OPENAI_CLIP_PREPROCESS;
  const graph = buildClipGraph(opts.config ?? CLIP_VIT_H14, { weightDtype: opts.weightDtype ?? 'bf16', quantized: opts.quantized && allQuantized(opts.quantized), source: { image: preprocessPlan(frame.height, frame.width, pre, true), preprocess: pre } });
  const p = planExecution(graph, { gpuMemoryBytes: opts.gpuMemoryBytes });
  return { peakBytes: p.totals.peakBytes, weightBytes: p.totals.weightBytes, streaming: p.streaming, flops: p.totals.flops };
}
