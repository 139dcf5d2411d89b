// Attach-time checks of an adapter's tensors against the weights they adapt, from the file
// headers alone: a bad pair is a one-line input error naming the file, the tensor and the fix,
// before anything is read or uploaded (the merge kernel and the GEMMs only see valid shapes).

import type { StDtype } from '../../io/safetensors-dtype.ts';
import { LoraError, type LoraTarget } from './formats.ts';

export interface TensorHeader {
  dtype: StDtype;
  shape: readonly number[];
}

/** The adapter file's headers, by key. */
export type HeaderLookup = (key: string) => TensorHeader;

const FLOATS: ReadonlySet<StDtype> = new Set<StDtype>(['F32', 'F16', 'BF16']);

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Checks lora_A/down [r, in] and lora_B/up [out, r] against the adapted weight [out, in] and
 * returns the rank r.
 */
export function checkLoraPair(file: string, t: LoraTarget & { down: string; up: string }, header: HeaderLookup, weight: readonly number[]): number {
  const [out, inF] = weight as [number, number];
  const a = header(t.down);
  const b = header(t.up);
  const bad = (key: string, what: string, fix: string) => new LoraError(`${file}: tensor '${key}' ${what}; ${fix}`);
  for (const [key, h] of [[t.down, a], [t.up, b]] as const) {
    if (!FLOATS.has(h.dtype)) throw bad(key, `is ${h.dtype}`, 'LoRA tensors must be F32, F16 or BF16');
    if (h.shape.length !== 2) throw bad(key, `has shape ${fmt(h.shape)}`, `LoRA tensors of '${t.module}' are 2-D: A [rank, ${inF}], B [${out}, rank]`);
  }
  const [ra, ka] = a.shape as [number, number];
  const [nb, rb] = b.shape as [number, number];
  if (ra === 0 && rb === 0) {
    throw bad(t.down, `has rank 0 (A ${fmt(a.shape)}, B ${fmt(b.shape)}), so its scale alpha / rank is 0 / 0`, `drop the pair for '${t.module}' from the adapter or export it with a rank of 1 or more`);
  }
  for (const [key, h] of [[t.down, a], [t.up, b]] as const) {
    if (h.shape.includes(0)) throw bad(key, `is empty ${fmt(h.shape)}`, `the pair for '${t.module}' must be A [rank, ${inF}] and B [${out}, rank] with rank >= 1; export the adapter again`);
  }
  if (ra === inF && ka === rb && ka !== inF) {
    throw bad(t.down, `has shape ${fmt(a.shape)}, lora_A transposed`, `store it as [rank, in_features] = [${rb}, ${inF}] (transpose it)`);
  }
  if (nb === ra && rb === out && ra !== out) {
    throw bad(t.up, `has shape ${fmt(b.shape)}, lora_B transposed`, `store it as [out_features, rank] = [${out}, ${ra}] (transpose it)`);
  }
  if (ra !== rb) {
    throw bad(t.up, `has rank ${rb} but its lora_A '${t.down}' has rank ${ra} (A ${fmt(a.shape)}, B ${fmt(b.shape)})`, 'A [rank, in] and B [out, rank] must share the rank; the two come from different adapters');
  }
  if (ka !== inF) {
    throw bad(t.down, `has ${ka} input features (${fmt(a.shape)}) but '${t.module}' takes ${inF}`, 'the adapter was trained for another model size; use the adapter made for this model');
  }
  if (nb !== out) {
    throw bad(t.up, `has ${nb} output features (${fmt(b.shape)}) but '${t.module}' gives ${out}`, 'the adapter was trained for another model size; use the adapter made for this model');
  }
  return ra;
}

/** Checks a full-weight or bias delta (original-key `diff` / `diff_b`) against the tensor it is added to. */
export function checkLoraDelta(file: string, key: string, h: TensorHeader, target: string, shape: readonly number[]): void {
  if (!FLOATS.has(h.dtype)) throw new LoraError(`${file}: tensor '${key}' is ${h.dtype}; LoRA deltas must be F32, F16 or BF16`);
  if (h.shape.join() !== shape.join()) {
    throw new LoraError(`${file}: tensor '${key}' has shape ${fmt(h.shape)} but the model's '${target}' is ${fmt(shape)}; use the adapter made for this model`);
  }
}

/** Checks an alpha tensor's header: one float value. */
export function checkLoraAlpha(file: string, key: string, h: TensorHeader): void {
  if (!FLOATS.has(h.dtype) || h.shape.reduce((p, d) => p * d, 1) !== 1) {
    throw new LoraError(`${file}: tensor '${key}' is ${h.dtype} ${fmt(h.shape)}; a LoRA alpha is one F32, F16 or BF16 value`);
  }
}
