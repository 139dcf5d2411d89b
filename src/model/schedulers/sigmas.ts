/**
 * Flow-matching sigma schedules of Wan2.1 samplers (x_t = (1 - sigma) x0 + sigma * noise).
 *
 * Three variants, all shifted with s*u / (1 + (s-1)*u), all ending with a final sigma of 0:
 * - 'diffusers-0.34' (default; what EgoX runs): u = 1 - linspace(1, 1/1000, N+1), i.e.
 *   0 ... 0.999; shift, reverse, drop the last (0). N=50, s=3: 0.99967 ... 0.0576,
 *   timesteps 999, 992, 985, ..., 160, 111, 57.
 * - 'diffusers-latest' (UniPC after the custom-sigmas change): u = linspace(1, 1/1000, N+1)[:-1];
 *   the first shifted sigma is exactly 1 and is nudged to 1 - 1e-6 (log(alpha) would be -inf).
 *   N=50, s=3: timesteps 999, 993, 986, ..., 162, 113, 60.
 * - 'wan-original' (Wan repo's FlowUniPCMultistepScheduler, built with shift=1 then
 *   set_timesteps(shift=s)): u = linspace(sigma_max, 0, N+1)[:-1] where sigma_max is 0.999
 *   read back from a float32 tensor (0.9990000128746033), not the double 0.999. This is the
 *   diffusers-0.34 grid up to that rounding: sigmas differ by < 5e-9, timesteps are identical
 *   for N = 40/50, s = 3/5.
 *
 * Timesteps fed to the model are trunc(sigma * 1000), computed from the double sigmas.
 * Note: diffusers and Wan store the sigmas as float32 before stepping; we keep doubles (the
 * difference is ~1e-8 relative and far below the bf16 noise of the model output).
 */
import { SchedulerOptionError } from './errors.ts';

export type SigmaVariant = 'diffusers-0.34' | 'diffusers-latest' | 'wan-original';

export const SIGMA_VARIANTS: readonly SigmaVariant[] = ['diffusers-0.34', 'diffusers-latest', 'wan-original'];

/** Wan2.1 is trained on 1000 discrete timesteps; sigma = t / 1000. */
export const NUM_TRAIN_TIMESTEPS = 1000;

export interface FlowScheduleOptions {
  /** Number of denoising steps N (model evaluations per guidance branch). */
  steps: number;
  /** Flow shift s (Wan2.1 I2V 480p and EgoX: 3). */
  shift: number;
  variant?: SigmaVariant;
}

export interface FlowSchedule {
  /** N + 1 noise levels, strictly decreasing, last = 0. */
  sigmas: Float64Array;
  /** N integer timesteps for the model's timestep embedding: trunc(sigmas[i] * 1000). */
  timesteps: Int32Array;
  variant: SigmaVariant;
}

/** Checks user-facing schedule options; throws SchedulerOptionError (exit 2) with the fix. */
export function checkScheduleOptions(opts: FlowScheduleOptions): Required<FlowScheduleOptions> {
  const { steps, shift } = opts;
  const variant = opts.variant ?? 'diffusers-0.34';
  if (!Number.isInteger(steps) || steps < 1 || steps > 10000) {
    throw new SchedulerOptionError('steps', `got ${steps}; use a whole number of steps from 1 to 10000 (EgoX uses 50)`);
  }
  if (!Number.isFinite(shift) || shift <= 0) {
    throw new SchedulerOptionError('shift', `got ${shift}; use a positive number (Wan2.1 I2V 480p uses 3)`);
  }
  if (!SIGMA_VARIANTS.includes(variant)) {
    throw new SchedulerOptionError('variant', `got '${String(variant)}'; use one of ${SIGMA_VARIANTS.join(', ')}`);
  }
  return { steps, shift, variant };
}

/** numpy.linspace(start, stop, num) with endpoint, bit for bit: start + i*step, last = stop. */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  if (num === 1) {
    out[0] = start;
    return out;
  }
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  out[num - 1] = stop;
  return out;
}

/** The flow shift in the operation order of diffusers and Wan: (s*u) / (1 + (s-1)*u). */
export function shiftSigma(u: number, shift: number): number {
  return (shift * u) / (1 + (shift - 1) * u);
}

/** The N+1 sigmas and N timesteps of a flow schedule (see the file comment for the variants). */
export function flowSigmas(opts: FlowScheduleOptions): FlowSchedule {
  const { steps: n, shift, variant } = checkScheduleOptions(opts);
  const head = new Float64Array(n); // the N sigmas the model is evaluated at
  if (variant === 'diffusers-0.34') {
    const a = linspace(1, 1 / NUM_TRAIN_TIMESTEPS, n + 1);
    // shifted(1 - a) reversed with its last entry (u = 0) dropped
    for (let i = 0; i < n; i++) head[i] = shiftSigma(1 - a[n - i], shift);
  } else if (variant === 'diffusers-latest') {
    const u = linspace(1, 1 / NUM_TRAIN_TIMESTEPS, n + 1);
    for (let i = 0; i < n; i++) head[i] = shiftSigma(u[i], shift);
    if (Math.abs(head[0] - 1) < 1e-6) head[0] -= 1e-6;
  } else {
    const sigmaMax = Math.fround(1 - 1 / NUM_TRAIN_TIMESTEPS);
    const u = linspace(sigmaMax, 0, n + 1);
    for (let i = 0; i < n; i++) head[i] = shiftSigma(u[i], shift);
  }
  const sigmas = new Float64Array(n + 1);
  sigmas.set(head);
  sigmas[n] = 0;
  const timesteps = new Int32Array(n);
  for (let i = 0; i < n; i++) timesteps[i] = Math.trunc(head[i] * NUM_TRAIN_TIMESTEPS);
  return { sigmas, timesteps, variant };
}
