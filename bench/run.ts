// egox benchmark harness: `npm run bench` (= tsx bench/run.ts), also `egox bench`.
//
//   tsx bench/run.ts [--json] [--only <kernel>[,<kernel>...]] [--quick] [--tune] [--markdown]
//
// Prints, per kernel and shape: ms per run, GFLOP/s and/or GB/s, and for each peer run in the
// same process on the same adapter (tfjs-webgpu) or beside it (numpy), its ms and the ratio
// peerMs / ms (above 1: egox is faster). `--json` prints ONE JSON array of
// {kernel, shape, ms, gflops, gbps, peer, peerMs, ratio} rows on stdout (logs go to stderr).
// `--tune` times the kernel variants first and stores the winners per adapter in
// ~/.cache/egox/tune-<adapter>.json (GEMM) and tune-<adapter>-conv.json (the Wan VAE's conv
// shape classes, tuned by bench/conv.bench.ts); without it, stored winners are used when present.
// `--markdown` prints the table as markdown (for bench/RESULTS.md).
//
// Adding benchmarks: create bench/<name>.bench.ts exporting
//   export const cases: BenchCase[] | ((ctx: { quick: boolean }) => BenchCase[])
// (types in bench/types.ts). Each case has kernel, shape, flops and/or bytes, and
// setup(ctx) -> { run(), peers?, dispose() }: run() only RECORDS dispatches; the harness
// times it as: warm up once, then `repeats` times (N x run(); await dev.sync()) by wall
// clock, N chosen so a repeat lasts about `targetMs`, reporting the median per-run time.
// A peer either has run()/sync() (timed the same way) or measure() returning its own ms.
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

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Timing {
  targetMs: number;
  repeats: number;
}

/** Median ms per run of `run` (records or starts work) followed by `sync` (waits for it). */
async function timeLoop(run: () => void | Promise<void>, sync: () => Promise<void>, t: Timing): Promise<number> {
  let t0 = performance.now();
  await run();
  await sync(); // warm-up: compiles pipelines, fills pools
  t0 = performance.now();
  await run();
  await sync();
  const once = performance.now() - t0;
  const iters = Math.max(1, Math.min(1000, Math.round(t.targetMs / Math.max(once, 0.001))));
  const samples: number[] = [];
  for (let r = 0; r < t.repeats; r++) {
    t0 = performance.now();
    for (let i = 0; i < iters; i++) await run();
    await sync();
    samples.push((performance.now() - t0) / iters);
  }
  return median(samples);
}

async function timePeer(p: BenchPeer, t: Timing): Promise<number> {
  if (p.measure) return p.measure(t);
  if (!p.run) throw new Error(`peer ${p.name} has neither run() nor measure()`);
  return timeLoop(() => p.run!(), () => p.sync?.() ?? Promise.resolve(), t);
}

function rowOf(c: BenchCase, ms: number, peer: string | null, peerMs: number | null): BenchRow {
  const row: BenchRow = {
    kernel: c.kernel,
    shape: c.shape,
    ms,
    gflops: c.flops ? c.flops / ms / 1e6 : null,
    gbps: c.bytes ? c.bytes / ms / 1e6 : null,
    peer,
    peerMs,
    ratio: peerMs !== null ? peerMs / ms : null,
  };
  if (c.items) row.note = `${((c.items.count / ms) * 1000).toExponential(3)} ${c.items.unit}/s`;
  return row;
}

/** Runs the benchmarks and returns one row per case and peer (a row with peer null when none). */
export async function runBench(options: BenchOptions = {}): Promise<BenchRow[]> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const quick = options.quick ?? false;
  const timing: Timing = quick ? { targetMs: 150, repeats: 3 } : { targetMs: 600, repeats: 5 };
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
        const ms = await timeLoop(() => inst.run(), () => dev.sync(), timing);
        const peers = options.noPeers ? [] : (inst.peers ?? []).filter((p): p is BenchPeer => p !== undefined);
        if (peers.length === 0) emit(rowOf(c, ms, null, null));
        for (const p of peers) {
          let peerMs: number | null = null;
          try {
            peerMs = await timePeer(p, timing);
          } catch (e) {
            log(`  peer ${p.name} failed: ${String((e as Error).message ?? e).split('\n')[0]}`);
          }
          emit(rowOf(c, ms, p.name, peerMs));
        }
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

export function formatTable(rows: BenchRow[]): string {
  const head = ['kernel', 'shape', 'ms', 'GFLOP/s', 'GB/s', 'peer', 'peer ms', 'ratio'];
  const body = rows.map((r) => [r.kernel, r.shape, fmt(r.ms), fmt(r.gflops), fmt(r.gbps), r.peer ?? '-', fmt(r.peerMs), r.ratio === null ? '-' : `${fmt(r.ratio)}x`]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 2 && i !== 5 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [line(head), ...body.map(line)].join('\n');
}

export function formatMarkdown(rows: BenchRow[]): string {
  const out = ['| kernel | shape | ms | GFLOP/s | GB/s | peer | peer ms | ratio (peer ms / ms) |', '|---|---|---:|---:|---:|---|---:|---:|'];
  for (const r of rows) {
    out.push(`| ${r.kernel} | ${r.shape} | ${fmt(r.ms)} | ${fmt(r.gflops)} | ${fmt(r.gbps)} | ${r.peer ?? '-'} | ${fmt(r.peerMs)} | ${r.ratio === null ? '-' : `${fmt(r.ratio)}x`} |`);
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
