// Metric depth of a static-camera clip with MoGe-2: the network on every k-th frame (and the
// last), one focal for the clip (the median of the frames' own fits, or the user's), the z shift
// fitted per frame with that focal, frames in between interpolated, the per-frame scale aligned
// on the static background, and pixels the network masks out (sky, no surface) set to the
// clip's farthest depth: both EgoX readers need a positive depth at every pixel (the GGA
// normalises P - O, the renderer drops non-positive depth).
import { MogeBindingLimitError, MogeModel, mogeGeometry, recoverFocalShift } from '../model/moge/index.ts';
import { alignDepthScales, type DepthAlignment } from '../recon/depth-align.ts';
import { PrepareInputError } from './prepare-frames.ts';

export interface ClipDepthOptions {
  /** ViT token budget (default: the model's own). */
  numTokens?: number;
  /** Run the network on every k-th frame (default 1). */
  every?: number;
  /** Focal length in pixels of the frame grid, when known. */
  focalPixels?: number;
  /** One call per network run. */
  onFrame?: (done: number, total: number) => void;
  /** Things the user should know (fallbacks taken). */
  note?: (line: string) => void;
}

export interface ClipDepth {
  /** Metric z-depth per frame, [H*W], every value positive and finite. */
  depth: Float32Array[];
  /** Focal in pixels of the grid (fx = fy: square pixels). */
  focalPixels: number;
  focalSource: 'given' | 'estimated' | 'fallback';
  alignment: DepthAlignment;
  /** Frames the network ran on. */
  keyframes: number[];
  numTokens: number;
}

/** Field of view assumed when the network gives no usable focal (untrained weights). */
const FALLBACK_FOV_X = 60;

export function keyframeIndices(frames: number, every: number): number[] {
  const keys: number[] = [];
  for (let f = 0; f < frames; f += every) keys.push(f);
  if (keys[keys.length - 1] !== frames - 1) keys.push(frames - 1);
  return keys;
}

/** RGB24 -> planar [3, H, W] in 0..1. */
function planar(rgb: Uint8Array, hw: number): Float32Array {
  const out = new Float32Array(3 * hw);
  for (let p = 0; p < hw; p++) for (let c = 0; c < 3; c++) out[c * hw + p] = rgb[3 * p + c]! / 255;
  return out;
}

function median(values: number[]): number {
  const s = values.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function fovXDegrees(focalPixels: number, width: number): number {
  return (2 * Math.atan(width / 2 / focalPixels) * 180) / Math.PI;
}

/** forward, retrying once with a budget that fits when the adapter's binding limit refuses it. */
async function forwardFitting(model: MogeModel, image: Float32Array, h: number, w: number, tokens: { n: number }, note: (s: string) => void) {
  try {
    return await model.forward(image, h, w, tokens.n);
  } catch (e) {
    if (!(e instanceof MogeBindingLimitError)) throw e;
    note(`${e.message.replace(/: use --num-tokens.*$/, '')}: using ${e.fitTokens} tokens`);
    tokens.n = e.fitTokens;
    return await model.forward(image, h, w, tokens.n);
  }
}

export async function estimateClipDepth(model: MogeModel, rgb: readonly Uint8Array[], width: number, height: number, o: ClipDepthOptions = {}): Promise<ClipDepth> {
  const hw = width * height;
  const F = rgb.length;
  const note = o.note ?? (() => {});
  const keys = keyframeIndices(F, o.every ?? 1);
  const tokens = { n: o.numTokens ?? model.defaultTokens() };
  const raw: { points: Float32Array; mask?: Float32Array; scale?: number }[] = [];
  const focals: number[] = [];
  for (const [i, f] of keys.entries()) {
    const out = await forwardFitting(model, planar(rgb[f]!, hw), height, width, tokens, note);
    if (!out.points) throw new PrepareInputError('the depth model has no points head; egox prepare needs a MoGe-2 model with one');
    raw.push({ points: out.points, mask: out.mask, scale: out.metricScale });
    if (o.focalPixels === undefined) {
      const binary = out.mask ? Uint8Array.from(out.mask, (m) => (m > 0.5 ? 1 : 0)) : undefined;
      const { focal } = recoverFocalShift(out.points, binary, height, width);
      // focal is relative to half the image diagonal.
      const px = (focal / 2) * Math.hypot(width, height);
      if (Number.isFinite(px) && px > 0) focals.push(px);
    }
    o.onFrame?.(i + 1, keys.length);
  }
  let focalPixels: number;
  let focalSource: ClipDepth['focalSource'];
  if (o.focalPixels !== undefined) {
    focalPixels = o.focalPixels;
    focalSource = 'given';
  } else if (focals.length > 0) {
    focalPixels = median(focals);
    focalSource = 'estimated';
  } else {
    focalPixels = width / 2 / Math.tan((FALLBACK_FOV_X * Math.PI) / 360);
    focalSource = 'fallback';
    note(`the depth model gave no usable focal length in any frame (untrained weights?): assuming a ${FALLBACK_FOV_X} degree horizontal field of view; pass --intrinsics if you know it`);
  }
  const fovX = fovXDegrees(focalPixels, width);
  const keyDepth = raw.map((r) => mogeGeometry(r.points, r.mask, r.scale, height, width, fovX));
  const depth: Float32Array[] = new Array(F);
  const valid: Uint8Array[] = new Array(F);
  for (let k = 0; k < keys.length; k++) {
    depth[keys[k]!] = keyDepth[k]!.depth;
    valid[keys[k]!] = keyDepth[k]!.valid;
  }
  for (let k = 0; k + 1 < keys.length; k++) {
    const [a, b] = [keys[k]!, keys[k + 1]!];
    for (let f = a + 1; f < b; f++) {
      const t = (f - a) / (b - a);
      const d = new Float32Array(hw);
      const v = new Uint8Array(hw);
      for (let p = 0; p < hw; p++) {
        v[p] = valid[a]![p]! & valid[b]![p]!;
        d[p] = v[p] ? (1 - t) * depth[a]![p]! + t * depth[b]![p]! : 0;
      }
      depth[f] = d;
      valid[f] = v;
    }
  }
  const alignment = alignDepthScales({ width, height, depth, valid, rgb });
  let far = 0;
  for (let f = 0; f < F; f++) {
    const s = alignment.scales[f]!;
    const d = depth[f]!;
    for (let p = 0; p < hw; p++) {
      if (valid[f]![p]) {
        d[p] = d[p]! * s;
        if (d[p]! > far) far = d[p]!;
      }
    }
  }
  if (!(far > 0 && Number.isFinite(far))) throw new PrepareInputError('the depth model found no valid depth in any frame; check that --depth-model is a trained MoGe-2 model');
  for (let f = 0; f < F; f++) for (let p = 0; p < hw; p++) if (!valid[f]![p]) depth[f]![p] = far;
  return { depth, focalPixels, focalSource, alignment, keyframes: keys, numTokens: tokens.n };
}
