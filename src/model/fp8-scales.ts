// The per-tensor scales of "scaled" fp8 checkpoints (ComfyUI's *_fp8_scaled files): each fp8
// `<module>.weight` may have a one-element float `<module>.scale_weight` beside it; the value
// is the weight times that scale. Read for every network, so none widens fp8 without it.

import { convert, fileFloatDtype, type FileDtype } from '../graph/weights.ts';
import { isFp8 } from '../runtime/dtype.ts';
import { InputError } from '../runtime/errors.ts';

interface ScaledFile {
  tensors: ReadonlyMap<string, { dtype: FileDtype; shape: number[] }>;
  read(name: string): Promise<Uint8Array>;
}

/** Checkpoint key of an fp8 weight -> its scale. */
export async function readFp8Scales(file: ScaledFile, where: string): Promise<Map<string, number>> {
  const scales = new Map<string, number>();
  for (const [key, s] of file.tensors) {
    if (!key.endsWith('.scale_weight')) continue;
    const weightKey = key.slice(0, -'.scale_weight'.length) + '.weight';
    const w = file.tensors.get(weightKey);
    const wd = w && fileFloatDtype(w.dtype);
    if (!wd || !isFp8(wd)) continue;
    const f = fileFloatDtype(s.dtype);
    if (!f || (f !== 'f32' && f !== 'f16' && f !== 'bf16') || s.shape.reduce((a, b) => a * b, 1) !== 1) {
      throw new InputError(`${where}: '${key}' must be one float (the scale of '${weightKey}'), got ${s.dtype} [${s.shape}]`);
    }
    const bytes = await file.read(key);
    const scale = new Float32Array(convert(bytes.length % 4 ? Uint8Array.from([...bytes, 0, 0]) : bytes, f, 'f32').slice().buffer)[0]!;
    if (!Number.isFinite(scale)) throw new InputError(`${where}: '${key}' is ${scale}; an fp8 scale is a finite number`);
    scales.set(weightKey, scale);
  }
  return scales;
}
