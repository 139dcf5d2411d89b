// Float64 references for the convolution and resampling kernels, written from the
// definitions (PyTorch Conv3d on an explicitly padded input, Wan's CausalConv3d cache rule,
// nearest-exact upsampling, the upsample3d time-conv reshuffle) with plain loops.

export interface ConvRefArgs {
  /** x: [cin, f, h, w] */
  x: ArrayLike<number>;
  cin: number;
  f: number;
  h: number;
  w: number;
  /** weight: [cout, cin, kt, kh, kw] */
  weight: ArrayLike<number>;
  cout: number;
  kernel: readonly [number, number, number];
  bias?: ArrayLike<number>;
  stride?: readonly [number, number, number];
  /** Zero padding; front frames only in time. */
  pad?: { front: number; top: number; bottom: number; left: number; right: number };
  /** Cache [cin, cacheTotal, h, w]; its last `cacheFrames` frames go in front of x. */
  cache?: ArrayLike<number>;
  cacheTotal?: number;
  cacheFrames?: number;
  residual?: ArrayLike<number>;
}

export interface RefTensor {
  data: Float64Array;
  shape: number[];
}

/** Builds the padded input exactly as Wan does (cat(cache, x) then F.pad), then a plain conv. */
export function convRef(a: ConvRefArgs): RefTensor {
  const [kt, kh, kw] = a.kernel;
  const [st, sh, sw] = a.stride ?? [1, 1, 1];
  const pad = a.pad ?? { front: 0, top: 0, bottom: 0, left: 0, right: 0 };
  const nc = a.cacheFrames ?? 0;
  const ct = a.cacheTotal ?? nc;
  const zeros = Math.max(0, pad.front - nc);
  const pf = zeros + nc + a.f;
  const ph = pad.top + a.h + pad.bottom;
  const pw = pad.left + a.w + pad.right;
  const padded = new Float64Array(a.cin * pf * ph * pw);
  for (let c = 0; c < a.cin; c++) {
    for (let fr = 0; fr < nc + a.f; fr++) {
      for (let y = 0; y < a.h; y++) {
        for (let xx = 0; xx < a.w; xx++) {
          const v =
            fr < nc
              ? a.cache![((c * ct + (ct - nc + fr)) * a.h + y) * a.w + xx]!
              : a.x[((c * a.f + (fr - nc)) * a.h + y) * a.w + xx]!;
          padded[((c * pf + zeros + fr) * ph + pad.top + y) * pw + pad.left + xx] = v;
        }
      }
    }
  }
  const of = Math.floor((pf - kt) / st) + 1;
  const oh = Math.floor((ph - kh) / sh) + 1;
  const ow = Math.floor((pw - kw) / sw) + 1;
  const out = new Float64Array(a.cout * of * oh * ow);
  for (let co = 0; co < a.cout; co++) {
    for (let fo = 0; fo < of; fo++) {
      for (let yo = 0; yo < oh; yo++) {
        for (let xo = 0; xo < ow; xo++) {
          let acc = a.bias ? a.bias[co]! : 0;
          for (let ci = 0; ci < a.cin; ci++) {
            for (let dt = 0; dt < kt; dt++) {
              for (let dy = 0; dy < kh; dy++) {
                const row = ((ci * pf + fo * st + dt) * ph + yo * sh + dy) * pw + xo * sw;
                const wrow = (((co * a.cin + ci) * kt + dt) * kh + dy) * kw;
                for (let dx = 0; dx < kw; dx++) acc += a.weight[wrow + dx]! * padded[row + dx]!;
              }
            }
          }
          const o = ((co * of + fo) * oh + yo) * ow + xo;
          out[o] = acc + (a.residual ? a.residual[o]! : 0);
        }
      }
    }
  }
  return { data: out, shape: [a.cout, of, oh, ow] };
}

/** nearest-exact 2x: out[y, x] = in[floor((y + 0.5) / 2), floor((x + 0.5) / 2)] over [c, f, h, w]. */
export function upsampleNearest2xRef(x: ArrayLike<number>, c: number, f: number, h: number, w: number): RefTensor {
  const oh = 2 * h;
  const ow = 2 * w;
  const out = new Float64Array(c * f * oh * ow);
  for (let p = 0; p < c * f; p++) {
    for (let y = 0; y < oh; y++) {
      const sy = Math.min(h - 1, Math.floor((y + 0.5) / 2));
      for (let xx = 0; xx < ow; xx++) {
        const sx = Math.min(w - 1, Math.floor((xx + 0.5) / 2));
        out[(p * oh + y) * ow + xx] = x[(p * h + sy) * w + sx]!;
      }
    }
  }
  return { data: out, shape: [c, f, oh, ow] };
}

/** Zero padding of the two last axes of [c, f, h, w] (ZeroPad2d((left, right, top, bottom))). */
export function zeroPadRef(
  x: ArrayLike<number>,
  c: number,
  f: number,
  h: number,
  w: number,
  pad: { top: number; bottom: number; left: number; right: number },
): RefTensor {
  const oh = pad.top + h + pad.bottom;
  const ow = pad.left + w + pad.right;
  const out = new Float64Array(c * f * oh * ow);
  for (let p = 0; p < c * f; p++) {
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) out[(p * oh + pad.top + y) * ow + pad.left + xx] = x[(p * h + y) * w + xx]!;
    }
  }
  return { data: out, shape: [c, f, oh, ow] };
}

/** Edge-replicating padding of the two last axes of [c, f, h, w] (F.pad mode='replicate'). */
export function replicatePadRef(
  x: ArrayLike<number>,
  c: number,
  f: number,
  h: number,
  w: number,
  pad: { top: number; bottom: number; left: number; right: number },
): RefTensor {
  const oh = pad.top + h + pad.bottom;
  const ow = pad.left + w + pad.right;
  const out = new Float64Array(c * f * oh * ow);
  const clamp = (v: number, n: number) => Math.min(Math.max(v, 0), n - 1);
  for (let p = 0; p < c * f; p++) {
    for (let y = 0; y < oh; y++) {
      for (let xx = 0; xx < ow; xx++) out[(p * oh + y) * ow + xx] = x[(p * h + clamp(y - pad.top, h)) * w + clamp(xx - pad.left, w)]!;
    }
  }
  return { data: out, shape: [c, f, oh, ow] };
}

/**
 * The upsample3d reshuffle, step by step as diffusers writes it: y [2c, t, h, w] ->
 * reshape [2, c, t, h, w] -> stack parts on a new axis after t -> [c, t, 2, h, w] -> [c, 2t, h, w].
 */
export function timeInterleaveRef(y: ArrayLike<number>, c2: number, t: number, h: number, w: number): RefTensor {
  const c = c2 / 2;
  const hw = h * w;
  const out = new Float64Array(c2 * t * hw);
  for (let part = 0; part < 2; part++) {
    for (let ch = 0; ch < c; ch++) {
      for (let ti = 0; ti < t; ti++) {
        const src = ((part * c + ch) * t + ti) * hw; // index into [2, c, t, h, w]
        const dst = ((ch * t + ti) * 2 + part) * hw; // index into [c, t, 2, h, w]
        for (let i = 0; i < hw; i++) out[dst + i] = y[src + i]!;
      }
    }
  }
  return { data: out, shape: [c, 2 * t, h, w] };
}
