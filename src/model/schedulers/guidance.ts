/**
 * Classifier-free guidance and EgoX's exo-column rule (egox-official.md C.8).
 *
 * EgoX concatenates [clean exo latent | ego latent] along width and, after CFG, sets the
 * prediction to 0 on every column but the last egoWidth (the ego part). With v = 0 the flow
 * x0_hat equals x, and since alpha + sigma = 1 every UniPC/Euler update maps x to itself, so
 * the exo latent stays a fixed point of sampling without being re-inserted.
 */
import { SchedulerOptionError } from './errors.ts';

/** v = vUncond + g * (vCond - vUncond), in float64 per element, written to `out` (new by default). */
export function applyCfg(
  vUncond: Float32Array,
  vCond: Float32Array,
  g: number,
  out: Float32Array = new Float32Array(vCond.length),
): Float32Array {
  if (!Number.isFinite(g)) {
    throw new SchedulerOptionError('guidance', `got ${g}; use a finite guidance scale (EgoX uses 5)`);
  }
  if (vUncond.length !== vCond.length || out.length !== vCond.length) {
    throw new Error(`applyCfg: lengths differ (uncond ${vUncond.length}, cond ${vCond.length}, out ${out.length})`);
  }
  for (let j = 0; j < out.length; j++) out[j] = vUncond[j] + g * (vCond[j] - vUncond[j]);
  return out;
}

/**
 * Zeroes, in place, every column except the last `egoWidth` of a row-major tensor whose last
 * axis is the width, e.g. [C, F, H, W] (any leading axes). Returns `v`.
 */
export function zeroExoColumns(v: Float32Array, shape: readonly number[], egoWidth: number): Float32Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (shape.length === 0 || count !== v.length) {
    throw new Error(`zeroExoColumns: shape [${shape.join(', ')}] holds ${count} values but the tensor has ${v.length}`);
  }
  const w = shape[shape.length - 1];
  if (!Number.isInteger(egoWidth) || egoWidth < 0 || egoWidth > w) {
    throw new Error(`zeroExoColumns: egoWidth ${egoWidth} is not within the width ${w}`);
  }
  const exo = w - egoWidth;
  for (let row = 0; row < v.length; row += w) v.fill(0, row, row + exo);
  return v;
}
