/**
 * Flow-matching Euler sampler: x <- x + (sigma_{i+1} - sigma_i) * v, on the same sigma schedule
 * as UniPC (flowSigmas). The update is computed in float64 per element and stored as float32;
 * diffusers' FlowMatchEulerDiscreteScheduler upcasts the sample to float32 for this update and
 * casts the result back to the model output's dtype. Its own default sigma schedule differs from
 * flowSigmas; here Euler is the plain flow ODE step on the UniPC schedule, for comparison.
 */
import { flowSigmas, type FlowScheduleOptions } from './sigmas.ts';
import { checkStepArgs, type FlowScheduler } from './scheduler.ts';

export class EulerScheduler implements FlowScheduler {
  readonly timesteps: Int32Array;
  readonly sigmas: Float64Array;
  readonly numSteps: number;
  private index = 0;

  constructor(opts: FlowScheduleOptions) {
    const schedule = flowSigmas(opts);
    this.sigmas = schedule.sigmas;
    this.timesteps = schedule.timesteps;
    this.numSteps = schedule.timesteps.length;
  }

  get stepIndex(): number {
    return this.index;
  }

  reset(): void {
    this.index = 0;
  }

  step(modelOutput: Float32Array, sample: Float32Array): Float32Array {
    const i = this.index;
    checkStepArgs('EulerScheduler', i, this.numSteps, modelOutput, sample);
    const dt = this.sigmas[i + 1] - this.sigmas[i];
    const out = new Float32Array(sample.length);
    for (let j = 0; j < out.length; j++) out[j] = sample[j] + dt * modelOutput[j];
    this.index = i + 1;
    return out;
  }
}
