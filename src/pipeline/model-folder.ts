// What a model for `egox generate` is made of: a Hugging Face Wan2.1-I2V diffusers folder as
// downloaded (transformer/, vae/, scheduler/, and text_encoder/ + tokenizer/ and image_encoder/
// + image_processor/ for the encoders), the original Wan2.1 release folder, and components
// given as their own files (ComfyUI's single files) over either or instead. Checked up front so a missing part is one clear line
// before any slow work starts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SchedulerName } from '../model/schedulers/index.ts';
import { jsonBrief } from '../io/json-bounded.ts';
import { readJsonFile } from '../io/model-layout.ts';
import { InputError } from '../runtime/errors.ts';
import { describeModelLayout, findClipVision, findUmt5, modelLayout, vaeFiles } from '../io/model-layout.ts';

export class ModelFolderError extends InputError {}

export const HF_MODEL = 'Wan-AI/Wan2.1-I2V-14B-480P-Diffusers';

export interface ModelFolder {
  /** The --model path (null when every component came as its own file). */
  root: string | null;
  /** One line for the user: which layout --model was read as. */
  layout: string;
  transformer: string;
  vae: string;
  /** The text encoder (a folder or a file) with a tokenizer found, when there is one. */
  textEncoder: string | null;
  /** Where a single-file text encoder looks for its tokenizer (the --model download). */
  tokenizerRoot: string | undefined;
  /** The image encoder (a folder or a file), when there is one. */
  imageEncoder: string | null;
  scheduler: SchedulerSettings;
}

/** Components given as their own files (ComfyUI's single files), overriding or replacing --model. */
export interface ComponentFiles {
  transformer?: string;
  vae?: string;
  textEncoder?: string;
  imageEncoder?: string;
}

export interface SchedulerSettings {
  sampler: SchedulerName;
  shift: number;
  /** Where the settings came from (scheduler_config.json or the EgoX defaults). */
  source: string;
}

/** EgoX runs the folder's scheduler; for Wan2.1-I2V-14B-480P that is UniPC with flow_shift 3 (C.8). */
export const DEFAULT_SCHEDULER: SchedulerSettings = { sampler: 'unipc', shift: 3, source: 'EgoX defaults (UniPC, shift 3)' };

function isDir(p: string): boolean {
  return fs.existsSync(p) && fs.statSync(p).isDirectory();
}

function hasWeights(dir: string): boolean {
  return isDir(dir) && fs.readdirSync(dir).some((f) => f.endsWith('.safetensors') || f.endsWith('.safetensors.index.json'));
}

function readScheduler(root: string): SchedulerSettings {
  const file = path.join(root, 'scheduler', 'scheduler_config.json');
  if (!fs.existsSync(file)) return DEFAULT_SCHEDULER;
  const { json, error } = readJsonFile(file);
  if (!json) throw new ModelFolderError(`${file}: ${error}; re-download the scheduler folder of ${HF_MODEL}`);
  const clsField = json._class_name ?? 'UniPCMultistepScheduler';
  if (typeof clsField !== 'string') throw new ModelFolderError(`${file}: _class_name must be a string, got ${jsonBrief(clsField)}`);
  const cls = clsField;
  const sampler: SchedulerName | undefined = cls.startsWith('UniPC') ? 'unipc' : cls.startsWith('FlowMatchEuler') ? 'euler' : undefined;
  if (!sampler) throw new ModelFolderError(`${file}: scheduler '${cls}' is not supported; use UniPCMultistepScheduler or FlowMatchEulerDiscreteScheduler`);
  const shift = json.flow_shift ?? json.shift ?? 3;
  // Wan's schedules use 1-17; far beyond that every timestep collapses onto pure noise.
  if (typeof shift !== 'number' || !(shift > 0) || !(shift <= 1000)) throw new ModelFolderError(`${file}: flow_shift must be a number in (0, 1000], got ${jsonBrief(shift)}`);
  return { sampler, shift, source: file };
}

function missingPart(root: string, part: string, why: string): ModelFolderError {
  return new ModelFolderError(`--model ${root}: missing ${part} (${why}); download the whole ${HF_MODEL} folder, or give the file with --${part.startsWith('text') ? 'text-encoder' : part.startsWith('image') ? 'image-encoder' : part.split(/[/ ]/)[0]}`);
}

function fileGiven(flag: string, p: string): string {
  if (!fs.existsSync(p)) throw new ModelFolderError(`--${flag} ${p}: not found; give the component's .safetensors / .pth / .gguf file or folder`);
  return p;
}

/** The parts of a diffusers folder (transformer/, vae/, text_encoder/ + tokenizer/, image_encoder/ + image_processor/). */
interface Parts {
  transformer: string | null;
  vae: string | null;
  textEncoder: string | null;
  imageEncoder: string | null;
}

function diffusersParts(root: string): Parts {
  const te = path.join(root, 'text_encoder');
  const ie = path.join(root, 'image_encoder');
  return {
    transformer: hasWeights(path.join(root, 'transformer')) ? path.join(root, 'transformer') : null,
    vae: hasWeights(path.join(root, 'vae')) ? path.join(root, 'vae') : null,
    textEncoder: hasWeights(te) && isDir(path.join(root, 'tokenizer')) ? te : null,
    imageEncoder: hasWeights(ie) && isDir(path.join(root, 'image_processor')) ? ie : null,
  };
}

/** The parts of the original release folder (sharded DiT + config.json, Wan2.1_VAE.pth, models_t5_*.pth + google/umt5-xxl/, models_clip_*.pth). */
function originalParts(root: string): Parts {
  const umt5 = findUmt5(root);
  return {
    transformer: hasWeights(root) ? root : null,
    vae: vaeFiles(root).target !== root ? vaeFiles(root).target : null,
    textEncoder: umt5?.tokenizerJson ? umt5.weights : null,
    imageEncoder: findClipVision(root)?.weights ?? null,
  };
}

/**
 * Resolves --model (a diffusers folder or the original Wan2.1 release folder) and the
 * components given as their own files, and checks the parts every run needs (the transformer
 * and the VAE) so a missing part is one line before any slow work.
 */
export function openModelFolder(root: string | undefined, files: ComponentFiles = {}): ModelFolder {
  if (root === undefined && (files.transformer === undefined || files.vae === undefined)) {
    throw new ModelFolderError(`no model given: pass --model (a ${HF_MODEL} folder or the original Wan2.1-I2V-14B-480P release folder), or at least --transformer FILE and --vae FILE`);
  }
  let parts: Parts = { transformer: null, vae: null, textEncoder: null, imageEncoder: null };
  let layout = 'components given as files';
  if (root !== undefined) {
    if (!fs.existsSync(root)) throw new ModelFolderError(`--model ${root}: folder not found; download ${HF_MODEL} (see README "The real model")`);
    if (!isDir(root)) throw new ModelFolderError(`--model ${root}: is a file; give the model folder (diffusers or the original Wan2.1 release), or the file with --transformer`);
    const kind = modelLayout(root);
    parts = kind === 'original' ? originalParts(root) : diffusersParts(root);
    layout = describeModelLayout(root);
  }
  const where = root ?? '(none)';
  const transformer = files.transformer !== undefined ? fileGiven('transformer', files.transformer) : parts.transformer;
  if (!transformer) throw missingPart(where, 'transformer/ with .safetensors weights', 'the denoiser');
  const vae = files.vae !== undefined ? fileGiven('vae', files.vae) : parts.vae;
  if (!vae) throw missingPart(where, 'vae/ with .safetensors weights', 'encodes and decodes the videos');
  return {
    root: root ?? null,
    layout,
    transformer,
    vae,
    textEncoder: files.textEncoder !== undefined ? fileGiven('text-encoder', files.textEncoder) : parts.textEncoder,
    tokenizerRoot: root,
    imageEncoder: files.imageEncoder !== undefined ? fileGiven('image-encoder', files.imageEncoder) : parts.imageEncoder,
    scheduler: root !== undefined ? readScheduler(root) : DEFAULT_SCHEDULER,
  };
}

/** Throws the one-line error naming the missing folder when a run needs an encoder the folder lacks. */
export function requireEncoder(folder: ModelFolder, which: 'text' | 'image'): void {
  const [encoder, companion, why] =
    which === 'text'
      ? ['text_encoder', 'tokenizer', 'encodes the prompt; or pass --prompt-embeds']
      : ['image_encoder', 'image_processor', 'CLIP features of the first frame; or pass --image-embeds'];
  if (folder[which === 'text' ? 'textEncoder' : 'imageEncoder']) return;
  const root = folder.root ?? '(none)';
  throw missingPart(root, folder.root !== null && hasWeights(path.join(folder.root, encoder)) ? `${companion}/` : `${encoder}/`, why);
}
