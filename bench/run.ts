// egox benchmark harness: `npm run bench` (= tsx bench/run.ts), also `egox bench`.
//
//   tsx bench/run.ts [--json] [--only <kernel>[,<kernel>...]] [--quick] [--tune] [--markdown]
//
// Prints, per kernel and shape: ms per run, GFLOP/s and/or GB/s, and for each peer run in the
// same process on the same adapter (tfjs-webgpu) or beside it (numpy), its ms and the ratio
// peer ms / egox ms (above 1: egox is faster). egox and its peers are timed INTERLEAVED
// (bench/interleave.ts): after a warm-up, 9 rounds (7 with --quick), each timing egox and then
// every peer once (order flipped every round), each side's round lasting about 400 ms (150).
// ms and peer ms are the medians over the rounds; ratio is the median of the per-round ratios
// and ratioIqr their interquartile range; a row whose IQR is wider than |ratio - 1| says so in
// its note (no difference established). Where both sides run in this process, the same
// pairing of process CPU time gives cpuRatio and cpuRatioIqr (on lavapipe: the work itself,
// which other jobs' load moves far less than wall time). `--json` prints ONE JSON array of
// {kernel, shape, ms, gflops, gbps, peer, peerMs, ratio, ratioIqr, cpuRatio?, cpuRatioIqr?,
// rounds, note?} rows on stdout (logs go to stderr).
// `--tune` times the kernel variants first and stores the winners per adapter in
// ~/.cache/egox/tune-<adapter>.json (GEMM) and tune-<adapter>-conv.json (the Wan VAE's conv
// shape classes, tuned by bench/conv.bench.ts); without it, stored winners are used when present.
// `--markdown` prints the table as markdown (for bench/RESULTS.md).
//
// Adding benchmarks: create bench/<name>.bench.ts exporting
//   export const cases: BenchCase[] | ((ctx: { quick: boolean }) => BenchCase[])
// (types in bench/types.ts). Each case has kernel, shape, flops and/or bytes, and
// setup(ctx) -> { run(), peers?, dispose() }: run() only RECORDS dispatches; one round is
// N x run() then await dev.sync(), timed by wall clock, N chosen after the warm-up so a round
// lasts about the target. A peer either has run()/sync() (timed the same way) or measure()
// returning its own ms (called once per round with repeats 1).
//
// Programmatic use: `await runBench({ quick: true, only: ['gemm'] })` returns the rows.

import { readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { openNodeDevice } from '../src/runtime/node.ts';
import { checkSubgroupMatrices } from '../src/kernels/tuning/sgmatrix-check.ts';
import { nodeJsonStore } from '../src/runtime/tune-cache-node.ts';
import type { EgoxDevice } from '../src/runtime/device.ts';
import type { TuneStore } from '../src/kernels/tuning/gemm-autotune.ts';
import { interleave, loopSide, pairedRatio, quantile, type RoundSide, type SideSeries } from './interleave.ts';
import type { BenchCase, BenchContext, BenchPeer, BenchRow } from './types.ts';

export type { BenchCase, BenchRow } from './types.ts';

export interface BenchOptions {
  /** Kernel names to run (exact match on BenchCase.kernel); default all. */
  only?: string[];
  /** Fewer repeats and shorter timing windows. */
  quick?: boolean;
  /** Time kernel variants first and store the winners. */
  tune?: boolean;
  /** Skip the peers. */
  noPeers?: boolean;
  /** Device to use (default: open the Node device and destroy it at the end). */
  dev?: EgoxDevice;
  /** Tuning store (default: ~/.cache/egox via nodeJsonStore). */
  store?: TuneStore;
  /** Extra cases (tests, embedding); the bench/*.bench.ts files are always loaded. */
  cases?: BenchCase[];
  /** Skip loading bench/*.bench.ts (with `cases`). */
  noFiles?: boolean;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /** Called with each row as soon as it is measured. */
  onRow?: (row: BenchRow) => void;
}

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

/** Loads every bench/*.bench.ts file's cases. */
export async function loadBenchCases(quick: boolean): Promise<BenchCase[]> {
  const files = (await readdir(BENCH_DIR)).filter((f) => f.endsWith('.bench.ts')).sort();
  const out: BenchCase[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(BENCH_DIR, f)).href)) as { cases?: BenchCase[] | ((ctx: { quick: boolean }) => BenchCase[]) };
    if (!mod.cases) throw new Error(`bench/${f} exports no 'cases'`);
    out.push(...(typeof mod.cases === 'function' ? mod.cases({ quick }) : mod.cases));
  }
  return out;
}

interface Timing {
  /** Wall time one round of one side should last. */
  targetMs: number;
  /** Rounds after the warm-up, each timing egox and every peer once. */
  rounds: number;
}

/** One peer as a side of the interleaving: timed by run/sync, or one measure() call per round. */
async function peerSide(p: BenchPeer, t: Timing): Promise<RoundSide> {
  // A self-timed peer (a python process, or tfjs timing itself) reports wall ms only.
  if (p.measure) return { name: p.name, round: async () => ({ ms: await p.measure!({ targetMs: t.targetMs, repeats: 1 }) }) };
  if (!p.run) throw new Error(`peer ${p.name} has neither run() nor measure()`);
  return loopSide(p.name, () => p.run!(), () => p.sync?.() ?? Promise.resolve(), t.targetMs);
}

function rowOf(c: BenchCase, egox: SideSeries, peer: SideSeries | null): BenchRow {
  const ms = quantile(egox.ms, 0.5);
  const paired = peer ? pairedRatio(egox.ms, peer.ms) : null;
  const row: BenchRow = {
    kernel: c.kernel,
    shape: c.shape,
    ms,
    gflops: c.flops ? c.flops / ms / 1e6 : null,
    gbps: c.bytes ? c.bytes / ms / 1e6 : null,
    peer: peer?.name ?? null,
    peerMs: peer && paired ? quantile(peer.ms, 0.5) : null,
    ratio: paired?.ratio ?? null,
    ratioIqr: paired ? [paired.q1, paired.q3] : null,
    rounds: paired?.rounds ?? egox.ms.length,
  };
  // Both sides in this process: the same pairing on CPU time (lavapipe: the work, less load-bound).
  const cpu = peer ? pairedRatio(egox.cpuMs, peer.cpuMs) : null;
  if (cpu) {
    row.cpuRatio = cpu.ratio;
    row.cpuRatioIqr = [cpu.q1, cpu.q3];
  }
  const notes: string[] = [];
  if (c.items) notes.push(`${((c.items.count / ms) * 1000).toExponential(3)} ${c.items.unit}/s`);
  if (cpu) notes.push(`CPU-time ratio ${cpu.ratio.toFixed(2)}x (IQR ${cpu.q1.toFixed(2)}-${cpu.q3.toFixed(2)})`);
  if (paired?.spreadExceedsEffect) notes.push(`spread (IQR ${paired.q1.toFixed(2)}-${paired.q3.toFixed(2)}) wider than the effect: no difference established`);
  if (notes.length) row.note = notes.join('; ');
  return row;
}

/** Runs the benchmarks and returns one row per case and peer (a row with peer null when none). */
export async function runBench(options: BenchOptions = {}): Promise<BenchRow[]> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const quick = options.quick ?? false;
  // At least 7 rounds after the warm-up (the median and quartiles of fewer are too coarse).
  const timing: Timing = quick ? { targetMs: 150, rounds: 7 } : { targetMs: 400, rounds: 9 };
  let cases = [...(options.noFiles ? [] : await loadBenchCases(quick)), ...(options.cases ?? [])];
  if (options.only?.length) {
    const known = new Set(cases.map((c) => c.kernel));
    const unknown = options.only.filter((k) => !known.has(k));
    if (unknown.length) throw new BenchUsageError(`unknown kernel '${unknown.join("', '")}' for --only: use one of ${[...known].join(', ')}`);
    cases = cases.filter((c) => options.only!.includes(c.kernel));
  }
  const dev = options.dev ?? (await openNodeDevice());
  const ctx: BenchContext = { dev, quick, tune: options.tune ?? false, store: options.store ?? nodeJsonStore(), log };
  const a = dev.adapter;
  log(`adapter: ${a.description} (${a.vendor}/${a.architecture}/${a.device}), subgroups ${a.subgroupMinSize ?? '?'}-${a.subgroupMaxSize ?? '?'}`);
  // The defaults use subgroup matrices only where their check passed on this adapter.
  const check = await checkSubgroupMatrices(dev);
  if (check.ran) log(`subgroup matrices: ${check.passed ? 'check passed' : 'check FAILED'} (errors ${JSON.stringify(check.errors)})`);
  const rows: BenchRow[] = [];
  const emit = (r: BenchRow) => {
    rows.push(r);
    options.onRow?.(r);
  };
  try {
    for (const c of cases) {
      log(`${c.kernel} ${c.shape} ...`);
      const inst = await c.setup(ctx);
      try {
        const sides: RoundSide[] = [await loopSide('egox', () => inst.run(), () => dev.sync(), timing.targetMs)];
        const peers = options.noPeers ? [] : (inst.peers ?? []).filter((p): p is BenchPeer => p !== undefined);
        for (const p of peers) {
          // A peer that cannot start still gets its row (peer ms '-'); interleave logs why.
          sides.push(await peerSide(p, timing).catch((e: unknown): RoundSide => ({ name: p.name, round: () => Promise.reject(e) })));
        }
        const [egox, ...peerSeries] = await interleave(sides, Math.max(timing.rounds, c.rounds ?? 0), log);
        if (peers.length === 0) emit(rowOf(c, egox!, null));
        for (const s of peerSeries) emit(rowOf(c, egox!, s));
      } finally {
        inst.dispose();
      }
    }
  } finally {
    if (!options.dev) dev.destroy();
  }
  return rows;
}

/** Bad command-line usage (exit code 2). */
export class BenchUsageError extends Error {
  readonly exitCode = 2;
}

const fmt = (v: number | null, digits = 2) => (v === null || !Number.isFinite(v) ? '-' : v.toFixed(digits));

const iqr = (r: BenchRow) => (r.ratioIqr ? `${fmt(r.ratioIqr[0])}-${fmt(r.ratioIqr[1])}` : '-');

export function formatTable(rows: BenchRow[]): string {
  const head = ['kernel', 'shape', 'ms', 'GFLOP/s', 'GB/s', 'peer', 'peer ms', 'ratio', 'IQR', 'rounds', 'note'];
  const body = rows.map((r) => [r.kernel, r.shape, fmt(r.ms), fmt(r.gflops), fmt(r.gbps), r.peer ?? '-', fmt(r.peerMs), r.ratio === null ? '-' : `${fmt(r.ratio)}x`, iqr(r), String(r.rounds), r.note ?? '']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const right = new Set([2, 3, 4, 6, 7, 8, 9]);
  const line = (cells: string[]) => cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...body.map(line)].join('\n');
}

export function formatMarkdown(rows: BenchRow[]): string {
  const out = [
    '| kernel | shape | ms | GFLOP/s | GB/s | peer | peer ms | ratio (median of rounds, peer ms / ms) | IQR | rounds | note |',
    '|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    out.push(`| ${r.kernel} | ${r.shape} | ${fmt(r.ms)} | ${fmt(r.gflops)} | ${fmt(r.gbps)} | ${r.peer ?? '-'} | ${fmt(r.peerMs)} | ${r.ratio === null ? '-' : `${fmt(r.ratio)}x`} | ${iqr(r)} | ${r.rounds} | ${r.note ?? ''} |`);
  }
  return out.join('\n');
}

export interface BenchArgs {
  json: boolean;
  markdown: boolean;
  quick: boolean;
  tune: boolean;
  noPeers: boolean;
  only: string[];
}

export function parseBenchArgs(argv: string[]): BenchArgs {
  const a: BenchArgs = { json: false, markdown: false, quick: false, tune: false, noPeers: false, only: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json') a.json = true;
    else if (arg === '--markdown') a.markdown = true;
    else if (arg === '--quick') a.quick = true;
    else if (arg === '--tune') a.tune = true;
    else if (arg === '--no-peers') a.noPeers = true;
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const v = arg === '--only' ? argv[++i] : arg.slice('--only='.length);
      if (!v) throw new BenchUsageError('--only needs a kernel name, e.g. --only gemm');
      a.only.push(...v.split(',').filter((s) => s));
    } else {
      throw new BenchUsageError(`unknown option '${arg}': use --json, --only <kernel>, --quick, --tune, --markdown, --no-peers`);
    }
  }
  return a;
}

async function main(): Promise<void> {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(2);
  }
  // Keep stdout for the result (tfjs and others may console.log).
  if (args.json) console.log = (...v: unknown[]) => console.error(...v);
  try {
    const rows = await runBench({ quick: args.quick, tune: args.tune, only: args.only, noPeers: args.noPeers });
    if (args.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
    else process.stdout.write(`${args.markdown ? formatMarkdown(rows) : formatTable(rows)}\n`);
  } catch (e) {
    const code = (e as { exitCode?: number }).exitCode;
    process.stderr.write(`${code === 2 ? (e as Error).message : ((e as Error).stack ?? String(e))}\n`);
    process.exit(code === 2 ? 2 : 1);
  }
  // Dawn instances (ours, tfjs's) keep the event loop alive.
  process.exit(0);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) void main();
