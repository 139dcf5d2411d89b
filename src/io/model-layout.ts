// Where each network's files sit in the folders users download (a diffusers model folder, or
// one component's own folder), and reading their small JSON and text files. The model layer
// gets paths and text from here and never touches the file system itself, so it also runs in
// a browser on files handed to it.

import { existsSync, statSync } from 'node:fs';
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

/** The Wan transformer in a model path: its transformer/ subfolder, the folder itself, or a file. */
export function transformerFiles(path: string): { ckpt: string; configJson?: string } {
  if (isDir(path)) {
    const sub = join(path, 'transformer');
    const dir = isDir(sub) ? sub : path;
    return { ckpt: dir, configJson: fileOrUndefined(join(dir, 'config.json')) };
  }
  return { ckpt: path };
}

/** The Wan VAE in a model path: its vae/ subfolder, the folder itself, or a file. */
export function vaeFiles(path: string): { target: string; configJson?: string } {
  if (!isDir(path)) return { target: path };
  const dir = isDir(join(path, 'vae')) ? join(path, 'vae') : path;
  return { target: dir, configJson: join(dir, 'config.json') };
}

export interface ClipPaths {
  encoderDir: string;
  configJson: string;
  preprocessorJson?: string;
}

/** CLIP vision in a model folder (image_encoder/ + image_processor/), or that folder itself. */
export function findClipVision(modelDir: string): ClipPaths | undefined {
  if (!isDir(modelDir)) return undefined;
  const sub = join(modelDir, 'image_encoder');
  const enc = isDir(sub) && fileOrUndefined(join(sub, 'config.json')) ? sub : undefined;
  const encoderDir = enc ?? modelDir;
  const configJson = fileOrUndefined(join(encoderDir, 'config.json'));
  if (!configJson) return undefined;
  if (!enc) {
    const { json } = readJsonFile(configJson);
    if (!json || (!String(json.model_type ?? '').startsWith('clip') && !json.vision_config)) return undefined;
  }
  const processor =
    fileOrUndefined(join(modelDir, 'image_processor', 'preprocessor_config.json')) ??
    fileOrUndefined(join(encoderDir, 'preprocessor_config.json')) ??
    fileOrUndefined(join(dirname(encoderDir), 'image_processor', 'preprocessor_config.json'));
  return { encoderDir, configJson, preprocessorJson: processor };
}

export interface Umt5Paths {
  encoderDir: string;
  configJson: string;
  /** tokenizer.json, when there is one. */
  tokenizerJson?: string;
}

/** text_encoder/ and the tokenizer in a model folder, or the encoder folder itself. */
export function findUmt5(modelDir: string): Umt5Paths | undefined {
  if (!isDir(modelDir)) return undefined;
  const sub = join(modelDir, 'text_encoder');
  if (isDir(sub) && fileOrUndefined(join(sub, 'config.json'))) {
    return {
      encoderDir: sub,
      configJson: join(sub, 'config.json'),
      tokenizerJson: fileOrUndefined(join(modelDir, 'tokenizer', 'tokenizer.json')) ?? fileOrUndefined(join(sub, 'tokenizer.json')),
    };
  }
  const cfg = fileOrUndefined(join(modelDir, 'config.json'));
  if (!cfg) return undefined;
  const { json } = readJsonFile(cfg);
  if (!json || (json.model_type !== 'umt5' && json.model_type !== 't5' && json.d_kv === undefined)) return undefined;
  return {
    encoderDir: modelDir,
    configJson: cfg,
    tokenizerJson: fileOrUndefined(join(modelDir, 'tokenizer.json')) ?? fileOrUndefined(join(dirname(modelDir), 'tokenizer', 'tokenizer.json')),
  };
}
