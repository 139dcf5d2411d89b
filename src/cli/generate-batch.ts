// `egox generate` without --take: every take of the meta file (or those of --takes /
// --takes-from / --shard) with one model load. This file turns the options into the batch
// call, reads the schedulers' array index for --shard auto/N (the only place that reads them),
// and draws the run's events.
import * as fs from 'node:fs';
import type { Command } from 'commander';
import type { BatchEvent, BatchResult } from '../pipeline/generate-batch.ts';
import { parseTakeList, type Shard } from '../pipeline/take-selection.ts';
import { InputError } from '../runtime/errors.ts';
import { parsePositiveInt, UsageError } from './parse.ts';
import { formatDuration, progressReporter, type ProgressMode } from './progress-reporter.ts';

export interface BatchCliOptions {
  takes?: string;
  takesFrom?: string;
  shard?: string;
  overwrite?: boolean;
  failFast?: boolean;
  wave?: string;
}

export function withBatchOptions(cmd: Command): Command {
  return cmd
    .option('--takes <a,b,...>', 'without --take: run these takes (default: every take of the meta file)')
    .option('--takes-from <file>', 'without --take: run the takes named in FILE, one per line (# comments)')
    .option('--shard <I/N>', 'run shard I of N (1-based; a take\'s shard is a hash of its name); auto/N reads I from JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID')
    .option('--overwrite', 'redo takes whose outputs are already complete in --out')
    .option('--fail-fast', 'stop at the first take that fails (default: record it in summary.json and go on)')
    .option('--wave <n>', 'takes held in host memory between networks; CLIP and the DiT load once per wave', '8');
}

/** Whether any batch-only option was given (they need the batch mode, i.e. no --take). */
export function batchOptionGiven(o: BatchCliOptions): string | null {
  const given = (['takes', 'takesFrom', 'shard', 'overwrite', 'failFast'] as const).find((k) => o[k] !== undefined && o[k] !== false);
  return given ? `--${given.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}` : null;
}

export function batchSelection(o: BatchCliOptions, env: NodeJS.ProcessEnv = process.env): { takes?: string[]; shard?: Shard; wave: number } {
  if (o.takes !== undefined && o.takesFrom !== undefined) throw new UsageError('--takes and --takes-from both name the takes: give one');
  let takes: string[] | undefined;
  if (o.takes !== undefined) takes = o.takes.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (o.takesFrom !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(o.takesFrom, 'utf8');
    } catch (e) {
      throw new UsageError(`--takes-from ${o.takesFrom}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    takes = parseTakeList(text);
  }
  if (takes !== undefined && takes.length === 0) throw new UsageError(`${o.takes !== undefined ? '--takes' : `--takes-from ${o.takesFrom}`}: names no take`);
  return { takes, shard: o.shard === undefined ? undefined : parseShard(o.shard, env), wave: parsePositiveInt(o.wave ?? '8', '--wave') };
}

/** 'I/N' (1-based) or 'auto/N' with I from the job array's index variable. */
export function parseShard(spec: string, env: NodeJS.ProcessEnv): Shard {
  const m = /^(auto|\d+)\/(\d+)$/.exec(spec.trim());
  if (!m) throw new UsageError(`--shard '${spec}': expected I/N (e.g. 2/8) or auto/N`);
  const count = Number(m[2]);
  if (count < 1) throw new UsageError(`--shard '${spec}': N must be at least 1`);
  const index = m[1] === 'auto' ? autoShardIndex(spec, env) : Number(m[1]);
  if (index < 1 || index > count) throw new UsageError(`--shard '${spec}': shard ${index} is outside 1..${count}${m[1] === 'auto' ? ' (the job array has more tasks than N; make them equal)' : ''}`);
  return { index, count };
}

function autoShardIndex(spec: string, env: NodeJS.ProcessEnv): number {
  const whole = (name: string) => {
    const v = env[name]!;
    if (!/^\d+$/.test(v.trim())) throw new UsageError(`--shard ${spec}: ${name}='${v}' is not a whole number`);
    return Number(v);
  };
  const set = (name: string) => (env[name] ?? '') !== ''; // an empty variable counts as unset
  // Kubernetes Indexed Jobs count from 0; a Slurm array counts from its first index (--array=A-B).
  if (set('JOB_COMPLETION_INDEX')) return whole('JOB_COMPLETION_INDEX') + 1;
  if (set('SLURM_ARRAY_TASK_ID')) return whole('SLURM_ARRAY_TASK_ID') - (set('SLURM_ARRAY_TASK_MIN') ? whole('SLURM_ARRAY_TASK_MIN') : 0) + 1;
  throw new UsageError(`--shard ${spec}: neither JOB_COMPLETION_INDEX (Kubernetes Indexed Job) nor SLURM_ARRAY_TASK_ID (Slurm array) is set; give the shard as I/N`);
}

/** Draws batch events: one line per take change, the take's stages as a single run draws them. */
export function batchReporter(mode: ProgressMode): (e: BatchEvent) => void {
  if (mode === 'quiet') return () => {};
  if (mode === 'json') return (e) => process.stdout.write(JSON.stringify(e.type === 'progress' ? { event: 'progress', take: e.take, ...e.event } : { event: e.type, ...e, type: undefined }) + '\n');
  const stages = progressReporter(mode);
  const out = (s: string) => process.stderr.write(s);
  return (e) => {
    if (e.type === 'progress') stages(e.event);
    else if (e.type === 'network') out(`${e.network}: ${e.action === 'load' ? 'loaded' : 'released'}\n`);
    else {
      const what = e.status === 'failed' ? `failed: ${e.error}` : e.status === 'done' ? `done in ${formatDuration((e.seconds ?? 0) * 1000)}` : e.status;
      out(`take ${e.index}/${e.total} ${e.take}: ${what}\n`);
    }
  };
}

/** Exit 0 only when every take succeeded (or was complete): else the worst failure's code. */
export function finishBatch(r: BatchResult, json: boolean, quiet: boolean): void {
  const count = (s: string) => r.takes.filter((t) => t.status === s).length;
  const line = `${count('done')} done, ${count('skipped')} already complete, ${count('failed')} failed of ${r.takes.length}; summary ${r.summary}`;
  if (json) process.stdout.write(JSON.stringify({ event: 'result', summary: r.summary, exitCode: r.exitCode, takes: r.takes }) + '\n');
  else if (!quiet) process.stderr.write(line + '\n');
  if (r.exitCode === 0) return;
  const first = r.takes.find((t) => t.status === 'failed')!;
  const message = `${count('failed')} of ${r.takes.length} takes failed (first: ${first.take}: ${first.error}); see ${r.summary}`;
  throw r.exitCode === 2 ? new InputError(message) : new Error(message);
}
