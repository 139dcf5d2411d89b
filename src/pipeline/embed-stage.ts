// The conditioning embeddings of a run: the prompt (the take's, or --prompt) and the negative
// prompt ("" as EgoX, or --negative-prompt) through umT5 (or --prompt-embeds), and CLIP features of the first frame of the VAE-decoded
// [clean exo | noise] latent (egox-official.md C.6; or --image-embeds).
import type { EgoxDevice } from '../runtime/device.ts';
import type { Embedding } from './embeddings.ts';
import type { CheckedInputs } from './generate-inputs.ts';
import type { Latent } from './latent-layout.ts';
import { sliceFrames } from './latent-frames.ts';
import { encodePrompts } from '../model/umt5/index.ts';
import { encodeImage, unitFloatToRgb8 } from '../model/clip/index.ts';
import type { ProgressTracker } from './progress.ts';
import type { NetworkLoadOptions } from '../model/load-options.ts';

export interface RunEmbeddings {
  cond: Embedding;
  uncond: Embedding;
  clip: Embedding;
}

export async function conditioningEmbeddings(
  dev: EgoxDevice,
  inp: CheckedInputs,
  latents: Latent,
  decode: (l: Latent) => Promise<Latent>,
  progress: ProgressTracker,
  load: NetworkLoadOptions,
): Promise<RunEmbeddings> {
  const { options: opt, model } = inp;
  const c = inp.dit.config;
  progress.begin('embed', `${opt.promptEmbeds ? 'prompt from --prompt-embeds' : 'umT5 prompt'}, ${opt.imageEmbeds ? 'image from --image-embeds' : 'CLIP first frame'}`);
  let cond: Embedding;
  let uncond: Embedding;
  if (inp.given.cond && inp.given.uncond) {
    cond = inp.given.cond;
    uncond = inp.given.uncond;
  } else {
    const [p, n] = await encodePrompts(dev, model.root, [opt.prompt ?? inp.take.prompt, opt.negativePrompt], load);
    const rows = p!.length / c.textDim;
    cond = { shape: [rows, c.textDim], data: p! };
    uncond = { shape: [rows, c.textDim], data: n! };
  }
  progress.tick(1, 2);
  let clip: Embedding;
  if (inp.given.image) {
    clip = inp.given.image;
  } else {
    // Pixel frame 0 depends only on latent frame 0 (the VAE is causal): decode just that.
    const frame = await decode(sliceFrames(latents, 0, 1)); // [3, 1, H, W] in [-1, 1]
    const [, , H, W] = frame.shape;
    const unit = frame.data.map((v) => (v + 1) / 2); // the processor's input, do_rescale off
    const data = await encodeImage(dev, model.root, unitFloatToRgb8(unit, W, H), load);
    clip = { shape: [data.length / c.imageDim!, c.imageDim!], data };
  }
  progress.tick(2, 2);
  return { cond, uncond, clip };
}
