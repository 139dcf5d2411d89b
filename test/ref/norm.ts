// Float64 references for the normalisation kernels (plain loops, written from the formulas
// in ../shared/reference/wan21-architecture.md and PyTorch's definitions).

export interface RefRowNormOptions {
  kind: 'layer' | 'rms';
  eps: number;
  weight?: ArrayLike<number>;
  bias?: ArrayLike<number>;
  /** adaLN: y * (1 + scale[c]) + shift[c]. */
  shift?: ArrayLike<number>;
  scale?: ArrayLike<number>;
}

/** LayerNorm / RMSNorm over the last dim of x [rows, C]. */
export function refRowNorm(x: ArrayLike<number>, rows: number, C: number, o: RefRowNormOptions): Float64Array {
  const out = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    if (o.kind === 'layer') {
      for (let c = 0; c < C; c++) mean += x[r * C + c]!;
      mean /= C;
    }
    let sq = 0;
    for (let c = 0; c < C; c++) {
      const d = x[r * C + c]! - mean;
      sq += d * d;
    }
    const rstd = 1 / Math.sqrt(sq / C + o.eps);
    for (let c = 0; c < C; c++) {
      let y = (x[r * C + c]! - mean) * rstd;
      if (o.weight) y *= o.weight[c]!;
      if (o.bias) y += o.bias[c]!;
      if (o.scale && o.shift) y = y * (1 + o.scale[c]!) + o.shift[c]!;
      out[r * C + c] = y;
    }
  }
  return out;
}

/**
 * The VAE's channel RMS norm on x [C, S] (S = F*H*W): F.normalize over C (divide by
 * max(||x||_2, 1e-12)) * sqrt(C) * gamma[c] (+ bias[c]), optionally followed by SiLU.
 */
export function refChannelRmsNorm(
  x: ArrayLike<number>,
  C: number,
  S: number,
  gamma: ArrayLike<number>,
  bias?: ArrayLike<number>,
  silu = false,
): Float64Array {
  const out = new Float64Array(C * S);
  for (let s = 0; s < S; s++) {
    let sq = 0;
    for (let c = 0; c < C; c++) sq += x[c * S + s]! ** 2;
    const denom = Math.max(Math.sqrt(sq), 1e-12);
    for (let c = 0; c < C; c++) {
      let y = (x[c * S + s]! / denom) * Math.sqrt(C) * gamma[c]!;
      if (bias) y += bias[c]!;
      if (silu) y = y / (1 + Math.exp(-y));
      out[c * S + s] = y;
    }
  }
  return out;
}

/** GroupNorm(groups, C) of x [C, S]: per group of C/groups channels, (x - mean) / sqrt(var + eps), then * w[c] + b[c]. */
export function refGroupNorm(x: ArrayLike<number>, C: number, S: number, groups: number, w: ArrayLike<number>, b: ArrayLike<number>, eps: number): Float64Array {
  const out = new Float64Array(C * S);
  const n = (C / groups) * S;
  for (let g = 0; g < groups; g++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += x[g * n + i]!;
    mean /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (x[g * n + i]! - mean) ** 2;
    const r = 1 / Math.sqrt(v / n + eps);
    for (let i = 0; i < n; i++) {
      const c = Math.floor((g * n + i) / S);
      out[g * n + i] = (x[g * n + i]! - mean) * r * w[c]! + b[c]!;
    }
  }
  return out;
}
