// Weight tables of PyTorch's F.interpolate along one axis (align_corners=False), for the
// separable resize pass of src/kernels/render/image-preprocess.ts (resizeAxis): row i =
// [window start, w_0 .. w_{taps-1}] over input samples start .. start + taps - 1. The weights
// depend on sizes only, so the host computes them in float64 once per graph.
//
// The rules, as ATen implements them:
// - scale = 1 / scale_factor when a scale factor is given (DINOv2's position-embedding resize
//   passes one), else in / out;
// - bilinear: source x = scale (i + 0.5) - 0.5, clamped at 0; taps floor(x) and the next one
//   (the last sample repeats at the far edge);
// - bicubic: the same source x, NOT clamped; Keys cubic with A = -0.75 on floor(x) - 1 ..
//   floor(x) + 2, indices clamped into the image;
// - antialias (bilinear or bicubic): the filter (triangle, or Keys cubic with A = -0.5) is
//   stretched by the scale when shrinking, centred at scale (i + 0.5), cut at the borders and
//   renormalised to sum 1.

export type TorchResizeMode = 'bilinear' | 'bicubic';

export interface TorchResizeRule {
  mode: TorchResizeMode;
  antialias?: boolean;
  /** The scale_factor passed to interpolate (the output size is then floor(in * factor)). */
  scaleFactor?: number;
}

function keys(x: number, a: number): number {
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** The (input index, weight) pairs of every output sample. */
function samples(nIn: number, nOut: number, r: TorchResizeRule): [number, number][][] {
  const scale = r.scaleFactor !== undefined && r.scaleFactor > 0 ? 1 / r.scaleFactor : nIn / nOut;
  const clampIdx = (j: number) => Math.min(Math.max(j, 0), nIn - 1);
  const rows: [number, number][][] = [];
  for (let i = 0; i < nOut; i++) {
    if (r.antialias) {
      const half = r.mode === 'bilinear' ? 1 : 2;
      const support = scale >= 1 ? half * scale : half;
      const inv = scale >= 1 ? 1 / scale : 1;
      const centre = scale * (i + 0.5);
      const lo = Math.max(Math.trunc(centre - support + 0.5), 0);
      const hi = Math.min(Math.trunc(centre + support + 0.5), nIn);
      const w: [number, number][] = [];
      for (let j = lo; j < hi; j++) {
        const t = (j - centre + 0.5) * inv;
        w.push([j, r.mode === 'bilinear' ? Math.max(0, 1 - Math.abs(t)) : keys(t, -0.5)]);
      }
      const sum = w.reduce((s, [, v]) => s + v, 0);
      rows.push(sum !== 0 ? w.map(([j, v]) => [j, v / sum]) : w);
    } else if (r.mode === 'bilinear') {
      const x = Math.max(scale * (i + 0.5) - 0.5, 0);
      const i0 = Math.floor(x);
      const f = x - i0;
      rows.push([
        [clampIdx(i0), 1 - f],
        [clampIdx(i0 + 1), f],
      ]);
    } else {
      const x = scale * (i + 0.5) - 0.5;
      const i0 = Math.floor(x);
      const t = x - i0;
      rows.push([-1, 0, 1, 2].map((k) => [clampIdx(i0 + k), keys(t - k, -0.75)]));
    }
  }
  return rows;
}

/** Output size of a resize by a scale factor (PyTorch: floor(in * factor)). */
export function scaledSize(nIn: number, factor: number): number {
  return Math.floor(nIn * factor);
}

/** The table of a resize nIn -> nOut under rule `r` (weights at repeated indices summed). */
export function torchResizeTable(nIn: number, nOut: number, r: TorchResizeRule): { taps: number; table: Float32Array } {
  if (!(Number.isInteger(nIn) && nIn >= 1 && Number.isInteger(nOut) && nOut >= 1)) throw new Error(`torch-resize: sizes ${nIn} -> ${nOut} must be positive integers`);
  const rows = samples(nIn, nOut, r);
  const windows = rows.map((w) => {
    const lo = Math.min(...w.map(([j]) => j));
    const hi = Math.max(...w.map(([j]) => j));
    const dense = new Float64Array(hi - lo + 1);
    for (const [j, v] of w) dense[j - lo]! += v;
    return { lo, dense };
  });
  const taps = Math.max(...windows.map((w) => w.dense.length));
  const table = new Float32Array(nOut * (1 + taps));
  windows.forEach(({ lo, dense }, i) => {
    table[i * (1 + taps)] = lo;
    dense.forEach((v, t) => (table[i * (1 + taps) + 1 + t] = v));
  });
  return { taps, table };
}
