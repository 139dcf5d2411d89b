// MoGe-2's network as one graph per (image size, token grid): encoder, the UV-concatenating
// neck, the heads on its last level, the scale MLP on the class token, the final bilinear
// resize to the image size and the output maps (remap_output on points, normalised normals,
// sigmoid mask, exp scale), all channels-last as MoGeModel.forward returns them.

import type { ConvShapeSpec, ConvVariant } from '../../kernels/conv/index.ts';
import type { Graph, Value } from '../../graph/ir.ts';
import { channelsLastOp } from '../../graph/ops/channels-last.ts';
import { ModelGraph } from '../../graph/ops/index.ts';
import { resize2dOp } from '../../graph/ops/resize.ts';
import type { ChannelMap } from '../../kernels/elementwise/index.ts';
import type { DType } from '../../runtime/dtype.ts';
import type { MogeConfig, Remap } from './config.ts';
import { buildConvStack } from './conv-stack.ts';
import { buildEncoder } from './encoder.ts';
import { MOGE_HEADS, MOGE_NAMES } from './names.ts';

export const MOGE_IO = {
  /** [3, H, W] f32 in 0..1. */
  image: 'image',
  points: 'points',
  normal: 'normal',
  mask: 'mask',
  metricScale: 'metric_scale',
} as const;

export interface MogeGraphOptions {
  height: number;
  width: number;
  rows: number;
  cols: number;
  weightDtype?: DType;
  variant?: (spec: ConvShapeSpec) => ConvVariant;
  /** The adapter's storage binding limit: the last levels' resamplers split into bands past it. */
  bindingLimit?: number;
}

/** normalized_view_plane_uv: planar [2, h, w], corners at +-(w-1)/w and +-(h-1)/h of the half spans. */
export function viewPlaneUv(w: number, h: number, aspect: number): Float32Array {
  const spanX = aspect / Math.sqrt(1 + aspect * aspect);
  const spanY = 1 / Math.sqrt(1 + aspect * aspect);
  const lin = (n: number, span: number, i: number) => (n === 1 ? 0 : -span * ((n - 1) / n) + (2 * span * ((n - 1) / n) * i) / (n - 1));
  const out = new Float32Array(2 * h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      out[y * w + x] = lin(w, spanX, x);
      out[h * w + y * w + x] = lin(h, spanY, y);
    }
  }
  return out;
}

const REMAP: Record<Remap, ChannelMap> = { linear: 'identity', sinh: 'sinh', exp: 'xy_times_exp_z', sinh_exp: 'sinh_xy_exp_z' };

export function buildMogeGraph(c: MogeConfig, o: MogeGraphOptions): Graph {
  const g = new ModelGraph();
  const wd = o.weightDtype ?? 'f32';
  const { height: H, width: W, rows, cols } = o;
  const image = g.input(MOGE_IO.image, [3, H, W], 'f32');
  const { features, clsToken } = buildEncoder(g, c, image, rows, cols, wd);

  const aspect = W / H;
  const uv = (l: number) => {
    const [h, w] = [rows * 2 ** l, cols * 2 ** l];
    return g.constant(`moge-uv:${w}x${h}@${aspect}`, [2, 1, h, w], viewPlaneUv(w, h, aspect));
  };
  const level0 = g.concat([g.reshape(features, [c.dimOut, 1, rows, cols]), uv(0)], 0, 'features_uv');
  const ctx = { g, wd, variant: o.variant, bindingLimit: o.bindingLimit };
  const neckOut = buildConvStack(ctx, c.neck, 'neck', [level0, uv(1), uv(2), uv(3), uv(4)], new Set([0, 1, 2, 3, 4]));
  const levels = [0, 1, 2, 3, 4].map((i) => neckOut.get(i)!);

  for (const head of MOGE_HEADS) {
    const s = c.heads[head];
    if (!s) continue;
    const y = buildConvStack(ctx, s, head, levels, new Set([4])).get(4)!;
    const [C, , h, w] = y.shape as [number, number, number, number];
    g.segment(`${head}.output`);
    const full = resize2dOp(g, g.reshape(y, [C, h, w]), H, W, { rule: { mode: 'bilinear' }, name: `${head}.resize` });
    if (head === 'points_head') g.output(MOGE_IO.points, channelsLastOp(g, full, REMAP[c.remap], [H, W, 3], 'points.remap'));
    else if (head === 'normal_head') g.output(MOGE_IO.normal, channelsLastOp(g, full, 'normalize', [H, W, 3], 'normal.normalize'));
    else g.output(MOGE_IO.mask, channelsLastOp(g, full, 'sigmoid', [H, W], 'mask.sigmoid'));
  }

  if (c.scaleDims) {
    g.segment('scale_head');
    let h: Value = clsToken;
    const d = c.scaleDims;
    for (let k = 0; k + 1 < d.length; k++) {
      const n = MOGE_NAMES.scaleLinear(k);
      h = g.linear(h, g.weight(`${n}.weight`, [d[k + 1]!, d[k]!], wd), g.weight(`${n}.bias`, [d[k + 1]!], 'f32'), {}, n);
      if (k + 2 < d.length) h = g.relu(h, `${n}.relu`);
    }
    g.output(MOGE_IO.metricScale, channelsLastOp(g, h, 'exp', [1], 'metric_scale.exp'));
  }
  return g.build();
}
