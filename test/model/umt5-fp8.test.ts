// umT5 from one scaled fp8 file, as ComfyUI's umt5_xxl_fp8_e4m3fn_scaled.safetensors holds it
// (Hugging Face names, F8_E4M3 matrices and embedding with a `scale_weight` each, norms and
// position tables in F32, no config.json): the same output as an F32 file of the dequantized
// values, so no fp8 tensor is ever widened without its scale; the matmul weights stay one byte
// a value on the GPU (widened in the matmul's weight load).
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { relL2, useDevice } from '../helpers/gpu.ts';
import { Umt5Encoder } from '../../src/model/umt5/index.ts';
import { readNetwork, writeFp8Twin } from './quantized-twins.ts';

const device = useDevice();
const tmp = fs.mkdtempSync(join(os.tmpdir(), 'egox-umt5-fp8-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SCALED = /(SelfAttention\.[qkvo]|DenseReluDense\.(wi_0|wi_1|wo))\.weight$|^shared\.weight$/;

describe('umT5 from a scaled fp8 file', () => {
  it('matches the dequantized F32 file', async () => {
    const net = await readNetwork('test/golden/umt5/weights.safetensors');
    await writeFp8Twin(net, (n) => SCALED.test(n), { scaled: join(tmp, 'umt5_fp8_scaled.safetensors'), twin: join(tmp, 'umt5_dequantized.safetensors') });
    const scaled = [...net.keys()].filter((n) => SCALED.test(n)).length;
    // fp8 values the GPU holds (the token table stays on the host)
    const matmulValues = [...net].reduce((a, [n, t]) => a + (SCALED.test(n) && n !== 'shared.weight' ? t.values.length : 0), 0);
    expect(scaled).toBeGreaterThan(10);
    const dev = await device();
    const L = 16;
    const ids = Int32Array.from({ length: L }, (_, i) => (i < 11 ? (i * 67 + 3) % 300 : 0));
    const encode = async (file: string) => {
      const enc = await Umt5Encoder.open(dev, join(tmp, file), { length: L });
      try {
        return { out: await enc.encodeIds(ids, 11), weightBytes: enc.weightBytes };
      } finally {
        await enc.close();
      }
    };
    const got = await encode('umt5_fp8_scaled.safetensors');
    const want = await encode('umt5_dequantized.safetensors');
    const err = relL2(got.out, want.out);
    console.log(`umT5 scaled fp8 vs dequantized F32: rel L2 ${err.toExponential(2)}; GPU weights ${got.weightBytes} B vs ${want.weightBytes} B`);
    expect(err).toBeLessThanOrEqual(1e-6);
    expect(got.weightBytes).toBe(want.weightBytes - 3 * matmulValues);
  });
});
