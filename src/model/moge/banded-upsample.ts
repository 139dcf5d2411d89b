// MoGe's bilinear resampler (2x bilinear upsampling, then a 3x3 conv with replicate padding) in
// row bands, for maps past the storage binding limit (at 3,600 tokens on 784x448 the upsampled
// 64x720x1264 map is 222 MiB; lavapipe binds 128 MiB). The replicate padding is folded into
// the resize tables (a padded row or column is the resize's edge sample again), so each band
// of the padded, upsampled map is computed directly: the horizontal pass once (it holds half
// the upsampled map), the vertical pass per band of output rows plus a one-row halo,
// the conv unpadded on the band (with the variant the whole map would get), the bands
// concatenated. Every value is computed by the same arithmetic as unsplit: bitwise equal.

import type { ConvShapeSpec, ConvVariant } from '../../kernels/conv/index.ts';
import type { Value } from '../../graph/ir.ts';
import type { ModelGraph } from '../../graph/ops/index.ts';
import { conv2dOp } from '../../graph/ops/conv.ts';
import { resizeAxisOp } from '../../graph/ops/resize.ts';

const BILINEAR_2X = { mode: 'bilinear', scaleFactor: 2 } as const;
/** Slack a binding window may need for its alignment (binding-window.ts). */
const ALIGN_SLACK = 512;

/** Indices lo-1 .. hi (clamped later by the resize op): rows lo..hi-1 with a replicate halo. */
const padded = (lo: number, hi: number) => Array.from({ length: hi - lo + 2 }, (_, i) => lo - 1 + i);

/** Does the unsplit resampler bind more than `limit` bytes (its padded, upsampled map)? */
export function upsampleNeedsBands(C: number, H: number, W: number, limit: number): boolean {
  return 4 * C * (2 * H + 2) * (2 * W + 2) + ALIGN_SLACK > limit;
}

export interface BandedUpsampleOptions {
  name: { upsample: string; conv: string };
  weight: Value;
  bias: Value;
  limit: number;
  variant?: (spec: ConvShapeSpec) => ConvVariant;
}

/**
 * x [C, 1, H, W] -> conv3x3(replicate pad(upsample2x(x))) [cout, 1, 2H, 2W], in bands that fit
 * `limit`; undefined when no banding fits (the caller builds it whole and the planner names a
 * token budget that fits).
 */
export function bandedUpsampleConv(g: ModelGraph, x: Value, o: BandedUpsampleOptions): Value | undefined {
  const [C, , H, W] = x.shape as [number, number, number, number];
  const cout = o.weight.shape[0]!;
  const [OH, OW] = [2 * H, 2 * W];
  const fit = o.limit - ALIGN_SLACK;
  // Bands: the [C, rb + 2, OW + 2] input and the [cout, rb, OW] output of each conv must fit,
  // and so must the horizontal pass [C, H, OW + 2] and the whole output [cout, OH, OW].
  const rb = Math.min(OH, Math.floor(fit / (4 * (OW + 2) * C)) - 2, Math.floor(fit / (4 * OW * cout)));
  if (rb < 1 || 4 * C * H * (OW + 2) > fit || 4 * cout * OH * OW > fit) return undefined;
  const horizontal = resizeAxisOp(g, g.reshape(x, [C, H, W]), 'x', OW, BILINEAR_2X, { rows: padded(0, OW), name: o.name.upsample });
  // The variant the unsplit conv would get, so each band sums in the same order.
  const whole = (spec: ConvShapeSpec): ConvShapeSpec => ({ ...spec, inH: OH + 2 });
  const variant = o.variant ? (spec: ConvShapeSpec) => o.variant!(whole(spec)) : undefined;
  const bands: Value[] = [];
  for (let r0 = 0; r0 < OH; r0 += rb) {
    const r1 = Math.min(OH, r0 + rb);
    const band = resizeAxisOp(g, horizontal, 'y', OH, BILINEAR_2X, { rows: padded(r0, r1), name: `${o.name.upsample}.rows${r0}` });
    bands.push(conv2dOp(g, g.reshape(band, [C, 1, r1 - r0 + 2, OW + 2]), o.weight, o.bias, { name: `${o.name.conv}.rows${r0}`, variant }));
  }
  return bands.length === 1 ? bands[0]! : g.concat(bands, 2, `${o.name.conv}.bands`);
}
