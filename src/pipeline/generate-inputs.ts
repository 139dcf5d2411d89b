// The inputs of a generate run, checked before any slow work (device, weights, decoding):
// the take and its depth maps, the videos, the model folder, embeddings files, the output folder.
import * as fs from 'node:fs';
import { probeVideo, VideoError, type VideoInfo } from '../io/video.ts';
import { findEgoxTake, hasDepth, loadEgoxTake, type EgoxTake, type EgoxTakeWithDepth } from '../io/meta.ts';
import { EMBEDDING_NAMES, EmbeddingsError, readEmbeddings, type GivenEmbeddings } from './embeddings.ts';
import { GenerateOptionError, resolveGenerateOptions, runSizes, type GenerateOptions, type ResolvedGenerateOptions } from './generate-options.ts';
import { ModelFolderError, openModelFolder, requireEncoder, type ModelFolder } from './model-folder.ts';
import { WanModel } from '../model/wan/model.ts';
import { openVaeCheckpoint } from '../model/vae/checkpoint.ts';
import { Umt5Encoder } from '../model/umt5/encoder.ts';
import { ClipVisionEncoder } from '../model/clip/encoder.ts';
import { OutputStage } from './staging.ts';
import { allOutputs } from './output-names.ts';
import { needEncoder } from './embed-stage.ts';

export interface CheckedInputs {
  options: ResolvedGenerateOptions;
  /** With its depth maps unless the run needs none (--no-gga with a shipped prior). */
  take: EgoxTake | EgoxTakeWithDepth;
  exoVideo: VideoInfo;
  /** null with --render-prior. */
  priorVideo: VideoInfo | null;
  /** Ground-truth ego video for the contact sheet, when the meta names a readable one. */
  gtVideo: VideoInfo | null;
  model: ModelFolder;
  /** The opened transformer with its adapter attached (headers only; close with closeInputs). */
  dit: WanModel;
  /** From --prompt-embeds / --image-embeds, read and checked against the model up front. */
  given: GivenEmbeddings;
  sizes: ReturnType<typeof runSizes>;
}

async function probeInput(file: string, what: string, frames: number): Promise<VideoInfo> {
  if (!fs.existsSync(file)) throw new VideoError(file, `${what} not found; check the path in meta.json`);
  // Counted by decoding: a container may not state its frame count, or state a wrong one.
  const info = await probeVideo(file, { countFrames: true });
  if (info.frames! < frames) {
    throw new VideoError(file, `${what} has ${info.frames} frames (counted by decoding); the run needs ${frames} (--frames)`);
  }
  return info;
}

export async function checkGenerateInputs(o: GenerateOptions): Promise<CheckedInputs> {
  const options = resolveGenerateOptions(o);
  OutputStage.check(options.out);
  const takeInputs = await checkTakeInputs(options, options.take);
  return { ...takeInputs, ...(await checkModelInputs(options)) };
}

/** One take's inputs: meta entry, depth folder, videos (what a batch checks per take). */
export type TakeInputs = Pick<CheckedInputs, 'take' | 'exoVideo' | 'priorVideo' | 'gtVideo'>;
/** What every take of a run shares: options, sizes, model folder, opened DiT, given embeddings. */
export type ModelInputs = Omit<CheckedInputs, keyof TakeInputs>;

export async function checkTakeInputs(options: ResolvedGenerateOptions, takeName: string | undefined): Promise<TakeInputs> {
  // Depth feeds only the attention geometry and egox's own prior: the official in-the-wild
  // takes ship a prior and no depth maps, and run without geometry.
  const needsDepth = options.ggaLambda !== null || options.renderPrior;
  const take = needsDepth
    ? loadEgoxTake(options.meta, takeName, { depthDir: options.depthDir, requiredEgoPoses: options.frames, requiredDepthFrames: options.frames })
    : findEgoxTake(options.meta, takeName, { requiredEgoPoses: options.frames });
  // A folder named like an output would make the final move fail after all the work.
  OutputStage.checkDestinations(options.out, allOutputs(take.name, options));
  if (hasDepth(take) && options.ggaLambda !== null) {
    const [dh, dw] = take.depthShape;
    if (dh < 448 || dw < 784) {
      throw new GenerateOptionError(`${take.depthDir}: depth maps are ${dh}x${dw}; the attention geometry needs at least 448x784 (the exo view's grid)`);
    }
  }
  const exoVideo = await probeInput(take.exoPath, 'exo video (exo_path)', options.frames);
  const priorVideo = options.renderPrior ? null : await probeInput(take.egoPriorPath, 'ego prior (ego_prior_path; or pass --render-prior)', options.frames);
  let gtVideo: VideoInfo | null = null;
  if (take.egoGtPath && fs.existsSync(take.egoGtPath)) gtVideo = await probeVideo(take.egoGtPath).catch(() => null);
  return { take, exoVideo, priorVideo, gtVideo };
}

export async function checkModelInputs(options: ResolvedGenerateOptions): Promise<ModelInputs> {
  const sizes = runSizes(options.size, options.frames);
  for (const [flag, file] of [['--prompt-embeds', options.promptEmbeds], ['--image-embeds', options.imageEmbeds]] as const) {
    if (file !== undefined && !fs.existsSync(file)) throw new EmbeddingsError(`${flag} ${file}: file not found`);
  }
  const model = openModelFolder(options.model, options.files);
  if (options.promptEmbeds === undefined) requireEncoder(model, 'text');
  const adapters = options.lora === undefined ? [] : typeof options.lora === 'string' ? [{ file: options.lora }] : options.lora;
  for (const a of adapters) if (!fs.existsSync(a.file)) throw new GenerateOptionError(`--lora ${a.file}: file not found (EgoX's adapter is pytorch_lora_weights.safetensors)`);
  // The VAE's config against its weights now (headers only), not after the videos are decoded.
  const vae = await openVaeCheckpoint(model.vae);
  await (vae.source as { close?: () => Promise<void> }).close?.();
  const lora = adapters.map((a) => ({ file: a.file, strength: a.strength ?? options.loraStrength, lenient: options.loraLenient }));
  const dit = await WanModel.open(model.transformer, { lora });
  try {
    const c = dit.config;
    if (c.inDim !== 36 || c.outDim !== 16 || !c.imageDim) {
      throw new ModelFolderError(`${model.transformer}: in_channels ${c.inDim}, image_dim ${c.imageDim ?? 'none'}; EgoX needs the image-to-video transformer (in_channels 36, with image_dim), e.g. ${'Wan2.1-I2V-14B-480P'}`);
    }
    if (options.imageEmbeds === undefined) requireEncoder(model, 'image');
    // The encoders' configs and the tokenizer now, not after the videos are encoded.
    if (options.promptEmbeds === undefined) Umt5Encoder.checkFiles(needEncoder(model.textEncoder, 'text'), model.tokenizerRoot);
    if (options.imageEmbeds === undefined) ClipVisionEncoder.checkFiles(needEncoder(model.imageEncoder, 'image'));
    const given = await readGivenEmbeddings(options, c.textDim, c.imageDim);
    return { options, model, dit, given, sizes };
  } catch (e) {
    await dit.close();
    throw e;
  }
}

/** The take's depth maps, which checkGenerateInputs loaded whenever the run needs them. */
export function takeDepth(take: EgoxTake): EgoxTakeWithDepth {
  if (!hasDepth(take)) throw new Error(`take ${take.name}: depth maps were not loaded, but the run needs them`);
  return take;
}

export async function closeInputs(inp: Pick<CheckedInputs, 'dit'>): Promise<void> {
  await inp.dit.close();
}

/** --prompt-embeds (prompt + negative, equal lengths) and --image-embeds, shapes checked against the model. */
async function readGivenEmbeddings(
  o: Pick<ResolvedGenerateOptions, 'promptEmbeds' | 'imageEmbeds' | 'guidance'>,
  textDim: number,
  imageDim: number,
): Promise<GivenEmbeddings> {
  const given: GivenEmbeddings = {};
  if (o.promptEmbeds) {
    const m = await readEmbeddings(o.promptEmbeds, '--prompt-embeds', [
      { name: EMBEDDING_NAMES.prompt, cols: textDim, required: true },
      { name: EMBEDDING_NAMES.negative, cols: textDim, required: o.guidance !== 1 },
    ]);
    given.cond = m.get(EMBEDDING_NAMES.prompt)!;
    given.uncond = m.get(EMBEDDING_NAMES.negative) ?? given.cond; // unused when guidance is 1
    if (given.uncond.shape[0] !== given.cond.shape[0]) {
      throw new EmbeddingsError(`--prompt-embeds ${o.promptEmbeds}: prompt_embeds has ${given.cond.shape[0]} rows and negative_prompt_embeds ${given.uncond.shape[0]}; pad both to the same length (512)`);
    }
  }
  if (o.imageEmbeds) {
    given.image = (await readEmbeddings(o.imageEmbeds, '--image-embeds', [{ name: EMBEDDING_NAMES.image, cols: imageDim, required: true }])).get(EMBEDDING_NAMES.image)!;
  }
  return given;
}
