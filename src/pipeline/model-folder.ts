// What a model folder for `egox generate` holds: a Hugging Face Wan2.1-I2V diffusers folder as
// downloaded (transformer/, vae/, scheduler/, and text_encoder/ + tokenizer/ and image_encoder/
// + image_processor/ for the encoders). Checked up front so a missing part is one clear line
// before any slow work starts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SchedulerName } from '../model/schedulers/index.ts';
import { jsonBrief } from '../io/json-bounded.ts';
import { readJsonFile } from '../io/model-layout.ts';
import { InputError } from '../runtime/errors.ts';

export class ModelFolderError extends InputError {}

export const HF_MODEL = 'Wan-AI/Wan2.1-I2V-14B-480P-Diffusers';

export interface ModelFolder {
  root: string;
  transformer: string;
  vae: string;
  /** text_encoder/ with tokenizer/, when both are present. */
  textEncoder: string | null;
  /** image_encoder/ with image_processor/, when both are present. */
  imageEncoder: string | null;
  scheduler: SchedulerSettings;
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
  return new ModelFolderError(`--model ${root}: missing ${part} (${why}); download the whole ${HF_MODEL} folder`);
}

/** Resolves a model folder and checks the parts every run needs (transformer/, vae/). */
export function openModelFolder(root: string): ModelFolder {
  if (!fs.existsSync(root)) throw new ModelFolderError(`--model ${root}: folder not found; download ${HF_MODEL} (see README "The real model")`);
  if (!isDir(root)) throw new ModelFolderError(`--model ${root}: is a file; give the model folder that holds transformer/ and vae/`);
  const transformer = path.join(root, 'transformer');
  if (!hasWeights(transformer)) throw missingPart(root, 'transformer/ with .safetensors weights', 'the denoiser');
  const vae = path.join(root, 'vae');
  if (!hasWeights(vae)) throw missingPart(root, 'vae/ with .safetensors weights', 'encodes and decodes the videos');
  const te = path.join(root, 'text_encoder');
  const ie = path.join(root, 'image_encoder');
  return {
    root,
    transformer,
    vae,
    textEncoder: hasWeights(te) && isDir(path.join(root, 'tokenizer')) ? te : null,
    imageEncoder: hasWeights(ie) && isDir(path.join(root, 'image_processor')) ? ie : null,
    scheduler: readScheduler(root),
  };
}

/** Throws the one-line error naming the missing folder when a run needs an encoder the folder lacks. */
export function requireEncoder(folder: ModelFolder, which: 'text' | 'image'): void {
  const [encoder, companion, why] =
    which === 'text'
      ? ['text_encoder', 'tokenizer', 'encodes the prompt; or pass --prompt-embeds']
      : ['image_encoder', 'image_processor', 'CLIP features of the first frame; or pass --image-embeds'];
  if (folder[which === 'text' ? 'textEncoder' : 'imageEncoder']) return;
  throw missingPart(folder.root, hasWeights(path.join(folder.root, encoder)) ? `${companion}/` : `${encoder}/`, why);
}
