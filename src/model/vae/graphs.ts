// One graph per chunk shape: the encoder on its first chunk (1 frame) and on every later chunk
// (4 frames), the decoder on its first latent frame and on every later one. Graph input 'x',
// output 'out'; every other output is a frame-cache state ('cache:<layer>') that the next run
// continues from. The shapes do not depend on the clip length, so neither does memory.

import { GraphBuilder } from '../../graph/builder.ts';
import type { Graph } from '../../graph/ir.ts';
import type { ConvShapeSpec, ConvVariant } from '../../kernels/conv/index.ts';
import { cachedConv, downsample, midBlock, pointConv, resBlock, rmsNorm, upsample, type ChunkContext } from './blocks.ts';
import { decoderBlocks, encoderLayers, spatialFactor, temporalFactor, type VaeConfig } from './config.ts';
import type { FloatDType } from '../../runtime/dtype.ts';

export interface ChunkGraphOptions {
  /** Pixel height and width of the frames (multiples of 8). */
  height: number;
  width: number;
  first: boolean;
  weightDtype?: FloatDType;
  variant?: ConvVariant | ((spec: ConvShapeSpec) => ConvVariant);
}

export const OUTPUT = 'out';
export const INPUT = 'x';

/** Frames per encoder chunk after the first (the temporal compression factor). */
export function encoderChunkFrames(cfg: VaeConfig, first: boolean): number {
  return first ? 1 : temporalFactor(cfg);
}

/** Encoder chunk: frames [3, F, H, W] -> [2 * zDim, F', H/8, W/8] (mu, then the unused logvar). */
export function buildEncoderChunk(cfg: VaeConfig, o: ChunkGraphOptions): Graph {
  const g = new GraphBuilder();
  const c: ChunkContext = { g, first: o.first, weightDtype: o.weightDtype ?? 'f32', variant: o.variant };
  let x = g.input(INPUT, [3, encoderChunkFrames(cfg, o.first), o.height, o.width]);
  const { layers } = encoderLayers(cfg);
  x = cachedConv(c, x, 'encoder.conv_in', cfg.baseDim);
  for (const layer of layers) {
    const name = `encoder.down_blocks.${layer.index}`;
    x = layer.kind === 'res' ? resBlock(c, x, name, layer.cout) : downsample(c, x, name, layer.temporal);
  }
  x = midBlock(c, x, 'encoder.mid_block');
  x = rmsNorm(c, x, 'encoder.norm_out', true);
  x = cachedConv(c, x, 'encoder.conv_out', 2 * cfg.zDim);
  g.output(OUTPUT, pointConv(c, x, 'quant_conv', 2 * cfg.zDim));
  return g.build();
}

/** Decoder chunk: one latent frame [zDim, 1, h, w] (de-normalised) -> [3, 1 or 4, 8h, 8w] (not clamped). */
export function buildDecoderChunk(cfg: VaeConfig, o: ChunkGraphOptions): Graph {
  const g = new GraphBuilder();
  const c: ChunkContext = { g, first: o.first, weightDtype: o.weightDtype ?? 'f32', variant: o.variant };
  const s = spatialFactor(cfg);
  let x = g.input(INPUT, [cfg.zDim, 1, o.height / s, o.width / s]);
  const { blocks, top } = decoderBlocks(cfg);
  x = pointConv(c, x, 'post_quant_conv', cfg.zDim);
  x = cachedConv(c, x, 'decoder.conv_in', top);
  x = midBlock(c, x, 'decoder.mid_block');
  for (const b of blocks) {
    for (let j = 0; j < b.resnets; j++) x = resBlock(c, x, `decoder.up_blocks.${b.index}.resnets.${j}`, b.cout);
    if (b.upsample) x = upsample(c, x, `decoder.up_blocks.${b.index}.upsamplers.0`, b.upsample);
  }
  x = rmsNorm(c, x, 'decoder.norm_out', true);
  g.output(OUTPUT, cachedConv(c, x, 'decoder.conv_out', 3));
  return g.build();
}

/** The names of a chunk graph's cache states. */
export function stateNames(graph: Graph): string[] {
  return [...graph.outputs.keys()].filter((n) => n !== OUTPUT);
}
