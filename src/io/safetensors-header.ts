/**
 * Validation of a safetensors header (the JSON between the 8-byte length and the data section).
 * Pure: takes the header bytes and the data section length, returns checked entries or throws a
 * FileFormatError naming the file, the tensor and the problem. Nothing here allocates according
 * to sizes the header declares.
 */
import { FileFormatError } from './format-error.ts';
import { findDuplicateKey } from './json-duplicate-keys.ts';
import { jsonBrief, parseJsonBounded } from './json-bounded.ts';
import { dtypeProblem, isStDtype, ST_ITEM_SIZE, type StDtype } from './safetensors-dtype.ts';

/** Largest header we accept; real headers of 14B-parameter checkpoints are well under 1 MB. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface HeaderEntry {
  name: string;
  dtype: StDtype;
  shape: number[];
  /** Byte offsets relative to the start of the data section, end exclusive. */
  begin: number;
  end: number;
}

export interface ParsedHeader {
  entries: HeaderEntry[];
  metadata: Record<string, string>;
  /** Non-fatal oddities (e.g. bytes of the data section no tensor covers). */
  warnings: string[];
}

const CORRUPT = '; the file is corrupt or was written by a faulty tool (re-download or re-export it)';

export function parseSafetensorsHeader(file: string, headerBytes: Uint8Array, dataLength: number): ParsedHeader {
  const fail = (problem: string, tensor?: string): never => {
    throw new FileFormatError(file, problem, tensor);
  };

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    return fail(`header is not valid UTF-8${CORRUPT}`);
  }
  let json: unknown;
  try {
    json = parseJsonBounded(text);
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})${CORRUPT}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return fail(`header is ${describeJson(json)}, expected a JSON object${CORRUPT}`);
  }
  const dup = findDuplicateKey(text);
  if (dup) {
    if (dup.inside === undefined) fail(`tensor name '${dup.key}' appears twice in the header${CORRUPT}`);
    else if (dup.inside === '__metadata__') fail(`__metadata__ key '${dup.key}' appears twice${CORRUPT}`);
    else fail(`key '${dup.key}' appears twice in the header entry${CORRUPT}`, dup.inside);
  }

  const entries: HeaderEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = checkMetadata(value, fail);
      continue;
    }
    entries.push(checkEntry(name, value, dataLength, fail));
  }

  const warnings = checkLayout(entries, dataLength, fail);
  return { entries, metadata, warnings };
}

function checkMetadata(value: unknown, fail: (p: string) => never): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(`__metadata__ is ${describeJson(value)}, expected an object of strings`);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'string') fail(`__metadata__ value of '${k}' is ${describeJson(v)}, expected a string`);
    out[k] = v as string;
  }
  return out;
}

function checkEntry(
  name: string,
  value: unknown,
  dataLength: number,
  fail: (p: string, t?: string) => never,
): HeaderEntry {
  const bad = (p: string): never => fail(p, name);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    bad(`header entry is ${describeJson(value)}, expected {dtype, shape, data_offsets}${CORRUPT}`);
  }
  const v = value as Record<string, unknown>;
  for (const key of ['dtype', 'shape', 'data_offsets']) {
    if (!(key in v)) bad(`header entry has no '${key}'${CORRUPT}`);
  }
  if (!isStDtype(v.dtype)) bad(dtypeProblem(v.dtype));
  const dtype = v.dtype as StDtype;

  if (!Array.isArray(v.shape)) bad(`shape is ${describeJson(v.shape)}, expected an array of integers${CORRUPT}`);
  const shape = v.shape as unknown[];
  let count = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      bad(`shape ${jsonBrief(shape)} has dimension ${jsonBrief(d)}, expected a non-negative integer below 2^53${CORRUPT}`);
    }
    count *= d as number;
    // Stop before the product loses precision; no real tensor gets near this.
    if (!Number.isSafeInteger(count)) bad(`shape ${jsonBrief(shape)} has more than 2^53 elements${CORRUPT}`);
  }

  const offs = v.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2) {
    bad(`data_offsets is ${describeJson(offs)}, expected [begin, end]${CORRUPT}`);
  }
  const [begin, end] = offs as unknown[];
  for (const o of [begin, end]) {
    if (typeof o !== 'number' || !Number.isSafeInteger(o) || o < 0) {
      bad(`data_offsets ${jsonBrief(offs)} must be non-negative integers${CORRUPT}`);
    }
  }
  const b = begin as number;
  const e = end as number;
  if (b > e) bad(`data_offsets [${b}, ${e}] has begin > end${CORRUPT}`);
  if (e > dataLength) bad(`data_offsets [${b}, ${e}] run past the end of the data section (${dataLength} bytes); the file is truncated or corrupt`);
  const need = count * ST_ITEM_SIZE[dtype];
  if (!Number.isSafeInteger(need) || need !== e - b) {
    bad(`shape ${jsonBrief(shape)} of ${dtype} needs ${need} bytes but data_offsets [${b}, ${e}] span ${e - b}${CORRUPT}`);
  }
  return { name, dtype, shape: shape as number[], begin: b, end: e };
}

/** Ranges must not overlap; bytes no tensor covers are only a warning (harmless, but odd). */
function checkLayout(entries: HeaderEntry[], dataLength: number, fail: (p: string, t?: string) => never): string[] {
  const sorted = [...entries].sort((x, y) => x.begin - y.begin || x.end - y.end);
  const warnings: string[] = [];
  let prev: HeaderEntry | undefined;
  let covered = 0;
  let holes = 0;
  for (const t of sorted) {
    if (t.begin === t.end) continue; // empty tensors occupy no bytes
    if (prev && t.begin < prev.end) {
      fail(`data_offsets [${t.begin}, ${t.end}] overlap those of tensor '${prev.name}' [${prev.begin}, ${prev.end}]${CORRUPT}`, t.name);
    }
    if (t.begin > (prev?.end ?? 0)) holes += t.begin - (prev?.end ?? 0);
    covered += t.end - t.begin;
    prev = t;
  }
  const tail = dataLength - (prev?.end ?? 0);
  if (holes > 0 || tail > 0) {
    warnings.push(`${dataLength - covered} of ${dataLength} data bytes belong to no tensor (${holes} in gaps, ${tail} at the end)`);
  }
  return warnings;
}

function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a JSON array';
  if (typeof v === 'object') return 'a JSON object';
  if (v === undefined) return 'missing';
  return `a ${typeof v} (${jsonBrief(v, 40)})`;
}
