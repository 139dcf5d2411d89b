// The EgoX denoising loop on a built DiT executor: each step feeds [latents | mask |
// condition] with the conditional and the unconditional text, combines them with
// classifier-free guidance, zeroes the prediction on the exo columns (they stay clean:
// egox-official.md C.8), and advances the flow-matching scheduler.

import type { Executor } from '../../graph/executor.ts';
import { applyCfg, createScheduler, zeroExoColumns, type SchedulerName, type SigmaVariant } from '../schedulers/index.ts';
import { DIT_IO } from './dit.ts';
import { timestepEmbedding } from './timestep.ts';

export interface SampleOptions {
  /** Initial latents [16, F, H, W]: clean exo columns | noise. */
  latents: Float32Array;
  /** [4, F, H, W] and [16, F, H, W] conditioning channels (fixed for the run). */
  mask: Float32Array;
  condition: Float32Array;
  contextCond: Float32Array;
  contextUncond: Float32Array;
  clip?: Float32Array;
  gga?: { queryDirs: Float32Array; keyDirs: Float32Array };
  latentShape: readonly [number, number, number, number];
  /** Latent columns that are ego (the rest are exo and kept clean); 0 = all denoised. */
  egoLatentCols: number;
  steps: number;
  shift: number;
  guidance: number;
  sampler?: SchedulerName;
  sigmaVariant?: SigmaVariant;
  freqDim: number;
  onStep?: (step: number, total: number, timestep: number) => void;
}

export async function sampleLatents(exec: Executor, o: SampleOptions): Promise<Float32Array> {
  const [c, f, h, w] = o.latentShape;
  const per = f * h * w;
  if (o.latents.length !== c * per || o.mask.length !== 4 * per || o.condition.length !== 16 * per) {
    throw new Error(`sampleLatents: latents/mask/condition sizes do not match [${o.latentShape}]`);
  }
  const scheduler = createScheduler(o.sampler ?? 'unipc', { steps: o.steps, shift: o.shift, variant: o.sigmaVariant });
  let x: Float32Array = Float32Array.from(o.latents);
  const input = new Float32Array((c + 4 + 16) * per);
  input.set(o.mask, c * per);
  input.set(o.condition, (c + 4) * per);
  const fixed: Record<string, Float32Array> = {};
  if (o.clip) fixed[DIT_IO.clip] = o.clip;
  if (o.gga) Object.assign(fixed, { [DIT_IO.ggaQueryDirs]: o.gga.queryDirs, [DIT_IO.ggaKeyDirs]: o.gga.keyDirs });
  for (let i = 0; i < scheduler.numSteps; i++) {
    const t = scheduler.timesteps[i]!;
    o.onStep?.(i, scheduler.numSteps, t);
    input.set(x, 0);
    const common = { ...fixed, [DIT_IO.latents]: input, [DIT_IO.timestepEmbedding]: timestepEmbedding(t, o.freqDim) };
    await exec.run({ ...common, [DIT_IO.context]: o.contextCond });
    const vCond = await exec.read(DIT_IO.output);
    let v = vCond;
    if (o.guidance !== 1) {
      await exec.run({ ...common, [DIT_IO.context]: o.contextUncond });
      v = applyCfg(await exec.read(DIT_IO.output), vCond, o.guidance);
    }
    if (o.egoLatentCols > 0 && o.egoLatentCols < w) zeroExoColumns(v, [c, f, h, w], o.egoLatentCols);
    x = scheduler.step(v, x);
  }
  return x;
}
