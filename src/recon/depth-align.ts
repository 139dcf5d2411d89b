/**
 * Per-frame depth scale of a static-camera clip. A monocular network gets each frame's scale a
 * little wrong, so the background would breathe from frame to frame. With a static camera the
 * background's depth is the same in every frame: find the pixels that stay put (colour close to
 * the clip's per-pixel median and depth agreeing with the clip's per-pixel median) and scale each
 * frame so that their depth matches. The scales are normalised to a geometric median of 1, so
 * the clip keeps the network's typical metric scale. When few pixels stay put in most frames, the
 * camera itself probably moves, which EgoX does not support: the result says so.
 */

export interface DepthClip {
  width: number;
  height: number;
  /** Metric z-depth per frame, [H*W] row-major. */
  depth: readonly Float32Array[];
  /** Per frame, [H*W], non-zero where the depth is valid. */
  valid: readonly Uint8Array[];
  /** Per frame, RGB24 [H*W*3] on the same grid. */
  rgb: readonly Uint8Array[];
}

export interface AlignOptions {
  /** Grey-level distance from the clip's median (0..255) under which a pixel looks static. */
  colourTolerance?: number;
  /** |log depth ratio| to the clip's median under which a pixel's depth agrees. */
  depthTolerance?: number;
  /** Every `step`-th row and column is sampled (speed; the scale is a robust statistic). */
  step?: number;
  /** A frame whose static fraction is below this counts as moving. */
  minStaticFraction?: number;
}

export interface DepthAlignment {
  /** Multiply frame f's depth by scales[f]. */
  scales: number[];
  /** Per frame: the fraction of sampled valid pixels that agree with the static background. */
  staticFraction: number[];
  /** The median frame keeps fewer static pixels than minStaticFraction. */
  cameraMoves: boolean;
}

const DEFAULTS: Required<AlignOptions> = { colourTolerance: 12, depthTolerance: 0.05, step: 2, minStaticFraction: 0.5 };
const ITERATIONS = 4;

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = values.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Pixel indices of the sampling grid. */
function samplePixels(width: number, height: number, step: number): Int32Array {
  const out: number[] = [];
  for (let y = 0; y < height; y += step) for (let x = 0; x < width; x += step) out.push(y * width + x);
  return Int32Array.from(out);
}

/** [F][n] grey levels and their per-pixel median over the clip. */
function greyStatic(clip: DepthClip, pixels: Int32Array, tolerance: number): Uint8Array[] {
  const F = clip.rgb.length;
  const grey = clip.rgb.map((rgb) => Float32Array.from(pixels, (p) => 0.299 * rgb[3 * p]! + 0.587 * rgb[3 * p + 1]! + 0.114 * rgb[3 * p + 2]!));
  const out = Array.from({ length: F }, () => new Uint8Array(pixels.length));
  const column: number[] = new Array(F);
  for (let i = 0; i < pixels.length; i++) {
    for (let f = 0; f < F; f++) column[f] = grey[f]![i]!;
    const m = median(column);
    for (let f = 0; f < F; f++) out[f]![i] = Math.abs(grey[f]![i]! - m) < tolerance ? 1 : 0;
  }
  return out;
}

/** Aligns the per-frame scales of a static-camera clip (see the file comment). */
export function alignDepthScales(clip: DepthClip, options: AlignOptions = {}): DepthAlignment {
  const o = { ...DEFAULTS, ...options };
  const F = clip.depth.length;
  if (F === 0 || clip.valid.length !== F || clip.rgb.length !== F) throw new Error(`alignDepthScales: ${F} depth, ${clip.valid.length} valid, ${clip.rgb.length} rgb frames`);
  const pixels = samplePixels(clip.width, clip.height, o.step);
  const n = pixels.length;
  const still = greyStatic(clip, pixels, o.colourTolerance);
  const logDepth = clip.depth.map((d, f) =>
    Float64Array.from(pixels, (p) => (clip.valid[f]![p] && d[p]! > 0 && Number.isFinite(d[p]!) ? Math.log(d[p]!) : NaN)),
  );
  const logScale = new Float64Array(F);
  const reference = new Float64Array(n);
  const agrees = (f: number, i: number) => Math.abs(reference[i]! - logDepth[f]![i]! - logScale[f]!) < o.depthTolerance;
  const column: number[] = [];
  for (let it = 0; it < ITERATIONS; it++) {
    // The background's depth: per-pixel median of the scaled frames where the pixel looks static.
    for (let i = 0; i < n; i++) {
      column.length = 0;
      for (let f = 0; f < F; f++) if (still[f]![i] && !Number.isNaN(logDepth[f]![i]!)) column.push(logDepth[f]![i]! + logScale[f]!);
      reference[i] = median(column);
    }
    // Each frame's scale: median log ratio over its static pixels (after the first pass also
    // requiring its depth to agree already, which drops pixels a moving object covers).
    for (let f = 0; f < F; f++) {
      const ratios: number[] = [];
      for (let i = 0; i < n; i++) {
        if (!still[f]![i] || Number.isNaN(logDepth[f]![i]!) || Number.isNaN(reference[i]!)) continue;
        if (it > 0 && !agrees(f, i)) continue;
        ratios.push(reference[i]! - logDepth[f]![i]!);
      }
      if (ratios.length > 0) logScale[f] = median(ratios);
    }
    const centre = median(Array.from(logScale));
    for (let f = 0; f < F; f++) logScale[f] = logScale[f]! - centre;
  }
  const staticFraction = logDepth.map((ld, f) => {
    let validCount = 0;
    let staticCount = 0;
    for (let i = 0; i < n; i++) {
      if (Number.isNaN(ld[i]!)) continue;
      validCount++;
      if (still[f]![i] && !Number.isNaN(reference[i]!) && agrees(f, i)) staticCount++;
    }
    return validCount === 0 ? 0 : staticCount / validCount;
  });
  return {
    scales: Array.from(logScale, Math.exp),
    staticFraction,
    cameraMoves: median(staticFraction) < o.minStaticFraction,
  };
}
