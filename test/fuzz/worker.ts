// Runs fuzz cases in a worker thread, one at a time as the runner asks, and reports each
// case's outcome. The runner's watchdog terminates this worker when a case runs too long, and
// its heap limit ends it when a case allocates without bound.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { InputError } from '../../src/runtime/errors.ts';
import { caseRng } from './rng.ts';
import { TARGETS, TARGET_NAMES, type FuzzContext } from './targets.ts';

export interface CaseRequest {
  index: number;
}

export type Outcome = 'accepted' | 'input-error' | 'crash' | 'alloc' | 'leak' | 'hang' | 'oom';

export interface CaseResult {
  index: number;
  kind: string;
  outcome: Outcome;
  message?: string;
}

interface WorkerData {
  seed: number;
  tmp: string;
  ctx: FuzzContext;
  allocCapBytes: number;
  /** Count open file descriptors around each case (only meaningful with one worker: they are per process). */
  checkHandles: boolean;
}

const data = workerData as WorkerData;
const openFds = () => fs.readdirSync('/proc/self/fd').length;

async function runCase(index: number): Promise<CaseResult> {
  const kind = TARGET_NAMES[index % TARGET_NAMES.length]!;
  const dir = path.join(data.tmp, `case-${index}`);
  fs.mkdirSync(dir, { recursive: true });
  // Building the input is not timed: the runner's watchdog starts at the 'loading' message.
  const load = TARGETS[kind]!(caseRng(data.seed, index), dir, data.ctx);
  parentPort!.postMessage({ index, loading: true });
  const fds = openFds();
  const before = process.memoryUsage();
  let outcome: Outcome = 'accepted';
  let message: string | undefined;
  try {
    await load();
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    message = err.message.slice(0, 2000);
    // Control bytes a file put in a message are the CLI reporter's to escape; a line break is not.
    const oneLine = !err.message.includes('\n');
    outcome = e instanceof InputError && oneLine ? 'input-error' : 'crash';
    if (outcome === 'crash') message = `${err.name}: ${message} @ ${(err.stack ?? '').split('\n').slice(1, 3).join(' ').trim()}`;
  }
  const after = process.memoryUsage();
  const grew = after.arrayBuffers - before.arrayBuffers + (after.heapUsed - before.heapUsed);
  if (grew > data.allocCapBytes) {
    outcome = 'alloc';
    message = `${Math.round(grew / 2 ** 20)} MiB kept after the case`;
  }
  fs.rmSync(dir, { recursive: true, force: true });
  const left = data.checkHandles ? openFds() - fds : 0;
  if (left > 0 && outcome !== 'crash') {
    outcome = 'leak';
    message = `${left} file handles left open`;
  }
  return { index, kind, outcome, message };
}

parentPort!.on('message', (req: CaseRequest) => {
  void runCase(req.index).then((r) => parentPort!.postMessage(r));
});
parentPort!.postMessage('ready');
