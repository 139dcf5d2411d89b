// How many pipelines a generate run compiles, by family, and how many a second run at another
// size adds (the measure of how shape-generic the kernels are). Tiny demo weights, real take.
// Usage: npx tsx test/tools/pipeline-count.ts [firstSize=64] [secondSize=128]
import * as path from 'node:path';
import { openNodeDevice } from '../../src/runtime/node.ts';
import { generate } from '../../src/pipeline/generate.ts';
import type { KernelProgram } from '../../src/runtime/program.ts';
import { makeGenerateFixture, SHARED_META, SOCCER } from '../helpers/generate-fixture.ts';

const sizes = [Number(process.argv[2] ?? 64), Number(process.argv[3] ?? 128)];
const fx = await makeGenerateFixture('egox-pipeline-count-');
const dev = await openNodeDevice();
const seen = new Set<string>();
let fresh: string[] = [];
const cache = dev.pipelines as unknown as { get: (p: KernelProgram) => unknown };
const get = cache.get.bind(cache);
cache.get = (p: KernelProgram) => {
  if (!seen.has(p.key)) {
    seen.add(p.key);
    fresh.push(p.key);
  }
  return get(p);
};
try {
  for (const size of sizes) {
    fresh = [];
    const t0 = Date.now();
    await generate(dev, { meta: SHARED_META, take: SOCCER, model: fx.model, lora: fx.lora, out: path.join(fx.root, `out-${size}`), size, frames: 9, steps: 2 });
    const byFamily = new Map<string, number>();
    for (const k of fresh) byFamily.set(k.split(':')[0]!, (byFamily.get(k.split(':')[0]!) ?? 0) + 1);
    const families = [...byFamily].sort((a, b) => b[1] - a[1]).map(([f, n]) => `${f} ${n}`);
    console.log(`size ${size}: ${fresh.length} new pipelines, ${((Date.now() - t0) / 1000).toFixed(1)} s: ${families.join(', ')}`);
  }
} finally {
  fx.cleanup();
  dev.destroy();
}
process.exit(0);
