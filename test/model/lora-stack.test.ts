// Stacked LoRA adapters (`--lora A --lora B:0.5`): their deltas add. The same adapter stacked
// at strengths 0.8 and 0.5 must equal it once at 1.3 (strength is linear), merged at load and
// as one fused low-rank path of twice the rank; and the stack is not the single adapter.
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { relL2, useDevice } from '../helpers/gpu.ts';
import { DIT_GOLDEN, i2vInputs, loadDitCase } from './dit-golden.ts';
import { DIT_IO } from '../../src/model/wan/dit.ts';
import { WanModel } from '../../src/model/wan/model.ts';
import type { LoraRequest } from '../../src/model/lora/attach.ts';

const device = useDevice();
const meta = JSON.parse(fs.readFileSync(`${DIT_GOLDEN}/lora_peft.json`, 'utf8'));
const adapter = `${DIT_GOLDEN}/${meta.adapter}`;

async function run(lora: LoraRequest | LoraRequest[]) {
  const c = await loadDitCase('i2v_square');
  const dev = await device();
  const model = await WanModel.open(`${DIT_GOLDEN}/${c.json.weights}`, { config: c.config, lora });
  const x = c.io.get('x')!;
  const exec = await model.executor(dev, model.graph({ latentShape: x.shape as [number, number, number, number] }));
  await exec.run(i2vInputs(c.io, c.config.freqDim));
  const out = await exec.read(DIT_IO.output);
  const paths = [...(model.lora?.runtimeLora.values() ?? [])].map((p) => p.length);
  exec.destroy();
  await model.close();
  return { out, paths };
}

describe('stacked LoRA adapters', () => {
  it('0.8 + 0.5 of one adapter equals it at 1.3, merged and fused', { timeout: 900_000 }, async () => {
    const once = await run({ file: adapter, strength: 1.3 });
    const single = await run({ file: adapter, strength: 0.8 });
    for (const mode of ['merge', 'fused'] as const) {
      const stacked = await run([{ file: adapter, strength: 0.8, mode }, { file: adapter, strength: 0.5, mode }]);
      if (mode === 'fused') expect(stacked.paths.every((n) => n === 2) && stacked.paths.length === meta.targets.length).toBe(true);
      const err = relL2(stacked.out, once.out);
      console.log(`stacked (${mode}) vs once at 1.3: rel L2 ${err.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(1e-5);
      expect(relL2(stacked.out, single.out)).toBeGreaterThan(1e-3);
    }
  });
});
