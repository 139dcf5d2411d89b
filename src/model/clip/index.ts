// CLIP vision's library API (what the pipeline calls).

import type { EgoxDevice } from '../../runtime/device.ts';
import { ClipVisionEncoder, findClipVision } from './encoder.ts';
import type { NetworkLoadOptions } from '../load-options.ts';

export { ClipVisionEncoder, findClipVision, type ClipPaths } from './encoder.ts';
export { CLIP_VIT_H14, OPENAI_CLIP_PREPROCESS, ClipModelError, clipConfigFromJson, preprocessConfigFromJson, type ClipPreprocessConfig, type ClipVisionConfig } from './config.ts';
export { CLIP_IO, buildClipGraph } from './graph.ts';
export { planClipVision } from './plan.ts';
export { preprocessPlan, resizedSize, rgb8ToPlanar, unitFloatToRgb8 } from './preprocess.ts';

/** Whether `modelDir` holds a CLIP image encoder (a folder's needs its image processor config). */
export function hasClipVision(modelDir: string): boolean {
  const p = findClipVision(modelDir);
  return Boolean(p && (p.preprocessorJson || !p.configJson));
}

/**
 * An 8-bit RGB image (interleaved, row-major) -> CLIP hidden_states[-2], [tokens, hidden]
 * row-major (257 x 1280 for ViT-H/14): resize shortest edge (bicubic, PIL's 8-bit rounding),
 * centre crop, / 255, normalise, on the GPU; then the encoder without its last layer.
 */
export async function encodeImage(
  dev: EgoxDevice,
  modelDir: string,
  image: { width: number; height: number; rgb: Uint8Array },
  opts: NetworkLoadOptions = {},
): Promise<Float32Array> {
  const enc = await ClipVisionEncoder.open(dev, modelDir, opts);
  try {
    return await enc.encodeRgb8(image);
  } finally {
    await enc.close();
  }
}
