// `npm run fuzz -- --cases 100000 [--seed N] [--workers N]`: the long fuzz run; prints the
// tally per kind and every bad case (with its index, to rerun it alone), exits 1 if any.
import { BAD_OUTCOMES, runFuzz } from './fuzz.ts';

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
