// `egox demo`: the whole generate path on the built-in default, with no download: a synthetic
// room scene rendered by egox (official input layout), deterministic tiny random weights, the
// ego prior rendered by egox's renderer, then generate at a reduced size so it finishes in
// minutes on a CPU (lavapipe). The prompt goes through the (tiny) umT5 and the first frame through
// the (tiny) CLIP, as with the real model. The weights are untrained: the generated half is noise.
import * as path from 'node:path';
import type { EgoxDevice } from '../runtime/device.ts';
import { DEMO_TAKE, writeDemoScene } from './scene/index.ts';
import { ensureDemoWeights, type DemoWeights } from './weights.ts';
import { generate, type GenerateResult } from '../pipeline/generate.ts';
import type { ProgressCallback } from '../pipeline/progress.ts';

export interface DemoOptions {
  /** Output folder: scene/ (the inputs) and the generated files (default out/demo). */
  out?: string;
  /** Where the generated weights live (default weights/generated). */
  weightsDir?: string;
  /** Ego side in pixels (default 128; 448 is EgoX's size and takes much longer). */
  size?: number;
  steps?: number;
  /** Clip length, 1 + 4k (default 49). */
  frames?: number;
  seed?: number;
  onProgress?: ProgressCallback;
}

export const DEMO_DEFAULTS = { out: 'out/demo', weightsDir: 'weights/generated', size: 128, steps: 10, seed: 42 } as const;

export interface DemoResult extends GenerateResult {
  metaPath: string;
  weights: DemoWeights;
}

export async function runDemo(dev: EgoxDevice, o: DemoOptions = {}): Promise<DemoResult> {
  const out = o.out ?? DEMO_DEFAULTS.out;
  const weights = await ensureDemoWeights(o.weightsDir ?? DEMO_DEFAULTS.weightsDir);
  const scene = await writeDemoScene(path.join(out, 'scene'), { reuse: true });
  const result = await generate(dev, {
    meta: scene.metaPath,
    take: DEMO_TAKE,
    model: weights.modelDir,
    lora: weights.loraPath,
    out,
    size: o.size ?? DEMO_DEFAULTS.size,
    steps: o.steps ?? DEMO_DEFAULTS.steps,
    seed: o.seed ?? DEMO_DEFAULTS.seed,
    frames: o.frames,
    renderPrior: true,
    weightDtype: 'f32',
    onProgress: o.onProgress,
  });
  return { ...result, metaPath: scene.metaPath, weights };
}
