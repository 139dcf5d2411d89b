/**
 * Where the tensors are in an unpickled checkpoint, and the rest as JSON-like values.
 *
 * The state dict is found by descending from the top level through the keys `state_dict`,
 * `model`, `module`, `model_state_dict` (first present, up to four levels) for as long as the
 * current dict holds no tensor itself. Tensors in it are named by their path of keys and list
 * indices joined with '.', so a flat state dict keeps its own names. The other top-level entries
 * (e.g. `model_config`) are returned as JSON-like values, tensors in them shown as
 * { tensor: dtype, shape }.
 */
import { TensorRef } from './torch-pickle.ts';

export const STATE_DICT_KEYS = ['state_dict', 'model', 'module', 'model_state_dict'] as const;

/** Deeper nesting than this is refused (it also catches cyclic containers). */
export const MAX_NESTING = 200;
/** Objects visited at most, so a small pickle of shared references cannot explode into a huge walk. */
const MAX_VISITS = 4_000_000;

export type JsonLike = null | boolean | number | string | JsonLike[] | { [k: string]: JsonLike };

export interface FoundStateDict {
  /** Keys from the top level to the state dict ([] when it is the top level). */
  path: string[];
  tensors: Map<string, TensorRef>;
  entries: Record<string, JsonLike>;
}

export class StateDictError extends Error {}

export function findStateDict(top: unknown): FoundStateDict {
  const path: string[] = [];
  let root = top;
  for (let level = 0; level < 4 && root instanceof Map; level++) {
    if ([...root.values()].some((v) => v instanceof TensorRef)) break;
    const key = STATE_DICT_KEYS.find((k) => root instanceof Map && root.get(k) instanceof Map);
    if (key === undefined) break;
    path.push(key);
    root = root.get(key);
  }
  const budget = { visits: 0 };
  const tensors = new Map<string, TensorRef>();
  collectTensors(root, '', 0, tensors, budget);

  const entries: Record<string, JsonLike> = {};
  if (top instanceof Map) {
    for (const [k, v] of top) {
      const name = String(k);
      if (path.length > 0 ? name === path[0] : holdsTensor(v, 0, budget)) continue;
      entries[name] = toJsonLike(v, 0, budget);
    }
  }
  return { path, tensors, entries };
}

function visit(depth: number, budget: { visits: number }): void {
  if (depth > MAX_NESTING) throw new StateDictError(`containers nest deeper than ${MAX_NESTING} levels (or contain themselves); not a checkpoint`);
  if (++budget.visits > MAX_VISITS) throw new StateDictError(`more than ${MAX_VISITS} objects reachable; not a checkpoint`);
}

function collectTensors(v: unknown, name: string, depth: number, out: Map<string, TensorRef>, budget: { visits: number }): void {
  visit(depth, budget);
  if (v instanceof TensorRef) {
    if (out.has(name)) throw new StateDictError(`two tensors are both named '${name}'`);
    out.set(name, v);
    return;
  }
  const join = (k: unknown): string => (name === '' ? String(k) : `${name}.${String(k)}`);
  if (v instanceof Map) for (const [k, x] of v) collectTensors(x, join(k), depth + 1, out, budget);
  else if (Array.isArray(v)) v.forEach((x, i) => collectTensors(x, join(i), depth + 1, out, budget));
}

function holdsTensor(v: unknown, depth: number, budget: { visits: number }): boolean {
  visit(depth, budget);
  if (v instanceof TensorRef) return true;
  const items = v instanceof Map ? [...v.values()] : Array.isArray(v) ? v : [];
  return items.some((x) => holdsTensor(x, depth + 1, budget));
}

/** A JSON-safe copy: dicts with string keys, big ints as strings, bytes and tensors described. */
export function toJsonLike(v: unknown, depth: number, budget = { visits: 0 }): JsonLike {
  visit(depth, budget);
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof TensorRef) return { tensor: v.storage.dtype, shape: [...v.shape] };
  if (v instanceof Uint8Array) return { bytes: v.length };
  if (Array.isArray(v)) return v.map((x) => toJsonLike(x, depth + 1, budget));
  if (v instanceof Map) {
    const o: Record<string, JsonLike> = {};
    for (const [k, x] of v) o[String(k)] = toJsonLike(x, depth + 1, budget);
    return o;
  }
  const q = (v as { qualname?: unknown }).qualname;
  return typeof q === 'string' ? q : String(v);
}
