// Attaching a LoRA adapter file to a model checkpoint, in one of two forms:
// - merge (the default, as EgoX does): W += s B A on the GPU right after each adapted weight
//   is uploaded (the GEMM family's merge kernel), so the forward is the plain model's;
// - fused: the model's graph gets a run-time low-rank path beside each adapted matmul,
//   Y = X W^T + b + s (X A^T) B^T, with A and B read from the adapter like any weight.
// Weights kept quantized (fp8, GGUF blocks) always take the fused form: their blocks are never
// rewritten. s = strength * alpha / r. Original-style `diff` / `diff_b` deltas are added to the base
// tensors as they stream in, in both forms. Every shape is checked here, from the headers,
// before anything is read or uploaded.

import { Checkpoint } from '../../io/checkpoint.ts';
import type { WeightFile } from '../../io/weight-file.ts';
import { WeightStore } from '../../graph/weights.ts';
import { loraMerge } from '../../kernels/gemm/index.ts';
import type { EgoxDevice } from '../../runtime/device.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { LoraError, parseLora, type LoraModules, type ParsedLora } from './formats.ts';
import { checkLoraAlpha, checkLoraDelta, checkLoraPair } from './shapes.ts';
import { AdaptedSource, loraPrefix, readF32 } from './source.ts';

export type LoraMode = 'merge' | 'fused';

/** What a caller asks for: one adapter file and how to apply it. */
export interface LoraRequest {
  file: string;
  /** Multiplies the adapter's delta (default 1). */
  strength?: number;
  /** Ignore adapter keys that match no module of the model instead of refusing the file. */
  lenient?: boolean;
  /** Default 'merge'. */
  mode?: LoraMode;
}

/** The model side: its checkpoint, the store that names its weights, its adaptable modules. */
export interface LoraBase {
  checkpoint: WeightFile;
  store: WeightStore;
  modules: LoraModules;
}

export type WeightTransform = (dev: EgoxDevice, weight: Tensor) => Promise<void>;

/** One adapter's run-time low-rank path on one module: Y += scale (X A^T) B^T. */
export interface RuntimeLoraPair {
  rank: number;
  scale: number;
  /** Graph weight names of A [rank, in] and B [out, rank]. */
  a: string;
  b: string;
}

export interface AttachedLora {
  file: string;
  mode: LoraMode;
  parsed: ParsedLora;
  /** The weights executors read: the base's, with the adapter's tensors and deltas beside them. */
  store: WeightStore;
  /**
   * Fused form: module -> its run-time low-rank paths (one per stacked adapter that runs fused
   * there: rank, scale, graph names of A and B); empty when everything merges.
   */
  runtimeLora: ReadonlyMap<string, readonly RuntimeLoraPair[]>;
  /** Merge form: executor weight transforms, W += s B A per adapted weight (empty when fused). */
  weightTransforms: ReadonlyMap<string, WeightTransform>;
  close(): Promise<void>;
}

export async function attachLora(base: LoraBase, request: LoraRequest, below?: AttachedLora, index = 0): Promise<AttachedLora> {
  const { file } = request;
  const strength = request.strength ?? 1;
  const mode = request.mode ?? 'merge';
  if (!Number.isFinite(strength)) throw new LoraError(`${file}: LoRA strength ${strength} is not a finite number`);
  const adapter = await Checkpoint.open(file);
  try {
    return await attachOpened(base, adapter, { file, strength, mode, lenient: Boolean(request.lenient) }, below, index);
  } catch (e) {
    await adapter.close(); // a rejected adapter leaves no open file behind
    throw e;
  }
}

/**
 * Several adapters stacked (e.g. EgoX's and a step-distillation LoRA): each attached on top of
 * the ones before, their deltas summed; merged ones merge one after another, fused ones run as
 * one low-rank path of the summed rank.
 */
export async function attachLoras(base: LoraBase, requests: readonly LoraRequest[]): Promise<AttachedLora> {
  let top: AttachedLora | undefined;
  try {
    for (const [i, r] of requests.entries()) top = await attachLora(base, r, top, i);
  } catch (e) {
    await top?.close();
    throw e;
  }
  if (!top) throw new LoraError('no LoRA adapter given');
  return top;
}

async function attachOpened(base: LoraBase, adapter: Checkpoint, o: { file: string; strength: number; mode: LoraMode; lenient: boolean }, below: AttachedLora | undefined, index: number): Promise<AttachedLora> {
  const { file, strength, mode } = o;
  const prefix = loraPrefix(index);
  const tag = index === 0 ? 'lora' : `lora${index}`;
  const parsed = parseLora(adapter.tensors.keys(), base.modules, file);
  if (parsed.unmatched.length > 0 && !o.lenient) {
    const shown = parsed.unmatched.slice(0, 3).join(', ');
    throw new LoraError(`${file}: ${parsed.unmatched.length} adapter key(s) match no module of the model (${shown}${parsed.unmatched.length > 3 ? ', ...' : ''}); check the adapter is for this model, or pass --lora-lenient`);
  }
  if (parsed.targets.size === 0) {
    throw new LoraError(`${file}: no LoRA tensors found (expected lora_A/lora_B, lora_down/lora_up or diff keys)`);
  }
  const header = (key: string) => adapter.tensors.get(key)!;
  const baseShape = (name: string): number[] => {
    const t = base.checkpoint.tensors.get(base.store.rename(name));
    if (!t) throw new LoraError(`${file}: adapts '${name}', which ${base.store.sourceName} does not hold; use the adapter made for this model`);
    return t.shape;
  };
  // fp8 and GGML blocks are kept as stored: their adapters run beside them.
  const heldQuantized = (name: string) => base.store.quantized.get(name) !== undefined;
  const pairs = new Map<string, { rank: number; scale: number; a: string; b: string }>();
  const deltaByKey = new Map<string, string>(); // base checkpoint key -> adapter key of its delta
  for (const t of parsed.targets.values()) {
    if (t.down && t.up) {
      const rank = checkLoraPair(file, { ...t, down: t.down, up: t.up }, header, baseShape(`${t.module}.weight`));
      let alpha = rank;
      if (t.alphaKey) alpha = await readAlpha(adapter, file, t.alphaKey);
      pairs.set(t.module, { rank, scale: (strength * alpha) / rank, a: t.down, b: t.up });
    }
    for (const [key, param] of [[t.diff, 'weight'], [t.diffBias, 'bias']] as const) {
      if (!key) continue;
      const name = `${t.module}.${param}`;
      checkLoraDelta(file, key, header(key), name, baseShape(name));
      if (heldQuantized(name)) throw new LoraError(`${file}: '${key}' is a full delta for '${name}', which the checkpoint holds quantized; egox adds low-rank adapters beside quantized weights but does not rewrite them (use a 16-bit checkpoint for this adapter)`);
      deltaByKey.set(base.store.rename(name), key);
    }
  }
  // Graph names of the run-time form's A and B -> their keys in the adapted source.
  const keyOf = new Map<string, string>();
  const graphName = (module: string, m: 'A' | 'B') => `${module}.${tag}_${m}.weight`;
  for (const [module, p] of pairs) {
    keyOf.set(graphName(module, 'A'), prefix + p.a);
    keyOf.set(graphName(module, 'B'), prefix + p.b);
  }
  const lower = below?.store ?? base.store;
  const source = new AdaptedSource(lower.source, adapter, deltaByKey, strength, prefix);
  const store = new WeightStore(source, `${lower.sourceName} + ${file}`, (n) => keyOf.get(n) ?? lower.rename(n), base.store.fp8Scales);
  const runtimeLora = new Map<string, readonly RuntimeLoraPair[]>(below?.runtimeLora);
  const weightTransforms = new Map<string, WeightTransform>(below?.weightTransforms);
  for (const [module, { rank, scale, a, b }] of pairs) {
    if (mode === 'fused' || heldQuantized(`${module}.weight`)) {
      runtimeLora.set(module, [...(runtimeLora.get(module) ?? []), { rank, scale, a: graphName(module, 'A'), b: graphName(module, 'B') }]);
    } else {
      const earlier = weightTransforms.get(`${module}.weight`);
      weightTransforms.set(`${module}.weight`, async (dev, w) => {
        await earlier?.(dev, w);
        await mergeInto(dev, adapter, w, a, b, scale);
      });
    }
  }
  const close = async () => {
    try {
      await adapter.close();
    } finally {
      await below?.close();
    }
  };
  return { file: below ? `${below.file} + ${file}` : file, mode, parsed, store, runtimeLora, weightTransforms, close };
}

/** W += scale * B A on the GPU, A and B uploaded as f32 for the merge and released after. */
async function mergeInto(dev: EgoxDevice, adapter: Checkpoint, w: Tensor, aKey: string, bKey: string, scale: number): Promise<void> {
  const a = await dev.upload(await readF32(adapter, aKey), adapter.tensors.get(aKey)!.shape, 'f32');
  const b = await dev.upload(await readF32(adapter, bKey), adapter.tensors.get(bKey)!.shape, 'f32');
  loraMerge(dev, w, a, b, scale);
  a.release(); // later users of the pooled buffers are recorded after the merge
  b.release();
}

async function readAlpha(adapter: Checkpoint, file: string, key: string): Promise<number> {
  checkLoraAlpha(file, key, adapter.tensors.get(key)!);
  const alpha = (await readF32(adapter, key))[0]!;
  if (!Number.isFinite(alpha)) throw new LoraError(`${file}: tensor '${key}' (alpha) is ${alpha}; a LoRA alpha is a finite number, usually the rank`);
  return alpha;
}
