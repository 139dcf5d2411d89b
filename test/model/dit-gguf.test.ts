// A Wan DiT in a GGUF file as the community files hold it (original names without prefix,
// types mixed in one file: Q8_0 or Q4_K Linear weights where their rows are whole blocks, F32
// elsewhere, the 5-D patch embedding): the blocks stay quantized on the GPU and the output
// equals that of an F32 checkpoint holding the same values dequantized (by the float64 block
// formulas); the quantization error against the unquantized model is reported.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { relL2, useDevice } from '../helpers/gpu.ts';
import { DIT_GOLDEN, i2vInputs, loadDitCase } from './dit-golden.ts';
import { DIT_IO } from '../../src/model/wan/dit.ts';
import { WanModel } from '../../src/model/wan/model.ts';
import { readNetwork, writeGgufTwin, type QuantKind } from './quantized-twins.ts';

const device = useDevice();
const tmp = fs.mkdtempSync(join(os.tmpdir(), 'egox-gguf-dit-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const LINEAR = /^blocks\.\d+\.(self_attn\.[qkvo]|cross_attn\.(q|k|v|o|k_img|v_img)|ffn\.[02])\.weight$|^(text_embedding|time_embedding)\.[02]\.weight$|^time_projection\.1\.weight$|^head\.head\.weight$/;
/** Each Linear weight in the best of `kinds` its rows allow (whole blocks), the rest F32. */
async function writePair(kinds: QuantKind[]): Promise<{ gguf: string; f32: string; types: Record<string, number> }> {
  const net = await readNetwork(`${DIT_GOLDEN}/original_layout.weights.safetensors`, (k) => k.replace(/^model\.diffusion_model\./, ''));
  const tag = kinds.join('_');
  const paths = { gguf: join(tmp, `${tag}.gguf`), twin: join(tmp, `${tag}_dequantized.safetensors`) };
  const { types } = await writeGgufTwin(net, kinds, { quantize: (name, shape) => (LINEAR.test(name) && shape.length === 2 ? 'rows' : undefined) }, paths);
  return { gguf: paths.gguf, f32: paths.twin, types };
}

async function runDit(path: string) {
  const c = await loadDitCase('i2v_square');
  const dev = await device();
  const model = await WanModel.open(path, { config: c.config });
  const x = c.io.get('x')!;
  const exec = await model.executor(dev, model.graph({ latentShape: x.shape as [number, number, number, number] }));
  await exec.run(i2vInputs(c.io, c.config.freqDim));
  const out = await exec.read(DIT_IO.output);
  const weightBytes = exec.plan.totals.weightBytes;
  exec.destroy();
  const quantized = model.base.quantizedWeights.size;
  await model.close();
  return { out, weightBytes, quantized, base: c.io.get('out')!.data };
}

describe('GGUF DiT checkpoints', () => {
  for (const kinds of [['Q8_0'], ['Q4_K', 'Q8_0']] as const) {
    it(`${kinds.join(' + ')} (mixed with F32): same output as the dequantized F32 checkpoint`, { timeout: 900_000 }, async () => {
      const files = await writePair([...kinds]);
      const q = await runDit(files.gguf);
      const d = await runDit(files.f32);
      expect(q.quantized).toBe((files.types.Q8_0 ?? 0) + (files.types.Q4_K ?? 0));
      for (const k of kinds) expect(files.types[k], k).toBeGreaterThan(0);
      const err = relL2(q.out, d.out);
      console.log(`GGUF ${kinds.join(' + ')} (${JSON.stringify(files.types)}): rel L2 ${err.toExponential(2)} vs dequantized F32; quantization error vs the F32 model ${relL2(q.out, q.base).toExponential(2)}; weights ${q.weightBytes} B vs ${d.weightBytes} B`);
      expect(err).toBeLessThanOrEqual(1e-6);
      expect(q.weightBytes).toBeLessThan(d.weightBytes);
    });
  }
});
