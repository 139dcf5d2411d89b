// The fuzz runner: hands case indexes to worker threads, watches each case with a timer, and
// classifies it: accepted, one-line input error, crash, over the time bound (hang), over the
// allocation cap (alloc, or oom when the worker's heap limit ends it), file handles left open.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ensureDemoWeights } from '../../src/demo/weights.ts';
import { TARGET_NAMES, type FuzzContext } from './targets.ts';
import type { CaseResult, Outcome } from './worker.ts';

export interface FuzzOptions {
  cases: number;
  seed: number;
  /** Worker threads (each runs one case at a time); with one, leaked file handles are detected too. */
  workers?: number;
  /** A case still running after this is a hang. */
  caseTimeoutMs?: number;
  /** Memory a case may keep (array buffers + heap) before it counts as a huge allocation. */
  allocCapBytes?: number;
  /** Heap limit of each worker: a case that needs more ends the worker (oom). */
  heapLimitMb?: number;
  onResult?: (r: CaseResult, done: number) => void;
}

export interface FuzzReport {
  cases: number;
  seed: number;
  ms: number;
  byOutcome: Record<Outcome, number>;
  byKind: Record<string, Partial<Record<Outcome, number>>>;
  /** Every case that is not accepted or a one-line input error. */
  failures: CaseResult[];
}

export const BAD_OUTCOMES: readonly Outcome[] = ['crash', 'alloc', 'leak', 'hang', 'oom'];

export async function fuzzContext(): Promise<FuzzContext> {
  const weights = await ensureDemoWeights(path.join(os.tmpdir(), 'egox-fuzz-weights'));
  return {
    model: weights.modelDir,
    metaText: fs.readFileSync('../shared/data/egoexo4d/meta.json', 'utf8'),
    tokenizerText: fs.readFileSync('test/golden/tokenizer/unigram_a.tokenizer.json', 'utf8'),
  };
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzReport> {
  const t0 = performance.now();
  const ctx = await fuzzContext();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-fuzz-'));
  const report: FuzzReport = {
    cases: o.cases,
    seed: o.seed,
    ms: 0,
    byOutcome: { accepted: 0, 'input-error': 0, crash: 0, alloc: 0, leak: 0, hang: 0, oom: 0 },
    byKind: Object.fromEntries(TARGET_NAMES.map((k) => [k, {}])),
    failures: [],
  };
  let next = 0;
  let done = 0;
  const record = (r: CaseResult) => {
    report.byOutcome[r.outcome]++;
    const k = (report.byKind[r.kind] ??= {});
    k[r.outcome] = (k[r.outcome] ?? 0) + 1;
    if (BAD_OUTCOMES.includes(r.outcome)) report.failures.push(r);
    o.onResult?.(r, ++done);
  };
  const workers = o.workers ?? 1;
  const workerData = { seed: o.seed, tmp, ctx, allocCapBytes: o.allocCapBytes ?? 256 * 2 ** 20, checkHandles: workers === 1 };

  /** One lane: a worker running cases until none are left, replaced when it hangs or dies. */
  const lane = async (): Promise<void> => {
    while (next < o.cases) {
      const w = new Worker(new URL('./boot.mjs', import.meta.url), { workerData, resourceLimits: { maxOldGenerationSizeMb: o.heapLimitMb ?? 1024 } });
      await new Promise<void>((resolve, reject) => {
        let current = -1;
        let timer: NodeJS.Timeout | undefined;
        const kindOf = (i: number) => TARGET_NAMES[i % TARGET_NAMES.length]!;
        const send = () => {
          if (next >= o.cases) {
            current = -1;
            return void w.terminate().then(() => resolve());
          }
          current = next++;
          w.postMessage({ index: current });
        };
        /** The watchdog of the case's load (its input is built before, untimed). */
        const watch = () => {
          timer = setTimeout(() => {
            record({ index: current, kind: kindOf(current), outcome: 'hang', message: `still running after ${o.caseTimeoutMs ?? 2000} ms` });
            current = -1;
            void w.terminate().then(() => resolve());
          }, o.caseTimeoutMs ?? 2000);
        };
        w.on('message', (m: CaseResult | 'ready' | { index: number; loading: true }) => {
          if (m === 'ready') return send();
          if ('loading' in m) return m.index === current ? watch() : undefined;
          clearTimeout(timer);
          if (m.index !== current) return; // a late answer from a case already counted
          record(m);
          send();
        });
        w.on('error', (e: Error & { code?: string }) => {
          clearTimeout(timer);
          if (current < 0) return reject(e); // the worker itself failed to start
          record({ index: current, kind: kindOf(current), outcome: e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'oom' : 'crash', message: e.message.split('\n')[0] });
          current = -1;
          resolve();
        });
        w.on('exit', () => {
          clearTimeout(timer);
          if (current >= 0) record({ index: current, kind: kindOf(current), outcome: 'crash', message: 'worker exited during the case' });
          current = -1;
          resolve();
        });
      });
    }
  };
  try {
    await Promise.all(Array.from({ length: workers }, lane));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  report.ms = performance.now() - t0;
  return report;
}
