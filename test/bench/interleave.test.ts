import { describe, expect, it } from 'vitest';
import { interleave, pairedRatio, quantile, type RoundSide } from '../../bench/interleave.ts';
import { runBench } from '../../bench/run.ts';
import type { BenchCase } from '../../bench/types.ts';

/** A side that returns scripted ms per round and records when it ran. */
function scripted(name: string, values: number[], calls: string[]): RoundSide {
  let i = 0;
  return {
    name,
    round: async () => {
      calls.push(name);
      const ms = values[i++]!;
      return { ms, cpuMs: 2 * ms };
    },
  };
}

describe('quantile', () => {
  it('interpolates between order statistics and ignores NaN', () => {
    expect(quantile([5, 1, 3], 0.5)).toBe(3);
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5], 0.25)).toBe(2);
    expect(quantile([1, Number.NaN, 3], 0.5)).toBe(2);
    expect(quantile([], 0.5)).toBeNaN();
  });
});

describe('pairedRatio', () => {
  it('takes the median of per-round ratios, not the ratio of medians', () => {
    // Load doubles half-way; the peer is 1.2x slower in every round.
    const egox = [10, 10, 10, 20, 20, 20, 20];
    const peer = egox.map((v) => v * 1.2);
    const r = pairedRatio(egox, peer)!;
    expect(r.ratio).toBeCloseTo(1.2, 12);
    expect(r.q1).toBeCloseTo(1.2, 12);
    expect(r.q3).toBeCloseTo(1.2, 12);
    expect(r.rounds).toBe(7);
    expect(r.spreadExceedsEffect).toBe(false);
  });

  it('flags a spread wider than the claimed effect', () => {
    const egox = [10, 10, 10, 10, 10, 10, 10];
    const peer = [8, 13, 9, 12, 10.5, 11, 9.5];
    const r = pairedRatio(egox, peer)!;
    expect(r.ratio).toBeCloseTo(1.05, 12);
    expect(r.q3 - r.q1).toBeGreaterThan(Math.abs(r.ratio - 1));
    expect(r.spreadExceedsEffect).toBe(true);
  });

  it('leaves out rounds where a side failed and returns null with none left', () => {
    expect(pairedRatio([10, 10, 10], [20, Number.NaN, 30])!.rounds).toBe(2);
    expect(pairedRatio([10], [Number.NaN])).toBeNull();
  });
});

describe('interleave', () => {
  it('alternates the sides and flips their order every round', async () => {
    const calls: string[] = [];
    const series = await interleave([scripted('a', [1, 2, 3], calls), scripted('b', [4, 5, 6], calls)], 3);
    expect(calls).toEqual(['a', 'b', 'b', 'a', 'a', 'b']);
    expect(series.map((s) => s.ms)).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(series.map((s) => s.cpuMs)).toEqual([[2, 4, 6], [8, 10, 12]]);
  });

  it('drops a failing peer with one log line and keeps timing the others', async () => {
    const calls: string[] = [];
    const lines: string[] = [];
    const broken: RoundSide = { name: 'broken', round: () => Promise.reject(new Error('no adapter\nstack')) };
    const series = await interleave([scripted('a', [1, 2, 3], calls), broken], 3, (l) => lines.push(l));
    expect(series[1]!.ms.every((v) => Number.isNaN(v))).toBe(true);
    expect(series[0]!.ms).toEqual([1, 2, 3]);
    expect(lines.filter((l) => l.includes('peer broken failed: no adapter'))).toHaveLength(1);
  });

  it('throws when egox itself fails', async () => {
    const bad: RoundSide = { name: 'egox', round: () => Promise.reject(new Error('lost device')) };
    await expect(interleave([bad], 7)).rejects.toThrow('lost device');
  });
});

describe('runBench rows', () => {
  it('reports the median ratio, its IQR, the CPU-time ratio and the rounds, and they survive JSON', async () => {
    // A CPU-only case: egox spins ~1 ms per run, the peer ~2 ms (no timing is asserted).
    const spin = (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end);
    };
    const c: BenchCase = {
      kernel: 'fake',
      shape: 'sleep',
      flops: 1e6,
      async setup() {
        return {
          run: () => spin(1),
          peers: [{ name: 'slower', run: () => spin(2), sync: async () => {} }, undefined],
          dispose: () => {},
        };
      },
    };
    const rows = await runBench({ quick: true, noFiles: true, cases: [c], log: () => {} });
    expect(rows).toHaveLength(1);
    const row = JSON.parse(JSON.stringify(rows[0]));
    expect(row.peer).toBe('slower');
    expect(row.rounds).toBe(7);
    expect(row.ratioIqr).toHaveLength(2);
    expect(row.ratioIqr[0]).toBeLessThanOrEqual(row.ratio);
    expect(row.ratio).toBeLessThanOrEqual(row.ratioIqr[1]);
    expect(Number.isFinite(row.ms) && Number.isFinite(row.peerMs)).toBe(true);
    // Both sides ran in this process, so the CPU-time pairing is there too.
    expect(row.cpuRatioIqr).toHaveLength(2);
    expect(Number.isFinite(row.cpuRatio)).toBe(true);
  });
});
