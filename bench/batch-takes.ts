// Time per take of `egox generate` over four tiny takes: one process for all four (the batch:
// one load of each network, shaders compiled once) against four processes of one take each.
// Demo weights with their real umT5 and CLIP encoders; a warm-up run first fills Mesa's disk
// shader cache so neither side pays LLVM compilation that the other does not.
// Usage: npx tsx bench/batch-takes.ts [rounds=2]
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureDemoWeights } from '../src/demo/weights.ts';
import { FOUR_TAKES, writeBatchMeta } from '../test/helpers/batch-fixture.ts';

const rounds = Number(process.argv[2] ?? 2);
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-bench-batch-'));
const w = await ensureDemoWeights(path.join(root, 'weights'));
const meta = writeBatchMeta(path.join(root, 'takes'), FOUR_TAKES);
const common = ['--model', w.modelDir, '--lora', w.loraPath, '--size', '64', '--frames', '9', '--steps', '4', '--quiet'];

function egox(args: string[]): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, [path.join(process.cwd(), 'bin/egox.js'), 'generate', '--meta', meta, ...common, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`egox ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return performance.now() - t;
}

egox(['--out', path.join(root, 'warm')]);
const rows: string[] = [];
for (let i = 0; i < rounds; i++) {
  const batch = egox(['--out', path.join(root, `batch${i}`)]);
  const singles = FOUR_TAKES.map((t) => egox(['--take', t.name, '--out', path.join(root, `single${i}`)]));
  const sum = singles.reduce((a, b) => a + b, 0);
  rows.push(`| ${i + 1} | ${(batch / 1000).toFixed(1)} s | ${(batch / 4000).toFixed(1)} s | ${(sum / 1000).toFixed(1)} s (${singles.map((s) => (s / 1000).toFixed(1)).join(', ')}) | ${(sum / 4000).toFixed(1)} s | ${(sum / batch).toFixed(2)}x |`);
  console.log(rows.at(-1));
}
console.log('| round | one process, 4 takes | per take | 4 processes | per take | speed-up |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
fs.rmSync(root, { recursive: true, force: true });
