// Dry-run planning of an EgoX DiT run (no device): peak GPU bytes and FLOPs of the 14B model
// at EgoX's resolution, fully resident or with weights streamed under a memory budget.

import type { BlockQuantDType, DType, Fp8DType } from '../../runtime/dtype.ts';
import { wanLinearModules } from './names.ts';
import { planExecution, type ExecutionPlan } from '../../graph/plan.ts';
import type { WanConfig } from './config.ts';
import { WanDit } from './dit.ts';
import { InputError } from '../../runtime/errors.ts';

export interface DitRunPlanOptions {
  config: WanConfig;
  /** Ego and exo frame sizes in pixels (height x width). */
  ego: { height: number; width: number };
  exo: { height: number; width: number } | null;
  frames: number;
  steps: number;
  /** Classifier-free guidance doubles the forwards per step. */
  cfg: boolean;
  gga: boolean;
  weightDtype: DType;
  gpuMemoryBytes?: number;
  /**
   * The blocks' Linear weights as a quantized file holds them (fp8 checkpoints, GGUF files);
   * embeddings, norms and the head stay in `weightDtype`.
   */
  quantized?: Fp8DType | BlockQuantDType;
}

/** The names of the blocks' Linear weights quantized as `dtype` (what WanModel reads from such a file). */
export function quantizedBlockLinears(c: WanConfig, dtype: Fp8DType | BlockQuantDType): Map<string, { dtype: Fp8DType | BlockQuantDType }> {
  return new Map([...wanLinearModules(c)].map((m) => [`${m}.weight`, { dtype }]));
}

export interface DitRunPlan {
  latentShape: [number, number, number, number];
  tokens: number;
  plan: ExecutionPlan;
  flopsPerForward: number;
  forwardsPerRun: number;
  flopsPerRun: number;
}

/** A run size the Wan VAE or EgoX cannot take; `setting` names the size (frames, ego, exo). */
export class RunSizeError extends InputError {
  constructor(
    readonly setting: 'frames' | 'ego' | 'exo',
    readonly value: string,
    readonly problem: string,
  ) {
    super(`${setting} ${value}: ${problem}`);
  }
}

/** Bounds that keep a planned graph (and its position tables) a size the host can build. */
const MAX_RUN_FRAMES = 1001;
const MAX_RUN_SIDE = 4096;
const MAX_RUN_TOKENS = 1 << 19;

export function latentShapeFor(o: Pick<DitRunPlanOptions, 'config' | 'ego' | 'exo' | 'frames'>): [number, number, number, number] {
  if (!Number.isInteger(o.frames) || o.frames < 1 || o.frames > MAX_RUN_FRAMES) throw new RunSizeError('frames', String(o.frames), `expected 1 to ${MAX_RUN_FRAMES} frames`);
  if ((o.frames - 1) % 4 !== 0) throw new RunSizeError('frames', String(o.frames), 'the Wan VAE needs 1 + 4k frames (e.g. 49)');
  for (const [what, s] of [['ego', o.ego], ['exo', o.exo]] as const) {
    if (s && (s.height % 16 !== 0 || s.width % 16 !== 0)) throw new RunSizeError(what, `${s.height}x${s.width}`, 'sizes must be multiples of 16');
    if (s && (s.height > MAX_RUN_SIDE || s.width > MAX_RUN_SIDE)) throw new RunSizeError(what, `${s.height}x${s.width}`, `sides above ${MAX_RUN_SIDE} pixels are not supported`);
  }
  if (o.exo && o.exo.height !== o.ego.height) {
    throw new RunSizeError('exo', `${o.exo.height}x${o.exo.width}`, `must have the ego height ${o.ego.height} (EgoX concatenates them along width)`);
  }
  const width = o.ego.width + (o.exo?.width ?? 0);
  const shape: [number, number, number, number] = [o.config.inDim, (o.frames - 1) / 4 + 1, o.ego.height / 8, width / 8];
  const tokens = (shape[1] * shape[2] * shape[3]) / 4;
  if (tokens > MAX_RUN_TOKENS) throw new RunSizeError('frames', String(o.frames), `with these sizes the DiT would attend over ${tokens} tokens, more than the ${MAX_RUN_TOKENS} egox plans for (EgoX: 28028)`);
  return shape;
}

export function planDitRun(o: DitRunPlanOptions): DitRunPlan {
  const latentShape = latentShapeFor(o);
  const dit = new WanDit(o.config, {
    latentShape,
    weightDtype: o.weightDtype,
    gga: o.gga ? { lambda: 3, egoLatentCols: o.ego.width / 8 } : null,
    quantizedWeights: o.quantized ? quantizedBlockLinears(o.config, o.quantized) : undefined,
  });
  const graph = dit.build();
  const plan = planExecution(graph, { gpuMemoryBytes: o.gpuMemoryBytes });
  const forwardsPerRun = o.steps * (o.cfg ? 2 : 1);
  return {
    latentShape,
    tokens: dit.tokens,
    plan,
    flopsPerForward: plan.totals.flops,
    forwardsPerRun,
    flopsPerRun: plan.totals.flops * forwardsPerRun,
  };
}
