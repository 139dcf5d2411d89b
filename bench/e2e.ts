// End-to-end figures as rounds: runs a command N times, one after the other, and reports each
// round's wall time (and a number taken from its output, when asked) with the load average
// before it, then the median and interquartile range. `--cold` gives every round an empty
// Mesa shader cache of its own (MESA_SHADER_CACHE_DIR), i.e. a first run on a machine,
// without touching the user's cache.
//
//   npx tsx bench/e2e.ts [--rounds 3] [--cold] [--metric REGEX] -- COMMAND ARGS...
//
// --metric: a regular expression with one group, matched against the command's stdout and
// stderr (e.g. 'replay ([0-9.]+) s' for test/tools/dit-midsize.ts); its median is reported
// too. Prints one JSON object on stdout.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantile } from './interleave.ts';

function usage(message: string): never {
  process.stderr.write(`e2e: ${message} (usage: tsx bench/e2e.ts [--rounds N] [--cold] [--metric REGEX] -- COMMAND ...)\n`);
  process.exit(2);
}

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
if (dash < 0 || dash === argv.length - 1) usage('no command after --');
const command = argv.slice(dash + 1);
let rounds = 3;
let cold = false;
let metric: RegExp | undefined;
for (let i = 0; i < dash; i++) {
  const a = argv[i]!;
  if (a === '--cold') cold = true;
  else if (a === '--rounds') {
    rounds = Number(argv[++i]);
    if (!Number.isInteger(rounds) || rounds < 1 || rounds > 50) usage(`--rounds needs a whole number in 1..50`);
  } else if (a === '--metric') {
    const src = argv[++i] ?? usage('--metric needs a regular expression');
    metric = new RegExp(src);
  } else usage(`unknown option '${a}'`);
}

/** Runs the command once; resolves with its wall ms and output (stdout + stderr, passed through to stderr). */
function once(env: NodeJS.ProcessEnv): Promise<{ ms: number; code: number | null; text: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(command[0]!, command.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    const take = (d: Buffer) => {
      text += d.toString();
      process.stderr.write(d);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('close', (code) => resolve({ ms: performance.now() - t0, code, text }));
  });
}

const results: { s: number; load1: number; metric?: number }[] = [];
for (let r = 0; r < rounds; r++) {
  const load1 = Number(loadavg()[0]!.toFixed(2));
  const cache = cold ? mkdtempSync(join(tmpdir(), 'egox-mesa-cold-')) : undefined;
  const env = cache ? { ...process.env, MESA_SHADER_CACHE_DIR: cache } : process.env;
  const res = await once(env);
  if (cache) rmSync(cache, { recursive: true, force: true });
  if (res.code !== 0) {
    process.stderr.write(`e2e: round ${r + 1} exited with ${res.code}\n`);
    process.exit(1);
  }
  const m = metric ? res.text.match(metric) : null;
  results.push({ s: Number((res.ms / 1000).toFixed(1)), load1, ...(m ? { metric: Number(m[1]) } : {}) });
  process.stderr.write(`e2e: round ${r + 1}: ${JSON.stringify(results.at(-1))}\n`);
}
const summary = (v: number[]) => ({ median: quantile(v, 0.5), q1: quantile(v, 0.25), q3: quantile(v, 0.75) });
const metrics = results.flatMap((r) => (r.metric === undefined ? [] : [r.metric]));
process.stdout.write(
  `${JSON.stringify({ command: command.join(' '), cold, rounds: results, wallS: summary(results.map((r) => r.s)), ...(metrics.length ? { metric: summary(metrics) } : {}) })}\n`,
);
