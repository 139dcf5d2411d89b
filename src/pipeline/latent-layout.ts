// The EgoX latent layout (egox-official.md C.4): exo and ego latents side by side along width,
// and the 36-channel transformer input [latents | mask | condition].

/** A host tensor [C, F, H, W], row-major. */
export interface Latent {
  shape: [number, number, number, number];
  data: Float32Array;
}

/** [C, F, H, Wa] | [C, F, H, Wb] -> [C, F, H, Wa + Wb]. */
export function concatWidth(a: Latent, b: Latent): Latent {
  const [c, f, h, wa] = a.shape;
  const wb = b.shape[3];
  if (b.shape[0] !== c || b.shape[1] !== f || b.shape[2] !== h) {
    throw new Error(`concatWidth: [${a.shape}] and [${b.shape}] differ outside the width`);
  }
  const w = wa + wb;
  const out = new Float32Array(c * f * h * w);
  for (let row = 0; row < c * f * h; row++) {
    out.set(a.data.subarray(row * wa, (row + 1) * wa), row * w);
    out.set(b.data.subarray(row * wb, (row + 1) * wb), row * w + wa);
  }
  return { shape: [c, f, h, w], data: out };
}

/** Columns [from, to) of [C, F, H, W]. */
export function sliceWidth(x: Latent, from: number, to: number): Latent {
  const [c, f, h, w] = x.shape;
  if (!(0 <= from && from < to && to <= w)) throw new Error(`sliceWidth: columns ${from}..${to} outside width ${w}`);
  const n = to - from;
  const out = new Float32Array(c * f * h * n);
  for (let row = 0; row < c * f * h; row++) out.set(x.data.subarray(row * w + from, row * w + to), row * n);
  return { shape: [c, f, h, n], data: out };
}

export interface EgoxConditioning {
  /** Channels 0-15: [clean exo | noise]; the sampler denoises the ego columns. */
  latents: Latent;
  /** Channels 16-19: 1 only in latent frame 0 on the exo columns (C.4). */
  mask: Latent;
  /** Channels 20-35: [clean exo | ego-prior latent]. */
  condition: Latent;
  /** Latent columns that are ego (the last ones). */
  egoCols: number;
}

/**
 * Builds the conditioning exactly as the reference trainer does at inference: the pixel mask
 * (ones on exo columns of pixel frame 0, zeros elsewhere) folded to 4 channels per latent frame
 * leaves ones only in latent frame 0, exo columns, all 4 channels.
 */
export function buildConditioning(exo: Latent, prior: Latent, noise: Float32Array): EgoxConditioning {
  const [c, f, h, we] = prior.shape;
  if (exo.shape[0] !== c || exo.shape[1] !== f || exo.shape[2] !== h) {
    throw new Error(`conditioning: exo latent [${exo.shape}] and prior latent [${prior.shape}] differ in channels, frames or height`);
  }
  if (noise.length !== prior.data.length) throw new Error(`conditioning: ${noise.length} noise values for an ego latent of ${prior.data.length}`);
  const wx = exo.shape[3];
  const latents = concatWidth(exo, { shape: prior.shape, data: noise });
  const condition = concatWidth(exo, prior);
  const w = wx + we;
  const mask = new Float32Array(4 * f * h * w);
  for (let ch = 0; ch < 4; ch++) {
    for (let y = 0; y < h; y++) mask.fill(1, ((ch * f + 0) * h + y) * w, ((ch * f + 0) * h + y) * w + wx);
  }
  return { latents, mask: { shape: [4, f, h, w], data: mask }, condition, egoCols: we };
}
