// umT5 text encoders as the community GGUF files hold them (llama.cpp's T5 encoder names:
// token_embd, enc.blk.N.attn_q ... ffn_down, enc.output_norm; Linear weights and the token
// table in blocks where their rows are whole blocks, other matrices F16, norms F32): the output
// equals that of the same network from an F32 file of the dequantized values, the Linear
// weights stay quantized on the GPU (fewer weight bytes), and the quantization error against
// the unquantized model is reported. Q8_0 on the golden tiny model; Q4_K (256-value blocks) on
// a random model wide enough for them.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { relL2, useDevice } from '../helpers/gpu.ts';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import { writeSafetensors } from '../../src/io/safetensors-writer.ts';
import { Umt5Encoder } from '../../src/model/umt5/index.ts';
import { umt5GgufName } from '../../src/model/umt5/names.ts';
import { bytesSavedByBlocks, writeGgufTwin, readNetwork, type GgufTwinPlan, type NetworkTensors } from './quantized-twins.ts';

const GOLDEN = 'test/golden/umt5';
const device = useDevice();
const tmp = fs.mkdtempSync(join(os.tmpdir(), 'egox-umt5-gguf-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const MATMUL = /(SelfAttention\.[qkvo]|DenseReluDense\.(wi_0|wi_1|wo))\.weight$/;
const PLAN: GgufTwinPlan = {
  rename: umt5GgufName,
  // wo is flattened into rows of one block, as shape-fixing converters do when its rows (48 values
  // in the tiny model) are not whole blocks: the GPU cannot read it row by row, so it is dequantized.
  quantize: (name) => (name.endsWith('wo.weight') ? 'flat' : MATMUL.test(name) || name === 'shared.weight' ? 'rows' : undefined),
  f16Rest: true,
};

async function encode(file: string, ids: ArrayLike<number>, count: number): Promise<{ out: Float32Array; weightBytes: number }> {
  const enc = await Umt5Encoder.open(await device(), file, { length: ids.length });
  try {
    return { out: await enc.encodeIds(ids, count, true), weightBytes: enc.weightBytes };
  } finally {
    await enc.close();
  }
}

/** A random umT5 with d_model 256 (Q4_K rows) and a narrow attention (its o projection falls back to Q8_0). */
function wideUmt5(): NetworkTensors {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
  const net: NetworkTensors = new Map();
  const put = (name: string, shape: number[], scale: number, offset = 0) =>
    net.set(name, { shape, dtype: 'F32', values: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => offset + scale * rand()) });
  const [d, inner, ff, vocab] = [256, 32, 256, 300];
  put('shared.weight', [vocab, d], 2);
  for (let i = 0; i < 2; i++) {
    const p = `encoder.block.${i}.layer`;
    put(`${p}.0.layer_norm.weight`, [d], 0.2, 1);
    for (const m of ['q', 'k', 'v']) put(`${p}.0.SelfAttention.${m}.weight`, [inner, d], 0.2);
    put(`${p}.0.SelfAttention.o.weight`, [d, inner], 0.5);
    put(`${p}.0.SelfAttention.relative_attention_bias.weight`, [32, 4], 1);
    put(`${p}.1.layer_norm.weight`, [d], 0.2, 1);
    put(`${p}.1.DenseReluDense.wi_0.weight`, [ff, d], 0.2);
    put(`${p}.1.DenseReluDense.wi_1.weight`, [ff, d], 0.2);
    put(`${p}.1.DenseReluDense.wo.weight`, [d, ff], 0.2);
  }
  put('encoder.final_layer_norm.weight', [d], 0.2, 1);
  return net;
}

describe('umT5 from GGUF files', () => {
  it('Q8_0 (golden tiny model): same output as the dequantized F32 file; Linear weights stay 8-bit', { timeout: 600_000 }, async () => {
    const paths = { gguf: join(tmp, 'umt5-q8_0.gguf'), twin: join(tmp, 'umt5-q8_0-dequantized.safetensors') };
    const net = await readNetwork(`${GOLDEN}/weights.safetensors`);
    const { types, quantized } = await writeGgufTwin(net, ['Q8_0'], PLAN, paths);
    const saved = bytesSavedByBlocks(net, quantized, (n) => MATMUL.test(n)); // the token table stays on the host
    expect(types.Q8_0).toBe(1 + 2 * 7); // token table, q k v o wi_0 wi_1 wo of 2 blocks
    // The same file under Hugging Face names (a GGUF converted without llama.cpp's renaming).
    const hf = { gguf: join(tmp, 'umt5-q8_0-hf-names.gguf'), twin: join(tmp, 'unused.safetensors') };
    await writeGgufTwin(net, ['Q8_0'], { ...PLAN, rename: undefined }, hf);
    const cases = await SafetensorsFile.open(`${GOLDEN}/cases.safetensors`);
    try {
      for (const name of ['short', 'long']) {
        const idsBytes = await cases.read(`${name}.input_ids`);
        const ids = new Int32Array(idsBytes.buffer, idsBytes.byteOffset, idsBytes.byteLength / 4);
        const mask = await cases.read(`${name}.attention_mask`);
        const count = new Int32Array(mask.buffer, mask.byteOffset, mask.byteLength / 4).reduce((a, b) => a + b, 0);
        const q = await encode(paths.gguf, ids, count);
        const twin = await encode(paths.twin, ids, count);
        const f32 = await encode(`${GOLDEN}/weights.safetensors`, ids, count);
        const goldenBytes = await cases.read(`${name}.last_hidden_state`);
        const golden = new Float32Array(goldenBytes.buffer, goldenBytes.byteOffset, goldenBytes.byteLength / 4);
        const err = relL2(q.out, twin.out);
        console.log(`umT5 GGUF Q8_0 ${name} (${JSON.stringify(types)}): rel L2 ${err.toExponential(2)} vs dequantized F32; vs the unquantized golden ${relL2(q.out, golden).toExponential(2)}; GPU weights ${q.weightBytes} B (F32 file ${f32.weightBytes} B, dequantized twin ${twin.weightBytes} B)`);
        expect(err).toBeLessThanOrEqual(1e-6);
        expect(q.weightBytes).toBe(twin.weightBytes - saved);
        if (name === 'short') expect(relL2((await encode(hf.gguf, ids, count)).out, q.out)).toBe(0);
      }
    } finally {
      await cases.close();
    }
  });

  it('Q4_K (random model of width 256): same output as the dequantized F32 file', { timeout: 600_000 }, async () => {
    const net = wideUmt5();
    const paths = { gguf: join(tmp, 'umt5-q4_k.gguf'), twin: join(tmp, 'umt5-q4_k-dequantized.safetensors'), f32: join(tmp, 'umt5-wide.safetensors') };
    const { types, quantized } = await writeGgufTwin(net, ['Q4_K', 'Q8_0'], PLAN, paths);
    expect(types.Q4_K).toBe(1 + 2 * 6); // token table, q k v wi_0 wi_1 wo of 2 blocks
    expect(types.Q8_0).toBe(2); // o: rows of 32
    await writeSafetensors(paths.f32, Object.fromEntries([...net].map(([n, t]) => [n, { dtype: 'F32' as const, shape: t.shape, data: t.values }])));
    const ids = Int32Array.from({ length: 24 }, (_, i) => (i < 19 ? (i * 89 + 5) % 300 : 0));
    const q = await encode(paths.gguf, ids, 19);
    const twin = await encode(paths.twin, ids, 19);
    const f32 = await encode(paths.f32, ids, 19);
    const err = relL2(q.out, twin.out);
    console.log(`umT5 GGUF Q4_K (${JSON.stringify(types)}): rel L2 ${err.toExponential(2)} vs dequantized F32; vs the unquantized model ${relL2(q.out, f32.out).toExponential(2)}; GPU weights ${q.weightBytes} B vs ${twin.weightBytes} B`);
    expect(err).toBeLessThanOrEqual(1e-6);
    expect(q.weightBytes).toBe(twin.weightBytes - bytesSavedByBlocks(net, quantized, (n) => MATMUL.test(n)));
  });
});
