/** What the sampling loop needs from any flow sampler (UniPC, Euler). */
import type { FlowScheduleOptions } from './sigmas.ts';

export interface FlowScheduler {
  /** N integer timesteps; feed timesteps[stepIndex] to the model before each step(). */
  readonly timesteps: Int32Array;
  /** N + 1 sigmas, last = 0. */
  readonly sigmas: Float64Array;
  /** Number of steps N. */
  readonly numSteps: number;
  /** Index of the next step (0 ... N); N when sampling is finished. */
  readonly stepIndex: number;
  /**
   * One denoising step: `modelOutput` is the (guided) flow prediction v at the current sigma,
   * `sample` the current latent. Returns the latent at the next sigma (a new array).
   */
  step(modelOutput: Float32Array, sample: Float32Array): Float32Array;
  /** Forget all state and start again at step 0. */
  reset(): void;
}

export type SchedulerOptions = FlowScheduleOptions;

/** Internal misuse checks shared by the samplers (programming errors, not user input). */
export function checkStepArgs(name: string, stepIndex: number, numSteps: number, v: Float32Array, x: Float32Array): void {
  if (stepIndex >= numSteps) {
    throw new Error(`${name}: step() called after the last of ${numSteps} steps; call reset() to sample again`);
  }
  if (v.length !== x.length) {
    throw new Error(`${name}: model output has ${v.length} values but the sample has ${x.length}`);
  }
}
