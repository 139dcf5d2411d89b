// Parsing of CLI values, each failure a one-line usage error (exit 2).
import type { FloatDType } from '../runtime/dtype.ts';
import { InputError } from '../runtime/errors.ts';

export class UsageError extends InputError {}

/** '448x784' -> {height: 448, width: 784}. */
export function parseSize(s: string, option: string): { height: number; width: number } {
  const m = /^(\d+)x(\d+)$/.exec(s.trim());
  if (!m) throw new UsageError(`${option} '${s}': expected HEIGHTxWIDTH, e.g. 448x784`);
  return { height: Number(m[1]), width: Number(m[2]) };
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, kib: 2 ** 10, m: 1e6, mb: 1e6, mib: 2 ** 20, g: 1e9, gb: 1e9, gib: 2 ** 30, t: 1e12, tb: 1e12, tib: 2 ** 40 };

/** '24GiB', '16g', '8e9' -> bytes. */
export function parseBytes(s: string, option: string): number {
  const m = /^([\d.e+]+)\s*([a-z]*)$/i.exec(s.trim());
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  const v = m ? Number(m[1]) : NaN;
  const bytes = Math.floor(v * unit!);
  // '0.5' (meant as GiB) would round to 0 bytes: refuse what is not at least one MiB.
  if (!m || unit === undefined || !Number.isFinite(v) || !(bytes >= 2 ** 20) || !Number.isSafeInteger(bytes)) {
    throw new UsageError(`${option} '${s}': expected a size of at least 1MiB like 24GiB or 16GB`);
  }
  return bytes;
}

/** A weight storage dtype option: f32, bf16 or f16. */
export function parseWeightDtype(s: string, option: string): FloatDType {
  if (s === 'f32' || s === 'bf16' || s === 'f16') return s;
  throw new UsageError(`${option} '${s}': use f32, bf16 or f16`);
}

export function parsePositiveInt(s: string, option: string): number {
  const v = Number(s);
  if (!Number.isInteger(v) || v <= 0) throw new UsageError(`${option} '${s}': expected a positive whole number`);
  return v;
}

/** A finite number, else a usage error naming the option. */
export function num(text: string, option: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) throw new UsageError(`${option} '${text}': expected a number`);
  return v;
}

/** Collects a repeatable option's values (commander's reducer). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * `--lora FILE[:STRENGTH]` values: the strength after the last ':' when it is a number (so
 * paths with colons still work), else `defaultStrength`.
 */
export function parseLoraArgs(values: readonly string[], defaultStrength: number): { file: string; strength: number }[] {
  return values.map((v) => {
    const at = v.lastIndexOf(':');
    const tail = at > 0 ? v.slice(at + 1) : '';
    if (tail !== '' && Number.isFinite(Number(tail))) return { file: v.slice(0, at), strength: Number(tail) };
    return { file: v, strength: defaultStrength };
  });
}
