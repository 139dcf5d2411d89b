// Where each network's files sit in the folders users download (a diffusers model folder, or
// one component's own folder), and reading their small JSON and text files. The model layer
// gets paths and text from here and never touches the file system itself, so it also runs in
// a browser on files handed to it.

import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FileFormatError } from './format-error.ts';
import { parseJsonBounded } from './json-bounded.ts';
import { readTextFileChecked, readTextFileCheckedAsync } from './text-file.ts';

const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();
const fileOrUndefined = (p: string): string | undefined => (existsSync(p) && statSync(p).isFile() ? p : undefined);

export function pathExists(p: string): boolean {
  return existsSync(p);
}

/** The text of a file (UTF-8). */
export function readTextFile(p: string): string {
  return readTextFileChecked(p);
}

/** The text of a file, or null when it cannot be read (absent, a folder, no permission). */
export async function readTextIfPresent(p: string): Promise<string | null> {
  if (!existsSync(p) || !statSync(p).isFile()) return null;
  // Too large is an error of its own; unreadable (permissions, a race) reads as absent, as before.
  return readTextFileCheckedAsync(p).catch((e: unknown) => {
    if (e instanceof FileFormatError) throw e;
    return null;
  });
}

/**
 * JSON object of a file: `{ json }`, or `{ error }` with the parser's first line or what the
 * top level is instead of an object (the caller names the file in its own error class).
 */
export function readJsonFile(p: string): { json: Record<string, unknown>; error?: undefined } | { json?: undefined; error: string } {
  let json: unknown;
  try {
    json = parseJsonBounded(readTextFileChecked(p));
  } catch (e) {
    return { error: String((e as Error).message ?? e).split('\n')[0]! };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { error: `the top level is ${json === null ? 'null' : Array.isArray(json) ? 'an array' : `a ${typeof json}`}, expected a JSON object` };
  }
  return { json: json as Record<string, unknown> };
}

/** The two folder layouts of a Wan2.1 download, or one component's own file or folder. */
export type ModelLayout = 'diffusers' | 'original' | 'component';

/** Files of the original Wan2.1 release folder (e.g. Wan2.1-I2V-14B-480P), by name pattern. */
const ORIGINAL_FILES = {
  vae: /vae.*\.pth$/i,
  umt5: /^models_t5_.*\.pth$/,
  clip: /^models_clip_.*\.pth$/,
} as const;
/** Where the original release keeps umT5's tokenizer (the google/umt5-xxl repository). */
const ORIGINAL_TOKENIZER = join('google', 'umt5-xxl', 'tokenizer.json');

function originalFile(dir: string, which: keyof typeof ORIGINAL_FILES): string | undefined {
  if (!isDir(dir)) return undefined;
  const name = readdirSync(dir).sort().find((n) => ORIGINAL_FILES[which].test(n));
  return name === undefined ? undefined : fileOrUndefined(join(dir, name));
}

/** Whether a config.json is the original release's (WanModel: dim, num_heads, ...), not diffusers'. */
export function isOriginalWanConfig(json: Record<string, unknown>): boolean {
  return typeof json.dim === 'number' && typeof json.num_heads === 'number' && json.num_attention_heads === undefined;
}

/**
 * Which layout a model path has: a diffusers folder (transformer/, vae/, ...), the original
 * release folder (config.json with dim/num_heads, Wan2.1_VAE.pth, models_t5_*.pth, ...), or
 * anything else (one component's folder or a single file).
 */
export function modelLayout(path: string): ModelLayout {
  if (!isDir(path)) return 'component';
  if (isDir(join(path, 'transformer')) || fileOrUndefined(join(path, 'model_index.json'))) return 'diffusers';
  if (originalFile(path, 'vae') || originalFile(path, 'umt5') || originalFile(path, 'clip')) return 'original';
  const cfg = fileOrUndefined(join(path, 'config.json'));
  const json = cfg ? readJsonFile(cfg).json : undefined;
  return json && isOriginalWanConfig(json) ? 'original' : 'component';
}

/** One line for the user: which layout a --model path was read as. */
export function describeModelLayout(path: string): string {
  const layout = modelLayout(path);
  if (layout === 'diffusers') return `${path}: a diffusers model folder`;
  if (layout === 'original') return `${path}: an original Wan2.1 release folder`;
  return `${path}: ${isDir(path) ? 'one component\'s folder' : 'a single file'}`;
}

/** The Wan transformer in a model path: its transformer/ subfolder, the folder itself, or a file. */
export function transformerFiles(path: string): { ckpt: string; configJson?: string } {
  if (isDir(path)) {
    const sub = join(path, 'transformer');
    const dir = isDir(sub) ? sub : path;
    return { ckpt: dir, configJson: fileOrUndefined(join(dir, 'config.json')) };
  }
  return { ckpt: path };
}

/** The Wan VAE in a model path: its vae/ subfolder, the release's Wan2.1_VAE.pth, the folder itself, or a file. */
export function vaeFiles(path: string): { target: string; configJson?: string } {
  if (!isDir(path)) return { target: path };
  if (isDir(join(path, 'vae'))) return { target: join(path, 'vae'), configJson: join(path, 'vae', 'config.json') };
  const pth = originalFile(path, 'vae');
  if (pth) return { target: pth };
  return { target: path, configJson: join(path, 'config.json') };
}

export interface ClipPaths {
  /** The weights: a folder of safetensors (or of one .gguf), or one file (.safetensors, .pth or .gguf). */
  weights: string;
  /** The encoder's config.json; absent for single files (the config then comes from the shapes). */
  configJson?: string;
  preprocessorJson?: string;
}

/**
 * CLIP vision in a model path: image_encoder/ + image_processor/ of a diffusers folder, the
 * release's models_clip_*.pth, an encoder folder itself, or a single weight file.
 */
export function findClipVision(modelPath: string): ClipPaths | undefined {
  if (fileOrUndefined(modelPath)) return { weights: modelPath };
  if (!isDir(modelPath)) return undefined;
  const pth = originalFile(modelPath, 'clip');
  if (pth && !isDir(join(modelPath, 'image_encoder'))) return { weights: pth };
  const sub = join(modelPath, 'image_encoder');
  const enc = isDir(sub) && fileOrUndefined(join(sub, 'config.json')) ? sub : undefined;
  const encoderDir = enc ?? modelPath;
  const configJson = fileOrUndefined(join(encoderDir, 'config.json'));
  if (!configJson) return undefined;
  if (!enc) {
    const { json } = readJsonFile(configJson);
    if (!json || (!String(json.model_type ?? '').startsWith('clip') && !json.vision_config)) return undefined;
  }
  const processor =
    fileOrUndefined(join(modelPath, 'image_processor', 'preprocessor_config.json')) ??
    fileOrUndefined(join(encoderDir, 'preprocessor_config.json')) ??
    fileOrUndefined(join(dirname(encoderDir), 'image_processor', 'preprocessor_config.json'));
  return { weights: encoderDir, configJson, preprocessorJson: processor };
}

export interface Umt5Paths {
  /** The weights: a folder of safetensors (or of one .gguf), or one file (.safetensors, .pth or .gguf). */
  weights: string;
  /** The encoder's config.json; absent for single files (the config then comes from the shapes). */
  configJson?: string;
  /** tokenizer.json, when there is one. */
  tokenizerJson?: string;
}

/** A tokenizer.json in the usual places of a download rooted at `root`. */
function tokenizerIn(root: string): string | undefined {
  return fileOrUndefined(join(root, 'tokenizer', 'tokenizer.json')) ?? fileOrUndefined(join(root, ORIGINAL_TOKENIZER)) ?? fileOrUndefined(join(root, 'tokenizer.json'));
}

/**
 * umT5 in a model path: text_encoder/ + tokenizer/ of a diffusers folder, the release's
 * models_t5_*.pth + google/umt5-xxl/, the encoder folder itself, or a single weight file (its
 * tokenizer from `tokenizerRoot`, or beside the file).
 */
export function findUmt5(modelPath: string, tokenizerRoot?: string): Umt5Paths | undefined {
  const fromRoot = (dflt: string) => (tokenizerRoot !== undefined ? tokenizerIn(tokenizerRoot) : undefined) ?? tokenizerIn(dflt);
  if (fileOrUndefined(modelPath)) return { weights: modelPath, tokenizerJson: fromRoot(dirname(modelPath)) };
  if (!isDir(modelPath)) return undefined;
  const sub = join(modelPath, 'text_encoder');
  if (isDir(sub) && fileOrUndefined(join(sub, 'config.json'))) {
    return {
      weights: sub,
      configJson: join(sub, 'config.json'),
      tokenizerJson: fromRoot(modelPath) ?? fileOrUndefined(join(sub, 'tokenizer.json')),
    };
  }
  const pth = originalFile(modelPath, 'umt5');
  if (pth) return { weights: pth, tokenizerJson: fromRoot(modelPath) };
  const cfg = fileOrUndefined(join(modelPath, 'config.json'));
  if (!cfg) return undefined;
  const { json } = readJsonFile(cfg);
  if (!json || (json.model_type !== 'umt5' && json.model_type !== 't5' && json.d_kv === undefined)) return undefined;
  return {
    weights: modelPath,
    configJson: cfg,
    tokenizerJson: fileOrUndefined(join(modelPath, 'tokenizer.json')) ?? fromRoot(dirname(modelPath)),
  };
}

/**
 * MoGe-2 weights by path: the published model.pt (a PyTorch checkpoint holding model_config and
 * the state dict), or a folder / .safetensors file of the state dict with its model_config as
 * config.json beside it (or at `configJson`). A string is the problem with the path.
 */
export function mogeFiles(
  path: string,
  configJson?: string,
): { pytorch: string } | { safetensors: string; configJson: string } | { problem: string } {
  if (!existsSync(path)) return { problem: `${path}: not found` };
  if (isDir(path)) {
    const pt = fileOrUndefined(join(path, 'model.pt'));
    if (pt && !configJson) return { pytorch: pt };
    const found = ['model.safetensors', 'weights.safetensors'].map((f) => join(path, f)).find((f) => existsSync(f));
    if (!found) return { problem: `${path}: no model.pt, model.safetensors or weights.safetensors in this folder` };
    return withConfig(found, configJson);
  }
  if (/\.(pt|pth)$/i.test(path)) return { pytorch: path };
  return withConfig(path, configJson);
}

function withConfig(weights: string, configJson?: string): { safetensors: string; configJson: string } | { problem: string } {
  const config = configJson ?? join(dirname(weights), 'config.json');
  if (!existsSync(config)) return { problem: `${config}: the model_config JSON is missing (write checkpoint['model_config'] there, or pass model.pt)` };
  return { safetensors: weights, configJson: config };
}
