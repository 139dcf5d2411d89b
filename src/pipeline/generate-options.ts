// Options of a generate run, their defaults (the official EgoX settings) and their checks.
import type { PriorOptions } from './prior.ts';
import type { ComponentFiles } from './model-folder.ts';
import type { ProgressCallback } from './progress.ts';
import { InputError } from '../runtime/errors.ts';
import type { FloatDType } from '../runtime/dtype.ts';

export class GenerateOptionError extends InputError {}

export interface GenerateOptions {
  /** EgoX meta.json and the take in it (optional when it holds one). */
  meta: string;
  take?: string;
  /** Depth folder; default <meta dir>/depth_maps/<take>/. */
  depthDir?: string;
  /** The model folder: diffusers (transformer/, vae/, ...) or the original Wan2.1 release. */
  model?: string;
  /** Components as their own files (ComfyUI's single files), over --model or instead of it. */
  files?: ComponentFiles;
  /** EgoX LoRA adapter, merged into the weights on the GPU at load. */
  /** One adapter file, or several stacked, each with its own strength (default loraStrength). */
  lora?: string | readonly { file: string; strength?: number }[];
  loraStrength?: number;
  loraLenient?: boolean;
  /** Output folder (created if missing). */
  out: string;
  /** Denoising steps (50), guidance scale (5), noise seed (42). */
  steps?: number;
  guidance?: number;
  seed?: number;
  /** GGA strength (3); null = no geometry-guided attention. */
  ggaLambda?: number | null;
  /** Pixel frames, 1 + 4k (49). */
  frames?: number;
  /**
   * Ego side in pixels (448); the exo view is 7/4 as wide (784). Smaller sizes (a multiple of
   * 64 dividing 3584: 64, 128, 256) keep the same geometry and exist for quick runs (the demo).
   */
  size?: number;
  /** Text for umT5 instead of the take's prompt in meta.json. */
  prompt?: string;
  /** Negative prompt for classifier-free guidance ("" as EgoX). */
  negativePrompt?: string;
  /** Precomputed embeddings (safetensors): prompt_embeds + negative_prompt_embeds, image_embeds. */
  promptEmbeds?: string;
  imageEmbeds?: string;
  /** Render the ego prior with egox's renderer instead of reading ego_prior_path. */
  renderPrior?: boolean;
  priorOptions?: Pick<PriorOptions, 'egoCalibration' | 'masksDir' | 'dynamic'>;
  /** GPU memory budget: weights stream block by block past it. */
  gpuMemoryBytes?: number;
  /** Weight storage on the GPU (bf16, as the official code runs). */
  weightDtype?: FloatDType;
  /** Also write png/<take>_ego_NNNNN.png. */
  png?: boolean;
  /** Rows of the contact sheet (5). */
  sheetFrames?: number;
  onProgress?: ProgressCallback;
}

type OptionalSettings = 'take' | 'depthDir' | 'lora' | 'prompt' | 'promptEmbeds' | 'imageEmbeds' | 'gpuMemoryBytes' | 'onProgress' | 'priorOptions' | 'model' | 'files';
export type ResolvedGenerateOptions = Required<Omit<GenerateOptions, OptionalSettings>> & Pick<GenerateOptions, OptionalSettings>;

/** The official EgoX settings (egox-official.md C.8, D, A.5). */
export const GENERATE_DEFAULTS = {
  steps: 50,
  guidance: 5,
  seed: 42,
  ggaLambda: 3,
  frames: 49,
  size: 448,
  weightDtype: 'bf16',
  sheetFrames: 5,
} as const;

/** Every ego size keeps the reference crop of the depth grid: 448 x 784 pixels = (8 * 448 / size) per latent cell. */
export const GEOMETRY_SPAN = 8 * 448;

/** Wan's flow-matching schedulers are trained on 1000 timesteps. */
export const MAX_STEPS = 1000;
/** Far above EgoX's 49; keeps one run's frame buffers a number the host can hold. */
export const MAX_FRAMES = 1001;
/** Below this no network of the run fits at all; it catches '0.5' meaning GiB. */
export const MIN_GPU_MEMORY = 64 * 2 ** 20;
/** umT5 truncates at 512 tokens; a prompt far longer is a mistake (a file pasted in). */
export const MAX_PROMPT_CHARS = 100_000;

export function resolveGenerateOptions(o: GenerateOptions): ResolvedGenerateOptions {
  const r: ResolvedGenerateOptions = {
    ...o,
    steps: o.steps ?? GENERATE_DEFAULTS.steps,
    guidance: o.guidance ?? GENERATE_DEFAULTS.guidance,
    seed: o.seed ?? GENERATE_DEFAULTS.seed,
    ggaLambda: o.ggaLambda === undefined ? GENERATE_DEFAULTS.ggaLambda : o.ggaLambda,
    frames: o.frames ?? GENERATE_DEFAULTS.frames,
    size: o.size ?? GENERATE_DEFAULTS.size,
    weightDtype: o.weightDtype ?? GENERATE_DEFAULTS.weightDtype,
    sheetFrames: o.sheetFrames ?? GENERATE_DEFAULTS.sheetFrames,
    negativePrompt: o.negativePrompt ?? '',
    loraStrength: o.loraStrength ?? 1,
    loraLenient: o.loraLenient ?? false,
    renderPrior: o.renderPrior ?? false,
    png: o.png ?? false,
  };
  const int = (name: string, v: number, min: number, max: number, why: string) => {
    if (!Number.isInteger(v) || v < min || v > max) throw new GenerateOptionError(`--${name} ${v}: expected a whole number from ${min} to ${max}${why}`);
  };
  // Upper bounds up front, so a typo fails now and not after minutes of encoding.
  int('steps', r.steps, 1, MAX_STEPS, ` (the scheduler has ${MAX_STEPS} training timesteps)`);
  int('seed', r.seed, 0, Number.MAX_SAFE_INTEGER, ' (2^53 - 1)');
  int('frames', r.frames, 1, MAX_FRAMES, '');
  int('sheet-frames', r.sheetFrames, 1, MAX_FRAMES, '');
  if ((r.frames - 1) % 4 !== 0) throw new GenerateOptionError(`--frames ${r.frames}: the Wan VAE needs 1 + 4k frames (EgoX uses 49)`);
  if (!(r.guidance >= 1)) throw new GenerateOptionError(`--guidance ${r.guidance}: expected a number >= 1 (1 = no classifier-free guidance)`);
  if (r.ggaLambda !== null && !(r.ggaLambda > 0)) throw new GenerateOptionError(`--gga-lambda ${r.ggaLambda}: expected a positive number (or --no-gga)`);
  if (!(r.loraStrength >= 0 && r.loraStrength <= 100)) throw new GenerateOptionError(`--lora-strength ${r.loraStrength}: expected a number from 0 to 100`);
  if (!(r.guidance <= 100)) throw new GenerateOptionError(`--guidance ${r.guidance}: expected a number from 1 to 100 (EgoX uses 5)`);
  if (r.ggaLambda !== null && !(r.ggaLambda <= 1000)) throw new GenerateOptionError(`--gga-lambda ${r.ggaLambda}: expected a number up to 1000 (EgoX uses 3)`);
  if (r.gpuMemoryBytes !== undefined && !(Number.isSafeInteger(r.gpuMemoryBytes) && r.gpuMemoryBytes >= MIN_GPU_MEMORY)) {
    throw new GenerateOptionError(`--gpu-memory ${r.gpuMemoryBytes} bytes: expected at least 64MiB`);
  }
  if (r.prompt !== undefined && r.prompt.length > MAX_PROMPT_CHARS) throw new GenerateOptionError(`--prompt: ${r.prompt.length} characters; umT5 reads 512 tokens, give at most ${MAX_PROMPT_CHARS} characters`);
  if (r.negativePrompt.length > MAX_PROMPT_CHARS) throw new GenerateOptionError(`--negative-prompt: ${r.negativePrompt.length} characters; give at most ${MAX_PROMPT_CHARS}`);
  if (!Number.isInteger(r.size) || r.size % 64 !== 0 || GEOMETRY_SPAN % r.size !== 0) {
    throw new GenerateOptionError(`--size ${r.size}: the ego side must be a multiple of 64 that divides ${GEOMETRY_SPAN} (448 as EgoX; 256, 128 or 64 for quick runs)`);
  }
  if (o.promptEmbeds !== undefined && (o.prompt !== undefined || o.negativePrompt !== undefined)) {
    throw new GenerateOptionError(`--prompt-embeds ${o.promptEmbeds} already holds the encoded prompts: drop --prompt / --negative-prompt, or drop --prompt-embeds to encode them with umT5`);
  }
  if (!['f32', 'bf16', 'f16'].includes(r.weightDtype)) throw new GenerateOptionError(`--weight-dtype ${r.weightDtype}: use bf16, f16 or f32`);
  return r;
}

/** Pixel and latent sizes of a run. */
export function runSizes(size: number, frames: number) {
  const ego = size;
  const exoW = (size * 7) / 4;
  return {
    ego,
    exo: { width: exoW, height: size },
    latent: { frames: (frames - 1) / 4 + 1, height: size / 8, exoW: exoW / 8, egoW: size / 8 },
    /** Pixels of the depth-grid crop per latent cell (8 at 448). */
    spatialStride: GEOMETRY_SPAN / size,
  };
}
