// The benchmark registry's interface. A benchmark file bench/<name>.bench.ts exports
//   export const cases: BenchCase[] | ((ctx: BenchListContext) => BenchCase[])
// and bench/run.ts finds it by its file name. See the comment at the top of bench/run.ts.

import type { EgoxDevice } from '../src/runtime/device.ts';
import type { TuneStore } from '../src/kernels/tuning/gemm-autotune.ts';

/** A peer implementation of the same operation, run in the same process or timed externally. */
export interface BenchPeer {
  name: string;
  /** Records/starts one run (timed like the kernel: runs, then sync). */
  run?(): void | Promise<void>;
  /** Waits until every started run has finished. */
  sync?(): Promise<void>;
  /** Alternative to run/sync: measures itself and returns ms per run (e.g. a python process). */
  measure?(opts: { targetMs: number; repeats: number }): Promise<number>;
  dispose?(): void;
}

export interface BenchInstance {
  /** Records one run on the device (timed as: runs, then dev.sync()). */
  run(): void;
  /** Peers of this case; each yields one result row. */
  peers?: (BenchPeer | undefined)[];
  dispose(): void;
}

export interface BenchContext {
  dev: EgoxDevice;
  quick: boolean;
  /** `--tune`: measure variants before the run and store the winners. */
  tune: boolean;
  /** Tuning results persist here (the CLI passes ~/.cache/egox). */
  store?: TuneStore;
  /** Progress and notes (stderr). */
  log(line: string): void;
}

export interface BenchListContext {
  quick: boolean;
}

export interface BenchCase {
  /** Kernel family, e.g. 'gemm'; `--only` matches it. */
  kernel: string;
  /** Human-readable shape, e.g. '1024x1024x1024 f32'. */
  shape: string;
  /** Floating-point operations per run (for GFLOP/s). */
  flops?: number;
  /** Bytes moved per run (for GB/s). */
  bytes?: number;
  /** Items per run for a rate in the `note` column, e.g. { count: 1e6, unit: 'points' } -> points/s. */
  items?: { count: number; unit: string };
  /** Interleaved rounds for this case when the default (9, quick 7) is too few for its noise; at least 7. */
  rounds?: number;
  setup(ctx: BenchContext): Promise<BenchInstance>;
}

/** One output row (per case and peer). ratio above 1 means egox is faster. */
export interface BenchRow {
  kernel: string;
  shape: string;
  ms: number;
  gflops: number | null;
  gbps: number | null;
  peer: string | null;
  peerMs: number | null;
  /** Median over the interleaved rounds of peer ms / egox ms (ms and peerMs are each side's median). */
  ratio: number | null;
  /** Interquartile range [q1, q3] of the per-round ratios. */
  ratioIqr: [number, number] | null;
  /**
   * Both sides ran in this process: median and IQR of the per-round ratios of process CPU time
   * (peer / egox). On a CPU adapter (lavapipe) that is the work done, far less load-bound than
   * wall time; on a GPU adapter it is only the host's share.
   */
  cpuRatio?: number;
  cpuRatioIqr?: [number, number];
  /** Rounds timed (with a peer: rounds where both sides were measured). */
  rounds: number;
  /** E.g. a rate, or that the ratio's spread is wider than its distance from 1. */
  note?: string;
}
