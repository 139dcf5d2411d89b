// Interleaved timing: egox and its peers take turns, one round each (A B C | C B A | A B C ...),
// so that a load change on this shared machine hits both sides of a round alike. Each round
// yields a per-round ratio peer ms / egox ms; the row reports the median of those ratios and
// their interquartile range, not a ratio of two medians taken minutes apart. The order flips
// every round so that a steady drift (a job starting, the CPU warming) does not favour
// whichever side always goes first.

/**
 * Per run in one round: wall ms, and for work done in this process the process's CPU ms
 * (user + system). On a CPU adapter such as lavapipe the CPU time is the work itself, which
 * other jobs' load changes far less than the wall time; on a GPU it is only the host's share.
 */
export interface RoundTime {
  ms: number;
  cpuMs?: number;
}

/** One side of a comparison: `round()` times one round. */
export interface RoundSide {
  name: string;
  round(): Promise<RoundTime>;
}

export interface SideSeries {
  name: string;
  /** ms per run, one per round (NaN for a round where this side failed). */
  ms: number[];
  /** Process CPU ms per run, one per round (NaN where not measured). */
  cpuMs: number[];
}

/** Sample quantile by linear interpolation between order statistics (q in [0, 1]). */
export function quantile(values: number[], q: number): number {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const at = q * (s.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo]! + (s[hi]! - s[lo]!) * (at - lo);
}

export interface RatioSummary {
  /** Median of the per-round ratios peer ms / egox ms. */
  ratio: number;
  /** Interquartile range of the per-round ratios. */
  q1: number;
  q3: number;
  /** Rounds with both sides measured. */
  rounds: number;
  /** The IQR is wider than the claimed effect |ratio - 1|: the sign of the difference is not established. */
  spreadExceedsEffect: boolean;
}

/** Pairs two series round by round and summarises the ratios b / a. */
export function pairedRatio(a: number[], b: number[]): RatioSummary | null {
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const r = b[i]! / a[i]!;
    if (Number.isFinite(r) && r > 0) ratios.push(r);
  }
  if (ratios.length === 0) return null;
  const ratio = quantile(ratios, 0.5);
  const q1 = quantile(ratios, 0.25);
  const q3 = quantile(ratios, 0.75);
  return { ratio, q1, q3, rounds: ratios.length, spreadExceedsEffect: q3 - q1 > Math.abs(ratio - 1) };
}

/**
 * Runs `rounds` rounds over the sides (the first is egox), flipping the order each round.
 * A side that throws is logged once and left out of the later rounds (its ms become NaN).
 */
export async function interleave(sides: RoundSide[], rounds: number, log: (line: string) => void = () => {}): Promise<SideSeries[]> {
  const series: SideSeries[] = sides.map((s) => ({ name: s.name, ms: [], cpuMs: [] }));
  const failed = new Set<number>();
  for (let r = 0; r < rounds; r++) {
    const order = sides.map((_, i) => i);
    if (r % 2 === 1) order.reverse();
    for (const i of order) {
      if (failed.has(i)) {
        series[i]!.ms.push(Number.NaN);
        series[i]!.cpuMs.push(Number.NaN);
        continue;
      }
      try {
        const t = await sides[i]!.round();
        series[i]!.ms.push(t.ms);
        series[i]!.cpuMs.push(t.cpuMs ?? Number.NaN);
      } catch (e) {
        if (i === 0) throw e; // egox itself failing is a real error, not a missing peer
        failed.add(i);
        series[i]!.ms.push(Number.NaN);
        series[i]!.cpuMs.push(Number.NaN);
        log(`  peer ${sides[i]!.name} failed: ${String((e as Error).message ?? e).split('\n')[0]}`);
      }
    }
  }
  for (const s of series) {
    const cpu = s.cpuMs.some((v) => Number.isFinite(v)) ? `; CPU ms ${s.cpuMs.map((v) => v.toFixed(1)).join(' ')}` : '';
    log(`  ${s.name}: ms per round ${s.ms.map((v) => v.toFixed(1)).join(' ')}${cpu}`);
  }
  return series;
}

/**
 * A RoundSide for work that is recorded by `run` and waited for by `sync`: a warm-up run
 * (compiles, fills pools), one timed run to choose the runs per round so a round lasts about
 * `targetMs` (well above the timer's and the sync's own cost), then each round times them.
 */
export async function loopSide(name: string, run: () => void | Promise<void>, sync: () => Promise<void>, targetMs: number): Promise<RoundSide> {
  await run();
  await sync();
  const t0 = performance.now();
  await run();
  await sync();
  const once = performance.now() - t0;
  const iters = Math.max(1, Math.min(1000, Math.round(targetMs / Math.max(once, 0.001))));
  return {
    name,
    async round() {
      const cpu0 = process.cpuUsage();
      const t = performance.now();
      for (let i = 0; i < iters; i++) await run();
      await sync();
      const ms = (performance.now() - t) / iters;
      const cpu = process.cpuUsage(cpu0);
      return { ms, cpuMs: (cpu.user + cpu.system) / 1000 / iters };
    },
  };
}
