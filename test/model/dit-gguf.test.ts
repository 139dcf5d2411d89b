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
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import { writeSafetensors, type TensorToWrite } from '../../src/io/safetensors-writer.ts';
import { ggufBytes, type TensorSpec } from '../io/gguf/gguf-bytes.ts';
import { dequant64 } from '../ref/quant.ts';
import { quantizeQ4_K, quantizeQ8_0 } from './quantize-blocks.ts';

const device = useDevice();
const tmp = fs.mkdtempSync(join(os.tmpdir(), 'egox-gguf-dit-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const LINEAR = /^blocks\.\d+\.(self_attn\.[qkvo]|cross_attn\.(q|k|v|o|k_img|v_img)|ffn\.[02])\.weight$|^(text_embedding|time_embedding)\.[02]\.weight$|^time_projection\.1\.weight$|^head\.head\.weight$/;
const GGML = { F32: 0, Q8_0: 8, Q4_K: 12 } as const;

/** Each Linear weight in the best of `kinds` its rows allow (whole blocks), the rest F32. */
async function writePair(kinds: ('Q8_0' | 'Q4_K')[]): Promise<{ gguf: string; f32: string; types: Record<string, number> }> {
  const src = await SafetensorsFile.open(`${DIT_GOLDEN}/original_layout.weights.safetensors`);
  const tensors: TensorSpec[] = [];
  const f32: Record<string, TensorToWrite> = {};
  const types: Record<string, number> = {};
  for (const [key, info] of src.tensors) {
    const name = key.replace(/^model\.diffusion_model\./, '');
    const bytes = await src.read(key);
    const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    const K = info.shape[info.shape.length - 1]!;
    const kind = LINEAR.test(name) && info.shape.length === 2 ? kinds.find((k) => K % (k === 'Q4_K' ? 256 : 32) === 0) : undefined;
    types[kind ?? 'F32'] = (types[kind ?? 'F32'] ?? 0) + 1;
    if (!kind) {
      tensors.push({ name, dims: [...info.shape].reverse(), type: GGML.F32, data: new Uint8Array(bytes) });
      f32[name] = { dtype: 'F32', shape: info.shape, data: values };
      continue;
    }
    const rows = info.shape[0]!;
    const q = kind === 'Q8_0' ? quantizeQ8_0 : quantizeQ4_K;
    const parts = Array.from({ length: rows }, (_, r) => q(values.subarray(r * K, (r + 1) * K)));
    const data = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    parts.reduce((at, p) => (data.set(p, at), at + p.length), 0);
    tensors.push({ name, dims: [K, rows], type: GGML[kind], data });
    f32[name] = { dtype: 'F32', shape: info.shape, data: Float32Array.from(dequant64(kind === 'Q8_0' ? 'q8_0' : 'q4_k', data, (rows * K) / (kind === 'Q8_0' ? 32 : 256))) };
  }
  await src.close();
  const tag = kinds.join('_');
  const paths = { gguf: join(tmp, `${tag}.gguf`), f32: join(tmp, `${tag}_dequantized.safetensors`) };
  fs.writeFileSync(paths.gguf, ggufBytes({ kv: { 'general.architecture': { type: 'str', value: 'wan' } }, tensors }));
  await writeSafetensors(paths.f32, f32);
  return { ...paths, types };
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
