// Attaching a LoRA adapter file to a Wan checkpoint for run-time fused application:
// Y = X W^T + b + s (X A^T) B^T with s = strength * alpha / r, plus the original-style
// `diff` / `diff_b` deltas added to the base tensors as they stream in (host side: they are
// rare and, for biases, tiny).

import { Checkpoint } from '../../io/checkpoint.ts';
import type { StDtype } from '../../io/safetensors-dtype.ts';
import { WeightStore, convert, type WeightSource } from '../../graph/weights.ts';
import { LoraError, parseLora, type ParsedLora } from '../lora/formats.ts';
import type { WanCheckpoint } from './load.ts';
import type { WanConfig } from './config.ts';
import { loraMerge } from '../../kernels/gemm/index.ts';
import type { EgoxDevice } from '../../runtime/device.ts';
import type { Tensor } from '../../runtime/tensor.ts';

/** The adaptable Linear modules of a Wan DiT, by diffusers name. */
export function wanLinearModules(c: WanConfig): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i < c.numLayers; i++) {
    for (const a of ['attn1', 'attn2']) for (const m of ['to_q', 'to_k', 'to_v', 'to_out.0']) out.add(`blocks.${i}.${a}.${m}`);
    if (c.imageDim) for (const m of ['add_k_proj', 'add_v_proj']) out.add(`blocks.${i}.attn2.${m}`);
    out.add(`blocks.${i}.ffn.net.0.proj`);
    out.add(`blocks.${i}.ffn.net.2`);
  }
  return out;
}

export interface AttachedLora {
  parsed: ParsedLora;
  /** For the fused form: build the DiT with these and use `store`. */
  runtimeLora: Map<string, { rank: number; scale: number }>;
  store: WeightStore;
  /**
   * For the merged form (build the DiT without runtimeLora): executor weight transforms that
   * apply W += s B A on the GPU right after each adapted weight is uploaded.
   */
  mergeTransforms(): Map<string, (dev: EgoxDevice, w: Tensor) => Promise<void>>;
  close(): Promise<void>;
}

const LORA_PREFIX = 'lora::';

export async function attachLora(base: WanCheckpoint, path: string, options: { strength?: number; lenient?: boolean } = {}): Promise<AttachedLora> {
  const strength = options.strength ?? 1;
  const adapter = await Checkpoint.open(path);
  const parsed = parseLora(adapter.tensors.keys(), wanLinearModules(base.config));
  if (parsed.unmatched.length > 0 && !options.lenient) {
    await adapter.close();
    const shown = parsed.unmatched.slice(0, 3).join(', ');
    throw new LoraError(`${path}: ${parsed.unmatched.length} adapter key(s) match no module of the model (${shown}${parsed.unmatched.length > 3 ? ', ...' : ''}); check the adapter is for this model, or pass --lora-lenient`);
  }
  if (parsed.targets.size === 0) {
    await adapter.close();
    throw new LoraError(`${path}: no LoRA tensors found (expected lora_A/lora_B, lora_down/lora_up or diff keys)`);
  }
  const runtimeLora = new Map<string, { rank: number; scale: number }>();
  const keyOf = new Map<string, string>(); // graph name -> adapter key
  const deltas = new Map<string, string>(); // graph (base) name -> adapter key of its delta
  for (const t of parsed.targets.values()) {
    if (t.down && t.up) {
      const rank = adapter.tensors.get(t.down)!.shape[0]!;
      let alpha = rank;
      if (t.alphaKey) alpha = await readScalar(adapter, t.alphaKey);
      runtimeLora.set(t.module, { rank, scale: (strength * alpha) / rank });
      keyOf.set(`${t.module}.lora_A.weight`, t.down);
      keyOf.set(`${t.module}.lora_B.weight`, t.up);
    }
    if (t.diff) deltas.set(`${t.module}.weight`, t.diff);
    if (t.diffBias) deltas.set(`${t.module}.bias`, t.diffBias);
  }
  const baseKey = (n: string) => base.store.rename(n);
  const source = new AdaptedSource(base.checkpoint, adapter, deltas, baseKey, strength);
  const store = new WeightStore(source, `${base.store.sourceName} + ${path}`, (n) => {
    const k = keyOf.get(n);
    return k ? LORA_PREFIX + k : baseKey(n);
  });
  const mergeTransforms = () => {
    const out = new Map<string, (dev: EgoxDevice, w: Tensor) => Promise<void>>();
    for (const [module, { scale }] of runtimeLora) {
      const aKey = keyOf.get(`${module}.lora_A.weight`)!;
      const bKey = keyOf.get(`${module}.lora_B.weight`)!;
      out.set(`${module}.weight`, async (dev, w) => {
        const a = await uploadF32(dev, adapter, aKey);
        const b = await uploadF32(dev, adapter, bKey);
        loraMerge(dev, w, a, b, scale);
        a.release(); // later users of the pooled buffers are recorded after the merge
        b.release();
      });
    }
    return out;
  };
  return { parsed, runtimeLora, store, mergeTransforms, close: () => adapter.close() };
}

async function uploadF32(dev: EgoxDevice, ckpt: Checkpoint, key: string): Promise<Tensor> {
  const info = ckpt.tensors.get(key)!;
  return dev.upload(toF32(await ckpt.read(key), info.dtype), info.shape, 'f32');
}

async function readScalar(ckpt: Checkpoint, key: string): Promise<number> {
  const info = ckpt.tensors.get(key)!;
  const bytes = await ckpt.read(key);
  const f = info.dtype === 'F32' ? 'f32' : info.dtype === 'BF16' ? 'bf16' : info.dtype === 'F16' ? 'f16' : undefined;
  if (!f || info.shape.reduce((a, b) => a * b, 1) !== 1) throw new LoraError(`LoRA alpha '${key}' must be one float value`);
  const wide = convert(bytes.length % 4 === 0 ? bytes : Uint8Array.from([...bytes, 0, 0]), f, 'f32');
  return new Float32Array(wide.buffer, wide.byteOffset, 1)[0]!;
}

/** Base checkpoint + adapter tensors (prefixed) + deltas added to base tensors as they stream. */
class AdaptedSource implements WeightSource {
  readonly tensors: Map<string, { dtype: StDtype; shape: number[] }>;
  private readonly deltaByKey = new Map<string, string>();

  constructor(
    private readonly base: Checkpoint,
    private readonly adapter: Checkpoint,
    deltas: Map<string, string>,
    baseKey: (n: string) => string,
    private readonly strength: number,
  ) {
    this.tensors = new Map(base.tensors);
    for (const [k, t] of adapter.tensors) this.tensors.set(LORA_PREFIX + k, t);
    for (const [name, key] of deltas) {
      const k = baseKey(name);
      this.deltaByKey.set(k, key);
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
    const bt = this.base.tensors.get(name)!;
    const dt = this.adapter.tensors.get(deltaKey)!;
    if (bt.shape.join() !== dt.shape.join()) throw new LoraError(`LoRA delta '${deltaKey}' has shape [${dt.shape}], the model's '${name}' [${bt.shape}]`);
    const w = toF32(await this.base.read(name), bt.dtype);
    const d = toF32(await this.adapter.read(deltaKey), dt.dtype);
    for (let i = 0; i < w.length; i++) w[i]! += this.strength * d[i]!;
    const bytes = new Uint8Array(w.buffer);
    for (let p = 0; p < bytes.length; p += chunkBytes) yield bytes.slice(p, Math.min(bytes.length, p + chunkBytes));
  }
}

function toF32(bytes: Uint8Array, dtype: StDtype): Float32Array {
  const f = dtype === 'F32' ? 'f32' : dtype === 'BF16' ? 'bf16' : dtype === 'F16' ? 'f16' : undefined;
  if (!f) throw new LoraError(`LoRA delta of dtype ${dtype} is not supported`);
  const even = bytes.length % 4 === 0 ? bytes : Uint8Array.from([...bytes, 0, 0]);
  const out = convert(even, f, 'f32');
  return new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
}
