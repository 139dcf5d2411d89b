// summary.json of a batch run: one record per take (status, times, seed, the one-line error),
// rewritten after every change of a take's status through a temporary file and a rename, so
// whoever reads it (a person, a scheduler, a killed job's rerun) always finds whole, true JSON.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ownedTempName } from './owned-temp.ts';
import type { GenerateStage } from './progress.ts';
import type { Shard } from './take-selection.ts';

export type TakeStatus = 'pending' | 'running' | 'done' | 'skipped' | 'failed';

export interface TakeRecord {
  take: string;
  status: TakeStatus;
  seed: number;
  /** ISO times; the take's first and last step in this run. */
  startedAt: string | null;
  finishedAt: string | null;
  /** Seconds in each stage of this take and their sum (network loads are the run's, in `networkSeconds`). */
  stageSeconds: Partial<Record<GenerateStage, number>>;
  seconds: number | null;
  /** The one-line error of a failed take, and the exit code it counts as (2 bad input, 1 internal). */
  error: string | null;
  exitCode: number | null;
  /** Why a take was skipped (its outputs were complete). */
  note: string | null;
}

/** Temporary summaries start with this (removed by the next run when their process is gone). */
export const SUMMARY_TEMP_PREFIX = '.egox-summary-';

/** summary.json, or summary-<I>-of-<N>.json for a shard (shards may share one --out). */
export function summaryFileName(shard?: Shard): string {
  return shard ? `summary-${shard.index}-of-${shard.count}.json` : 'summary.json';
}

export class BatchSummary {
  readonly path: string;
  readonly takes: TakeRecord[];
  private readonly startedAt = new Date().toISOString();
  private readonly networkSeconds: Record<string, number> = {};
  private finished = false;

  constructor(
    private readonly outDir: string,
    private readonly run: { meta: string; shard?: Shard; settings: Record<string, unknown> },
    names: string[],
    seed: number,
  ) {
    this.path = path.join(outDir, summaryFileName(run.shard));
    this.takes = names.map((take) => ({ take, status: 'pending', seed, startedAt: null, finishedAt: null, stageSeconds: {}, seconds: null, error: null, exitCode: null, note: null }));
  }

  record(take: string): TakeRecord {
    return this.takes.find((t) => t.take === take)!;
  }

  update(take: string, change: Partial<TakeRecord>): void {
    Object.assign(this.record(take), change);
    this.write();
  }

  addNetworkTime(network: string, ms: number): void {
    this.networkSeconds[network] = round((this.networkSeconds[network] ?? 0) + ms / 1000);
  }

  finish(): void {
    this.finished = true;
    this.write();
  }

  count(status: TakeStatus): number {
    return this.takes.filter((t) => t.status === status).length;
  }

  write(): void {
    const counts = Object.fromEntries((['done', 'skipped', 'failed', 'running', 'pending'] as const).map((s) => [s, this.count(s)]));
    const doc = {
      meta: path.resolve(this.run.meta),
      shard: this.run.shard ? `${this.run.shard.index}/${this.run.shard.count}` : null,
      settings: this.run.settings,
      startedAt: this.startedAt,
      updatedAt: new Date().toISOString(),
      finished: this.finished,
      counts,
      networkSeconds: this.networkSeconds,
      takes: this.takes,
    };
    fs.mkdirSync(this.outDir, { recursive: true });
    const tmp = path.join(this.outDir, ownedTempName(SUMMARY_TEMP_PREFIX));
    fs.writeFileSync(tmp, JSON.stringify(doc, null, 2) + '\n');
    fs.renameSync(tmp, this.path);
  }
}

export function round(s: number): number {
  return Math.round(s * 1000) / 1000;
}
