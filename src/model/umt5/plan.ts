// Dry-run plan (no device) of the umT5 encoder: peak GPU memory and FLOPs for `egox plan`.
import { planExecution } from '../../graph/plan.ts';
import { UMT5_MAX_LENGTH } from '../text/tokenizer.ts';
import { UMT5_XXL, type Umt5Config } from './config.ts';
import { buildUmt5Graph } from './graph.ts';
import type { NetworkLoadOptions } from '../load-options.ts';
import { allQuantized } from '../../graph/quantized.ts';
import type { BlockQuantDType, Fp8DType } from '../../runtime/dtype.ts';

/** Options of an encoder's dry-run plan: `quantized` is how the file holds every Linear weight (fp8, GGUF blocks). */
export interface EncoderPlanOptions extends NetworkLoadOptions {
  quantized?: Fp8DType | BlockQuantDType;
}

export interface EncoderPlanSummary {
  peakBytes: number;
  weightBytes: number;
  streaming: boolean;
  flops: number;
}

export function planUmt5(opts: EncoderPlanOptions & { config?: Umt5Config; length?: number } = {}): EncoderPlanSummary {
  const graph = buildUmt5Graph(opts.config ?? UMT5_XXL, opts.length ?? UMT5_MAX_LENGTH, opts.weightDtype ?? 'bf16', opts.quantized && allQuantized(opts.quantized));
  const p = planExecution(graph, { gpuMemoryBytes: opts.gpuMemoryBytes });
  return { peakBytes: p.totals.peakBytes, weightBytes: p.totals.weightBytes, streaming: p.streaming, flops: p.totals.flops };
}
