// Which takes of a meta.json a batch runs: all, the named ones, and of those the 1/N shard of a
// job array. A take's shard comes from a hash of its name, so it never moves when the meta
// file is reordered or other takes are added, and every shard of a job computes it alone.
import { createHash } from 'node:crypto';
import { InputError } from '../runtime/errors.ts';

export class TakeSelectionError extends InputError {}

/** Shard `index` (1-based) of `count`. */
export interface Shard {
  index: number;
  count: number;
}

/** The 1-based shard a take belongs to out of `count`. */
export function shardOfTake(take: string, count: number): number {
  const h = createHash('sha256').update(take, 'utf8').digest();
  return (h.readUInt32BE(0) % count) + 1;
}

export function checkShard(s: Shard): void {
  if (!Number.isInteger(s.count) || s.count < 1 || !Number.isInteger(s.index) || s.index < 1 || s.index > s.count) {
    throw new TakeSelectionError(`shard ${s.index}/${s.count}: expected I/N with whole numbers 1 <= I <= N`);
  }
}

/**
 * The takes to run, in meta-file order: `wanted` (all when undefined; every name must be in the
 * meta), then those of `shard`.
 */
export function selectTakes(metaPath: string, inMeta: string[], wanted?: string[], shard?: Shard): string[] {
  const seen = new Set<string>();
  for (const n of inMeta) {
    if (seen.has(n)) throw new TakeSelectionError(`${metaPath}: two takes are named '${n}' (the folder holding exo_path); their outputs would overwrite each other, so give each its own folder`);
    seen.add(n);
  }
  let names = inMeta;
  if (wanted !== undefined) {
    const missing = [...new Set(wanted)].filter((n) => !seen.has(n));
    if (missing.length > 0) {
      throw new TakeSelectionError(`${metaPath}: no take named ${missing.map((n) => `'${n}'`).join(', ')}; available: ${inMeta.join(', ')}`);
    }
    const want = new Set(wanted);
    names = inMeta.filter((n) => want.has(n));
  }
  if (shard) {
    checkShard(shard);
    names = names.filter((n) => shardOfTake(n, shard.count) === shard.index);
  }
  return names;
}

/** Take names from a list file: one per line, blank lines and `#` comments ignored. */
export function parseTakeList(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l !== '');
}
