// The conditioning embeddings of a run: the prompt (the take's, or --prompt) and the negative
// prompt ("" as EgoX, or --negative-prompt) through umT5 (or --prompt-embeds), and CLIP features of the first frame of the VAE-decoded
// [clean exo | noise] latent (egox-official.md C.6; or --image-embeds).
import type { EgoxDevice } from '../runtime/device.ts';
import type { Embedding, GivenEmbeddings } from './embeddings.ts';
import type { ResolvedGenerateOptions } from './generate-options.ts';
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

/** The few values of a run the embed stage reads. */
export interface EmbedStageInputs {
  /** The encoders (folders or files, model-folder.ts) and where a single-file text encoder finds its tokenizer. */
  textEncoder: string | null;
  imageEncoder: string | null;
  tokenizerRoot: string | undefined;
  /** Prompt and negative prompt for umT5 (unused when `given` holds both embeddings). */
  prompts: [prompt: string, negative: string];
  given: GivenEmbeddings;
  /** The transformer's context widths: umT5 rows and CLIP rows are reshaped to them. */
  textDim: number;
  imageDim: number;
  /** How the encoders hold their weights. */
  /** How the encoders load (weight dtype, the shared memory budget). */
  load: NetworkLoadOptions;
}

/** The prompts umT5 encodes: --prompt or the take's, and --negative-prompt (resolved to "" as EgoX). */
export function runPrompts(opt: Pick<ResolvedGenerateOptions, 'prompt' | 'negativePrompt'>, takePrompt: string): [prompt: string, negative: string] {
  return [opt.prompt ?? takePrompt, opt.negativePrompt];
}

export async function conditioningEmbeddings(
  dev: EgoxDevice,
  inp: EmbedStageInputs,
  latents: Latent,
  decode: (l: Latent) => Promise<Latent>,
  progress: ProgressTracker,
): Promise<RunEmbeddings> {
  const { given, textDim, imageDim } = inp;
  // `given` holds exactly what --prompt-embeds / --image-embeds supplied.
  progress.begin('embed', `${given.cond ? 'prompt from --prompt-embeds' : 'umT5 prompt'}, ${given.image ? 'image from --image-embeds' : 'CLIP first frame'}`);
  let cond: Embedding;
  let uncond: Embedding;
  if (given.cond && given.uncond) {
    cond = given.cond;
    uncond = given.uncond;
  } else {
    const [p, n] = await encodePrompts(dev, needEncoder(inp.textEncoder, 'text'), inp.prompts, inp.load, inp.tokenizerRoot);
    const rows = p!.length / textDim;
    cond = { shape: [rows, textDim], data: p! };
    uncond = { shape: [rows, textDim], data: n! };
  }
  progress.tick(1, 2);
  let clip: Embedding;
  if (given.image) {
    clip = given.image;
  } else {
    const data = await encodeImage(dev, needEncoder(inp.imageEncoder, 'image'), await clipInputImage(latents, decode), inp.load);
    clip = clipEmbedding(data, imageDim);
  }
  progress.tick(2, 2);
  return { cond, uncond, clip };
}

/** The image CLIP sees: the first decoded frame of the [clean exo | noise] latent, as 8-bit RGB. */
export async function clipInputImage(latents: Latent, decode: (l: Latent) => Promise<Latent>): Promise<{ width: number; height: number; rgb: Uint8Array }> {
  // Pixel frame 0 depends only on latent frame 0 (the VAE is causal): decode just that.
  const frame = await decode(sliceFrames(latents, 0, 1)); // [3, 1, H, W] in [-1, 1]
  const [, , H, W] = frame.shape;
  const unit = frame.data.map((v) => (v + 1) / 2); // the processor's input, do_rescale off
  return unitFloatToRgb8(unit, W, H);
}

export function clipEmbedding(data: Float32Array, imageDim: number): Embedding {
  return { shape: [data.length / imageDim, imageDim], data };
}

/** An encoder's path; the input checks made sure it is there when its embeddings were not given. */
export function needEncoder(p: string | null, which: string): string {
  if (p === null) throw new Error(`internal: the ${which} encoder is needed but was not resolved`);
  return p;
}
