// A kernel check that runs the same way under vitest (Node, Dawn) and inside a browser page:
// it returns measured numbers with their bounds instead of calling expect, and the caller
// asserts them. No Node imports: the page bundles this file.
import type { EgoxDevice } from '../../src/runtime/device.ts';

export interface Check {
  what: string;
  value: number;
  /** Passes when value <= max / value >= min / value === equals (those given). */
  max?: number;
  min?: number;
  /** Passes when value > above. */
  above?: number;
  equals?: number;
}

export interface KernelCase {
  name: string;
  run: (dev: EgoxDevice) => Promise<Check[]>;
}

export function checkPasses(c: Check): boolean {
  if (!Number.isFinite(c.value)) return false;
  if (c.max !== undefined && !(c.value <= c.max)) return false;
  if (c.min !== undefined && !(c.value >= c.min)) return false;
  if (c.above !== undefined && !(c.value > c.above)) return false;
  if (c.equals !== undefined && c.value !== c.equals) return false;
  return true;
}

/** One line per failed check ([] when all pass), for expect(...).toEqual([]). */
export function failedChecks(checks: readonly Check[]): string[] {
  return checks.filter((c) => !checkPasses(c)).map((c) => `${c.what}: ${c.value} (want ${[c.max !== undefined ? `<= ${c.max}` : '', c.min !== undefined ? `>= ${c.min}` : '', c.above !== undefined ? `> ${c.above}` : '', c.equals !== undefined ? `= ${c.equals}` : ''].filter(Boolean).join(', ')})`);
}
