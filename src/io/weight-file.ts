// One opener for every weight file a network may come in: safetensors (a file, a sharded
// index, a folder of shards), a GGUF file (alone, or the one weight file of a folder beside its
// config.json), or a PyTorch .pt/.pth checkpoint (the original Wan2.1 release's VAE, umT5 and
// CLIP files). All read tensors by name, so loaders need not care which.
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { Checkpoint } from './checkpoint.ts';
import { GgufFile } from './gguf/index.ts';
import { isPytorchCheckpointPath, PytorchCheckpoint } from './pytorch/index.ts';
import type { TensorSource } from './safetensors.ts';

/** The weights of a VAE, umT5 or CLIP: safetensors, .pt/.pth or GGUF. */
export type NetworkWeightFile = TensorSource | GgufFile;

const isGgufPath = (path: string) => path.toLowerCase().endsWith('.gguf');

/** The .gguf file of a folder that holds one and no safetensors; undefined otherwise. */
async function folderGguf(path: string): Promise<string | undefined> {
  const names = await fsp.readdir(path).catch(() => undefined);
  if (!names || names.some((n) => n.endsWith('.safetensors') || n.endsWith('.safetensors.index.json'))) return undefined;
  const gguf = names.filter(isGgufPath);
  return gguf.length === 1 ? join(path, gguf[0]!) : undefined;
}

export async function openWeightFile(path: string): Promise<NetworkWeightFile> {
  const gguf = isGgufPath(path) ? path : await folderGguf(path);
  if (gguf) return GgufFile.open(gguf);
  if (await isPytorchCheckpointPath(path)) return PytorchCheckpoint.open(path);
  return Checkpoint.open(path);
}

/** A string the file's metadata holds under `key` (safetensors' __metadata__, a GGUF string value). */
export function metadataString(file: NetworkWeightFile, key: string): string | undefined {
  if (file instanceof GgufFile) {
    const v = file.metadata.get(key);
    return typeof v === 'string' ? v : undefined;
  }
  return file.metadata[key];
}

/** A DiT's weights: safetensors (single, sharded, folder) or one GGUF file. */
export type WeightFile = Checkpoint | GgufFile;

export async function openDitWeights(path: string): Promise<WeightFile> {
  if (isGgufPath(path)) return GgufFile.open(path);
  return Checkpoint.open(path);
}
