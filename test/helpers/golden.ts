// Reading golden files written by test/reference/safetensors_f32.py: every tensor as f32.
import { SafetensorsFile } from '../../src/io/safetensors.ts';

export type GoldenTensor = { shape: number[]; data: Float32Array };

export async function readGoldenF32(path: string): Promise<Map<string, GoldenTensor>> {
  const f = await SafetensorsFile.open(path);
  const out = new Map<string, GoldenTensor>();
  for (const [name, info] of f.tensors) {
    const b = await f.read(name);
    out.set(name, { shape: info.shape, data: new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4) });
  }
  await f.close();
  return out;
}
