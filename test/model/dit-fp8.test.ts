// A Wan DiT checkpoint with fp8 Linear weights, as ComfyUI's fp8_e4m3fn / fp8_scaled files hold
// them (original names with the model.diffusion_model. prefix, F8_E4M3 or F8_E5M2, a
// `scale_weight` scalar per tensor in scaled files): the weights stay 8-bit on the GPU, and the
// output equals that of an F32 checkpoint holding the same values dequantized. The LoRA
// adapter then runs beside the fp8 matmuls (fused form) and matches the PyTorch reference.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { relL2, useDevice } from '../helpers/gpu.ts';
import { DIT_GOLDEN, i2vInputs, loadDitCase, readF32Tensors } from './dit-golden.ts';
import { DIT_IO } from '../../src/model/wan/dit.ts';
import { WanModel } from '../../src/model/wan/model.ts';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import { writeSafetensors, type TensorToWrite } from '../../src/io/safetensors-writer.ts';
import { fp8Nearest, fp8Value, type Fp8Format } from '../ref/fp8.ts';

const device = useDevice();
const tmp = fs.mkdtempSync(join(os.tmpdir(), 'egox-fp8-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The block Linear weights ComfyUI's fp8 files store in 8 bits. */
const LINEAR = /^model\.diffusion_model\.blocks\.\d+\.(self_attn\.[qkvo]|cross_attn\.(q|k|v|o|k_img|v_img)|ffn\.[02])\.weight$/;

/** The golden original-layout file with its block Linears in fp8 (+ scales), and the same values dequantized in F32. */
async function writePair(format: Fp8Format, scaled: boolean): Promise<{ fp8: string; f32: string; count: number }> {
  const src = await SafetensorsFile.open(`${DIT_GOLDEN}/original_layout.weights.safetensors`);
  const fp8: Record<string, TensorToWrite> = {};
  const f32: Record<string, TensorToWrite> = {};
  let count = 0;
  for (const [name, info] of src.tensors) {
    const bytes = await src.read(name);
    const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    if (!LINEAR.test(name)) {
      fp8[name] = f32[name] = { dtype: 'F32', shape: info.shape, data: values };
      continue;
    }
    count++;
    const max = values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const top = format === 'f8e4m3' ? 448 : 57344;
    const scale = scaled ? Math.fround(max / top) : 1;
    const codes = Uint8Array.from(values, (v) => fp8Nearest(format, v / scale));
    fp8[name] = { dtype: format === 'f8e4m3' ? 'F8_E4M3' : 'F8_E5M2', shape: info.shape, data: codes };
    if (scaled) fp8[name.replace(/\.weight$/, '.scale_weight')] = { dtype: 'F32', shape: [], data: Float32Array.of(scale) };
    f32[name] = { dtype: 'F32', shape: info.shape, data: Float32Array.from(codes, (b) => fp8Value(format, b) * scale) };
  }
  await src.close();
  const tag = `${format}${scaled ? '_scaled' : ''}`;
  const paths = { fp8: join(tmp, `${tag}.safetensors`), f32: join(tmp, `${tag}_dequantized.safetensors`) };
  await writeSafetensors(paths.fp8, fp8);
  await writeSafetensors(paths.f32, f32);
  return { ...paths, count };
}

async function runDit(path: string, lora?: { file: string; strength: number }) {
  const c = await loadDitCase('i2v_square');
  const io = lora ? await readF32Tensors(`${DIT_GOLDEN}/lora_peft.io.safetensors`) : c.io;
  const dev = await device();
  const model = await WanModel.open(path, { config: c.config, lora });
  const x = io.get('x')!;
  const dit = model.graph({ latentShape: x.shape as [number, number, number, number] });
  const exec = await model.executor(dev, dit);
  await exec.run(i2vInputs(io, c.config.freqDim));
  const out = await exec.read(DIT_IO.output);
  const weightBytes = exec.plan.totals.weightBytes;
  exec.destroy();
  const info = { fp8: model.base.quantizedWeights.size, fused: model.lora?.runtimeLora.size ?? 0, weightBytes };
  await model.close();
  return { out, info, want: io.get('out')!.data, base: c.io.get('out')!.data };
}

describe('fp8 DiT checkpoints', () => {
  for (const [format, scaled] of [['f8e4m3', true], ['f8e4m3', false], ['f8e5m2', true]] as const) {
    it(`${format}${scaled ? ' scaled' : ''}: same output as the dequantized F32 checkpoint`, { timeout: 900_000 }, async () => {
      const files = await writePair(format, scaled);
      const q = await runDit(files.fp8);
      const d = await runDit(files.f32);
      expect(q.info.fp8).toBe(files.count);
      const err = relL2(q.out, d.out);
      const quantErr = relL2(q.out, q.base);
      console.log(`${format}${scaled ? ' scaled' : ''}: rel L2 ${err.toExponential(2)} vs dequantized F32; quantization error vs the F32 model ${quantErr.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(1e-6);
      expect(q.info.weightBytes).toBeLessThan(d.info.weightBytes);
    });
  }

  it('a LoRA adapter on fp8 weights runs fused beside them (merge asked, fused used)', { timeout: 900_000 }, async () => {
    const files = await writePair('f8e4m3', true);
    const meta = JSON.parse(fs.readFileSync(`${DIT_GOLDEN}/lora_peft.json`, 'utf8'));
    const lora = { file: `${DIT_GOLDEN}/${meta.adapter}`, strength: meta.strength };
    const q = await runDit(files.fp8, lora);
    const d = await runDit(files.f32, lora);
    expect(q.info.fused).toBe(meta.targets.length);
    expect(d.info.fused).toBe(0); // 16-bit/F32 weights: merged at load as before
    const err = relL2(q.out, d.out);
    console.log(`fp8 + fused LoRA vs dequantized + merged LoRA: rel L2 ${err.toExponential(2)}; vs the PyTorch reference (unquantized) ${relL2(q.out, q.want).toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(1e-5);
    expect(relL2(q.out, q.base)).toBeGreaterThan(1e-2);
  });
});
