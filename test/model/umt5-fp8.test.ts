// umT5 from one scaled fp8 file, as ComfyUI's umt5_xxl_fp8_e4m3fn_scaled.safetensors holds it
// (Hugging Face names, F8_E4M3 matrices and embedding with a `scale_weight` each, norms and
// position tables in F32, no config.json): the same output as an F32 file of the dequantized
// values, so no fp8 tensor is ever widened without its scale.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { relL2, useDevice } from '../helpers/gpu.ts';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import { writeSafetensors, type TensorToWrite } from '../../src/io/safetensors-writer.ts';
import { Umt5Encoder } from '../../src/model/umt5/index.ts';
import { fp8Nearest, fp8Value } from '../ref/fp8.ts';

const device = useDevice();
const tmp = fs.mkdtempSync(join(os.tmpdir(), 'egox-umt5-fp8-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SCALED = /(SelfAttention\.[qkvo]|DenseReluDense\.(wi_0|wi_1|wo))\.weight$|^shared\.weight$/;

describe('umT5 from a scaled fp8 file', () => {
  it('matches the dequantized F32 file', async () => {
    const src = await SafetensorsFile.open('test/golden/umt5/weights.safetensors');
    const fp8: Record<string, TensorToWrite> = {};
    const f32: Record<string, TensorToWrite> = {};
    let scaled = 0;
    for (const [name, info] of src.tensors) {
      const b = await src.read(name);
      const v = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
      if (!SCALED.test(name)) {
        fp8[name] = f32[name] = { dtype: 'F32', shape: info.shape, data: v };
        continue;
      }
      scaled++;
      const scale = Math.fround(v.reduce((m, x) => Math.max(m, Math.abs(x)), 0) / 448);
      const codes = Uint8Array.from(v, (x) => fp8Nearest('f8e4m3', x / scale));
      fp8[name] = { dtype: 'F8_E4M3', shape: info.shape, data: codes };
      fp8[name.replace(/\.weight$/, '.scale_weight')] = { dtype: 'F32', shape: [1], data: Float32Array.of(scale) };
      f32[name] = { dtype: 'F32', shape: info.shape, data: Float32Array.from(codes, (c) => Math.fround(fp8Value('f8e4m3', c) * scale)) };
    }
    await src.close();
    await writeSafetensors(join(tmp, 'umt5_fp8_scaled.safetensors'), fp8);
    await writeSafetensors(join(tmp, 'umt5_dequantized.safetensors'), f32);
    expect(scaled).toBeGreaterThan(10);
    const dev = await device();
    const L = 16;
    const ids = Int32Array.from({ length: L }, (_, i) => (i < 11 ? (i * 67 + 3) % 300 : 0));
    const encode = async (file: string) => {
      const enc = await Umt5Encoder.open(dev, join(tmp, file), { length: L });
      try {
        return await enc.encodeIds(ids, 11);
      } finally {
        await enc.close();
      }
    };
    const got = await encode('umt5_fp8_scaled.safetensors');
    const want = await encode('umt5_dequantized.safetensors');
    const err = relL2(got, want);
    console.log(`umT5 scaled fp8 vs dequantized F32: rel L2 ${err.toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(1e-6);
  });
});
