// Shards of a batch: 1/N .. N/N partition the takes exactly, and a take's shard depends on its
// name only (reordering the meta file, or adding takes, moves nothing).
import { describe, expect, it } from 'vitest';
import { parseTakeList, selectTakes, shardOfTake } from '../../src/pipeline/take-selection.ts';
import { FOUR_TAKES } from '../helpers/batch-fixture.ts';

const names = [...FOUR_TAKES.map((t) => t.name), ...Array.from({ length: 29 }, (_, i) => `take_${(i * 7919) % 1000}_${i}`)];

describe('take selection', () => {
  it('shards 1/3, 2/3, 3/3 partition the takes exactly', () => {
    const shards = [1, 2, 3].map((index) => selectTakes('meta.json', names, undefined, { index, count: 3 }));
    expect(shards.flat().sort()).toEqual([...names].sort());
    expect(new Set(shards.flat()).size).toBe(names.length);
    // Every shard of a realistic list gets some work (the hash spreads names).
    for (const s of shards) expect(s.length).toBeGreaterThan(3);
  });

  it('reordering or extending the meta file does not move a take', () => {
    const reordered = [...names].reverse();
    const extended = ['new_a', ...names.slice(0, 10), 'new_b', ...names.slice(10)];
    for (const index of [1, 2, 3]) {
      const s = { index, count: 3 };
      const base = selectTakes('meta.json', names, undefined, s);
      expect(selectTakes('meta.json', reordered, undefined, s).sort()).toEqual([...base].sort());
      expect(selectTakes('meta.json', extended, undefined, s).filter((n) => !n.startsWith('new_'))).toEqual(base);
    }
    for (const n of names) expect(shardOfTake(n, 3)).toBe(shardOfTake(n, 3));
  });

  it('picks named takes in meta order, refuses unknown names, duplicate takes and bad shards', () => {
    expect(selectTakes('m.json', names, [names[3]!, names[0]!])).toEqual([names[0], names[3]]);
    expect(() => selectTakes('m.json', names, ['nope'])).toThrow(/no take named 'nope'; available: cmu_soccer/);
    expect(() => selectTakes('m.json', ['a', 'b', 'a'])).toThrow(/two takes are named 'a'/);
    expect(() => selectTakes('m.json', names, undefined, { index: 4, count: 3 })).toThrow(/shard 4\/3/);
  });

  it('reads take lists with comments and blank lines', () => {
    expect(parseTakeList('a\n\n# skip this\nb  # trailing\r\n  c\n')).toEqual(['a', 'b', 'c']);
  });
});
