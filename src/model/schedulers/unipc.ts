/**
 * UniPC multistep sampler (Zhao et al. 2023) in the configuration Wan2.1/EgoX load from diffusers:
 * flow_prediction, use_flow_sigmas, solver_order 2, solver_type bh2, predict_x0, lower_order_final,
 * final sigma 0, UniC corrector on (disable_corrector = [] unless given).
 *
 * Flow setting: alpha = 1 - sigma, lambda = log(alpha) - log(sigma), x0_hat = x - sigma * v.
 * Per step i (sigma_i -> sigma_{i+1}):
 *   1. x0_i = x - sigma_i * v                                  (data prediction)
 *   2. if i > 0 and i-1 is not in disableCorrector: replace x by the UniC correction of the
 *      previous step's predictor, using x0_i as the new model value (no extra model call)
 *   3. UniP predictor to sigma_{i+1}, order min(2, N - i, steps so far + 1): order 1 on the
 *      first step (warm-up) and on the last step (lower_order_final; diffusers applies it for
 *      any N, there is no "N < 15" rule in UniPC). The last step goes to sigma = 0, where
 *      lambda = +inf and the update reduces exactly to x0_hat; it is handled explicitly.
 *
 * Precision: scalar coefficients and the per-element updates are float64; everything stored
 * (x0 history, corrected sample, returned sample) is float32, where diffusers keeps its float32
 * tensors. diffusers itself computes the coefficients in float32 from float32 sigmas and never
 * upcasts inside UniPC; with a bf16 model output its x0 = sample - sigma*v rounds sigma*v to bf16
 * (0-dim float32 tensor times bf16 tensor stays bf16) before the float32 subtraction.
 */
import { flowSigmas, type FlowScheduleOptions } from './sigmas.ts';
import { checkStepArgs, type FlowScheduler } from './scheduler.ts';

export interface UniPCOptions extends FlowScheduleOptions {
  /**
   * As diffusers' disable_corrector: the corrector applied at the start of step i+1 (which
   * corrects the result of step i) is skipped when i is listed. Default: none skipped.
   */
  disableCorrector?: readonly number[];
}

const SOLVER_ORDER = 2;

/** Half-log-SNR of the flow schedule; +inf at sigma = 0. */
function lambdaOf(sigma: number): number {
  return Math.log(1 - sigma) - Math.log(sigma);
}

export class UniPCScheduler implements FlowScheduler {
  readonly timesteps: Int32Array;
  readonly sigmas: Float64Array;
  readonly numSteps: number;
  private readonly lambdas: Float64Array;
  private readonly disabled: ReadonlySet<number>;

  private index = 0;
  /** x0 predictions of the previous step (m0) and the one before (m1). */
  private x0Prev: Float32Array | null = null;
  private x0Older: Float32Array | null = null;
  /** Sample the previous predictor started from (input of the next corrector). */
  private lastSample: Float32Array | null = null;
  /** Order of the previous predictor; the corrector runs at the same order. */
  private lastOrder = 0;

  constructor(opts: UniPCOptions) {
    const schedule = flowSigmas(opts);
    this.sigmas = schedule.sigmas;
    this.timesteps = schedule.timesteps;
    this.numSteps = schedule.timesteps.length;
    this.lambdas = this.sigmas.map(lambdaOf);
    this.disabled = new Set(opts.disableCorrector ?? []);
  }

  get stepIndex(): number {
    return this.index;
  }

  reset(): void {
    this.index = 0;
    this.x0Prev = null;
    this.x0Older = null;
    this.lastSample = null;
    this.lastOrder = 0;
  }

  step(modelOutput: Float32Array, sample: Float32Array): Float32Array {
    const i = this.index;
    checkStepArgs('UniPCScheduler', i, this.numSteps, modelOutput, sample);
    if (this.x0Prev !== null && this.x0Prev.length !== sample.length) {
      throw new Error(`UniPCScheduler: sample has ${sample.length} values but earlier steps had ${this.x0Prev.length}`);
    }
    const sigma = this.sigmas[i];
    const x0 = new Float32Array(sample.length);
    for (let j = 0; j < x0.length; j++) x0[j] = sample[j] - sigma * modelOutput[j];

    let x = sample;
    if (i > 0 && this.lastSample !== null && !this.disabled.has(i - 1)) {
      x = this.correct(x0, this.lastSample, this.lastOrder);
    }
    this.x0Older = this.x0Prev;
    this.x0Prev = x0;

    // warm-up (no history yet) and lower_order_final (last step) both cap the order
    const order = Math.min(SOLVER_ORDER, this.numSteps - i, i + 1);
    this.lastOrder = order;
    this.lastSample = x;
    const next = this.predict(x, order);
    this.index = i + 1;
    return next;
  }

  /** UniP (B(h) = e^-h - 1 variant) from sigma_i to sigma_{i+1}; order 1 or 2. */
  private predict(x: Float32Array, order: number): Float32Array {
    const i = this.index;
    const m0 = this.x0Prev!;
    const sigT = this.sigmas[i + 1];
    if (sigT === 0) {
      // lambda_t = +inf: sigma_t/sigma_s * x -> 0 and alpha_t * (e^-h - 1) -> -1, so x_t = x0_hat.
      // Only order 1 reaches here (lower_order_final), which has no history term.
      return Float32Array.from(m0);
    }
    const sigS = this.sigmas[i];
    const alphaT = 1 - sigT;
    const h = this.lambdas[i + 1] - this.lambdas[i];
    const hPhi1 = Math.expm1(-h);
    const cx = sigT / sigS;
    const cm = alphaT * hPhi1;
    const out = new Float32Array(x.length);
    if (order === 1) {
      for (let j = 0; j < out.length; j++) out[j] = cx * x[j] - cm * m0[j];
      return out;
    }
    // order 2: one backward difference D1 = (m1 - m0) / r1 with diffusers' fixed rho_p = 0.5
    const m1 = this.x0Older!;
    const r1 = (this.lambdas[i - 1] - this.lambdas[i]) / h;
    const cd = (alphaT * hPhi1 * 0.5) / r1; // B(h) = hPhi1 for bh2
    for (let j = 0; j < out.length; j++) out[j] = cx * x[j] - cm * m0[j] - cd * (m1[j] - m0[j]);
    return out;
  }

  /**
   * UniC: redo the step sigma_{i-1} -> sigma_i from the sample the predictor started from,
   * now also using the fresh x0 at sigma_i. `order` is the order of that predictor step.
   */
  private correct(x0Now: Float32Array, xLast: Float32Array, order: number): Float32Array {
    const i = this.index;
    const m0 = this.x0Prev!;
    const sigT = this.sigmas[i];
    const sigS = this.sigmas[i - 1];
    const alphaT = 1 - sigT;
    const h = this.lambdas[i] - this.lambdas[i - 1];
    const hh = -h;
    const hPhi1 = Math.expm1(hh);
    const bh = hPhi1; // bh2
    const cx = sigT / sigS;
    const cm = alphaT * hPhi1;
    const out = new Float32Array(xLast.length);
    if (order === 1) {
      const ct = alphaT * bh * 0.5; // diffusers' fixed rho_c = 0.5 at order 1
      for (let j = 0; j < out.length; j++) out[j] = cx * xLast[j] - cm * m0[j] - ct * (x0Now[j] - m0[j]);
      return out;
    }
    // order 2: solve [[1, 1], [r1, 1]] rho = b with b_k = k! * phi_k-terms / B(h)
    const m1 = this.x0Older!;
    const r1 = (this.lambdas[i - 2] - this.lambdas[i - 1]) / h;
    let hPhiK = hPhi1 / hh - 1;
    const b1 = hPhiK / bh;
    hPhiK = hPhiK / hh - 1 / 2;
    const b2 = (hPhiK * 2) / bh;
    const det = 1 - r1;
    const rho1 = (b1 - b2) / det; // weight of D1 = (m1 - m0) / r1
    const rhoT = (b2 - r1 * b1) / det; // weight of D1_t = x0Now - m0
    const c1 = (alphaT * bh * rho1) / r1;
    const ct = alphaT * bh * rhoT;
    for (let j = 0; j < out.length; j++) {
      out[j] = cx * xLast[j] - cm * m0[j] - c1 * (m1[j] - m0[j]) - ct * (x0Now[j] - m0[j]);
    }
    return out;
  }
}
