// `npm run fuzz -- --cases 100000 [--seed N] [--workers N]`: the long fuzz run; prints the
// tally per kind and every bad case (with its index), exits 1 if any.
// `npm run fuzz -- --seed N --only INDEX`: reruns one case in this process and times its load.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BAD_OUTCOMES, fuzzContext, runFuzz } from './fuzz.ts';
import { caseRng } from './rng.ts';
import { TARGETS, TARGET_NAMES } from './targets.ts';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 0) {
    process.stderr.write(`fuzz: --${name} '${process.argv[i + 1]}': expected a whole number\n`);
    process.exit(2);
  }
  return v;
}

const cases = arg('cases', 5000);
const seed = arg('seed', 1);
if (process.argv.includes('--only')) {
  const index = arg('only', 0);
  const kind = TARGET_NAMES[index % TARGET_NAMES.length]!;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-fuzz-one-'));
  const load = TARGETS[kind]!(caseRng(seed, index), dir, await fuzzContext());
  const t0 = performance.now();
  const outcome = await load().then(() => 'accepted', (e: unknown) => String(e));
  process.stdout.write(`case ${index} (${kind}) in ${Math.round(performance.now() - t0)} ms: ${outcome}\ninput kept in ${dir}\n`);
  process.exit(0);
}
const report = await runFuzz({
  cases,
  seed,
  workers: arg('workers', 1),
  onResult: (r, done) => {
    if (BAD_OUTCOMES.includes(r.outcome)) process.stdout.write(`case ${r.index} (${r.kind}): ${r.outcome}: ${r.message ?? ''}\n`);
    if (done % 1000 === 0) process.stderr.write(`${done}/${cases}\n`);
  },
});
process.stdout.write(`${JSON.stringify({ cases, seed, seconds: Math.round(report.ms / 1000), byOutcome: report.byOutcome, byKind: report.byKind }, null, 1)}\n`);
process.exit(report.failures.length > 0 ? 1 : 0);
