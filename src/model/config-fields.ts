// Reading numbers out of a network's config.json. Every field is checked for type and range
// before any graph is built or buffer sized from it: a config is untrusted input, and
// `attention_head_dim: 64e9` or `num_res_blocks: 1e300` must be one clear line, not a 256 GB
// allocation or a loop V8 dies in.
import { jsonBrief } from '../io/json-bounded.ts';
import type { InputError } from '../runtime/errors.ts';

/** Larger than any width of a published network (Wan 14B: 13824; umT5-XXL vocabulary 256384). */
export const MAX_WIDTH = 1 << 20;
/** More layers than any published network has (umT5-XXL 24, Wan 40, CLIP ViT-H 32). */
export const MAX_LAYERS = 1024;

export interface FieldReader {
  /** A whole number in [min, max]; `dflt` when the field is absent (or null). */
  int(key: string, range: { min?: number; max: number }, dflt?: number): number;
  /** A finite number in [min, max] (min exclusive when `above` is set). */
  num(key: string, range: { above?: number; min?: number; max: number }, dflt?: number): number;
}

/** The object a config.json must be at its top level; `error` builds the caller's error class. */
export function configObject(json: unknown, source: string, error: (message: string) => InputError): Record<string, unknown> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw error(`${source}: the config is ${jsonBrief(json)}, expected a JSON object`);
  return json as Record<string, unknown>;
}

export function fieldReader(json: Record<string, unknown>, source: string, error: (message: string) => InputError): FieldReader {
  const value = (key: string, dflt: number | undefined): unknown => json[key] ?? dflt;
  return {
    int(key, { min = 1, max }, dflt) {
      const v = value(key, dflt);
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
        throw error(`${source}: field '${key}' must be a whole number from ${min} to ${max}, got ${jsonBrief(v)}`);
      }
      return v;
    },
    num(key, { above, min, max }, dflt) {
      const v = value(key, dflt);
      const low = above !== undefined ? typeof v === 'number' && v > above : typeof v === 'number' && v >= (min ?? -Infinity);
      if (typeof v !== 'number' || !Number.isFinite(v) || !low || v > max) {
        const lo = above !== undefined ? `above ${above}` : `from ${min}`;
        throw error(`${source}: field '${key}' must be a number ${lo} to ${max}, got ${jsonBrief(v)}`);
      }
      return v;
    },
  };
}
