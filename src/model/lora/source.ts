// The weight source an adapted model reads from: the base checkpoint, the adapter's tensors
// beside it under a prefix (the run-time form's A and B), and the original-style `diff` /
// `diff_b` deltas added to their base tensors as they stream in (host side: they are rare and,
// for biases, tiny). Shapes were checked when the adapter was attached.

import type { Checkpoint } from '../../io/checkpoint.ts';
import type { WeightFile } from '../../io/weight-file.ts';
import { convert, type FileDtype, type WeightSource } from '../../graph/weights.ts';
import { LoraError } from './formats.ts';

/** Where an adapter's own tensors live in the adapted source's key space (the n-th stacked adapter: `lora<n>::`). */
export const LORA_PREFIX = 'lora::';

export function loraPrefix(index: number): string {
  return index === 0 ? LORA_PREFIX : `lora${index}::`;
}

export class AdaptedSource implements WeightSource {
  readonly tensors: Map<string, { dtype: FileDtype; shape: number[] }>;

  /**
   * `deltaByKey`: base checkpoint key -> adapter key of the delta added to it, times
   * `strength`.
   */
  constructor(
    /** The base checkpoint, or the source of the adapter stacked below this one. */
    private readonly base: WeightSource,
    private readonly adapter: Checkpoint,
    private readonly deltaByKey: ReadonlyMap<string, string>,
    private readonly strength: number,
    private readonly prefix = LORA_PREFIX,
  ) {
    this.tensors = new Map<string, { dtype: FileDtype; shape: number[] }>(base.tensors);
    for (const [k, t] of adapter.tensors) this.tensors.set(prefix + k, t);
    for (const k of deltaByKey.keys()) {
      const t = this.tensors.get(k);
      if (t) this.tensors.set(k, { ...t, dtype: 'F32' }); // streamed widened, with the delta added
    }
  }

  async *chunks(name: string, chunkBytes: number): AsyncIterable<Uint8Array> {
    if (name.startsWith(this.prefix)) {
      yield* this.adapter.chunks(name.slice(this.prefix.length), chunkBytes);
      return;
    }
    const deltaKey = this.deltaByKey.get(name);
    if (!deltaKey) {
      yield* this.base.chunks(name, chunkBytes);
      return;
    }
    // Rare path (diff / diff_b): widen both to f32, add, hand back f32 bytes.
    const w = await sourceF32(this.base, name);
    const d = await readF32(this.adapter, deltaKey);
    for (let i = 0; i < w.length; i++) w[i]! += this.strength * d[i]!;
    const bytes = new Uint8Array(w.buffer);
    for (let p = 0; p < bytes.length; p += chunkBytes) yield bytes.slice(p, Math.min(bytes.length, p + chunkBytes));
  }
}

/** A float tensor of any weight source (its chunks joined) as a fresh Float32Array. */
async function sourceF32(source: WeightSource, key: string): Promise<Float32Array> {
  const t = source.tensors.get(key)!;
  const f = t.dtype === 'F32' ? 'f32' : t.dtype === 'BF16' ? 'bf16' : t.dtype === 'F16' ? 'f16' : undefined;
  if (!f) throw new LoraError(`tensor '${key}' of dtype ${t.dtype} cannot take a full delta`);
  const parts: Uint8Array[] = [];
  for await (const c of source.chunks(key, 1 << 24)) parts.push(c);
  const bytes = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  parts.reduce((at, p) => (bytes.set(p, at), at + p.length), 0);
  const out = convert(bytes.length % 4 === 0 ? bytes : Uint8Array.from([...bytes, 0, 0]), f, 'f32');
  const numel = t.shape.reduce((a, b) => a * b, 1);
  return new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + numel * 4));
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
