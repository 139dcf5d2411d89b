// The weight source an adapted model reads from: the base checkpoint, the adapter's tensors
// beside it under a prefix (the run-time form's A and B), and the original-style `diff` /
// `diff_b` deltas added to their base tensors as they stream in (host side: they are rare and,
// for biases, tiny). Shapes were checked when the adapter was attached.

import type { Checkpoint } from '../../io/checkpoint.ts';
import type { WeightFile } from '../../io/weight-file.ts';
import { convert, type FileDtype, type WeightSource } from '../../graph/weights.ts';
import { LoraError } from './formats.ts';

/** Where the adapter's own tensors live in the adapted source's key space. */
export const LORA_PREFIX = 'lora::';

export class AdaptedSource implements WeightSource {
  readonly tensors: Map<string, { dtype: FileDtype; shape: number[] }>;

  /**
   * `deltaByKey`: base checkpoint key -> adapter key of the delta added to it, times
   * `strength`.
   */
  constructor(
    private readonly base: WeightFile,
    private readonly adapter: Checkpoint,
    private readonly deltaByKey: ReadonlyMap<string, string>,
    private readonly strength: number,
  ) {
    this.tensors = new Map<string, { dtype: FileDtype; shape: number[] }>(base.tensors);
    for (const [k, t] of adapter.tensors) this.tensors.set(LORA_PREFIX + k, t);
    for (const k of deltaByKey.keys()) {
      const t = this.tensors.get(k);
      if (t) this.tensors.set(k, { ...t, dtype: 'F32' }); // streamed widened, with the delta added
    }
  }

  async *chunks(name: string, chunkBytes: number): AsyncIterable<Uint8Array> {
    if (name.startsWith(LORA_PREFIX)) {
      yield* this.adapter.chunks(name.slice(LORA_PREFIX.length), chunkBytes);
      return;
    }
    const deltaKey = this.deltaByKey.get(name);
    if (!deltaKey) {
      yield* this.base.chunks(name, chunkBytes);
      return;
    }
    // Rare path (diff / diff_b): widen both to f32, add, hand back f32 bytes.
    const w = await readF32(this.base, name);
    const d = await readF32(this.adapter, deltaKey);
    for (let i = 0; i < w.length; i++) w[i]! += this.strength * d[i]!;
    const bytes = new Uint8Array(w.buffer);
    for (let p = 0; p < bytes.length; p += chunkBytes) yield bytes.slice(p, Math.min(bytes.length, p + chunkBytes));
  }
}

/** A float tensor of a checkpoint as a fresh Float32Array. */
export async function readF32(ckpt: WeightFile, key: string): Promise<Float32Array> {
  const dtype = ckpt.tensors.get(key)!.dtype;
  const f = dtype === 'F32' ? 'f32' : dtype === 'BF16' ? 'bf16' : dtype === 'F16' ? 'f16' : undefined;
  if (!f) throw new LoraError(`${ckpt.path}: tensor '${key}' of dtype ${dtype} cannot be widened to f32`);
  const bytes = await ckpt.read(key);
  const even = bytes.length % 4 === 0 ? bytes : Uint8Array.from([...bytes, 0, 0]);
  const out = convert(even, f, 'f32');
  return new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
}
