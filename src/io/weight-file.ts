// One opener for every weight file a network may come in: safetensors (a file, a sharded
// index, a folder of shards), a GGUF file (the DiT) or a PyTorch .pt/.pth checkpoint (the original Wan2.1 release's
// VAE, umT5 and CLIP files). Both are TensorSources, so loaders need not care which.
import { Checkpoint } from './checkpoint.ts';
import { GgufFile } from './gguf/index.ts';
import { isPytorchCheckpointPath, PytorchCheckpoint } from './pytorch/index.ts';
import type { TensorSource } from './safetensors.ts';

export async function openWeightFile(path: string): Promise<TensorSource> {
  if (await isPytorchCheckpointPath(path)) return PytorchCheckpoint.open(path);
  return Checkpoint.open(path);
}

/** A DiT's weights: safetensors (single, sharded, folder) or one GGUF file. */
export type WeightFile = Checkpoint | GgufFile;

export async function openDitWeights(path: string): Promise<WeightFile> {
  if (path.toLowerCase().endsWith('.gguf')) return GgufFile.open(path);
  return Checkpoint.open(path);
}
