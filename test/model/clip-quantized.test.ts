// CLIP vision from quantized files: GGUF (the state-dict names ComfyUI-GGUF keeps; Linear
// weights in blocks where their rows are whole blocks, the patch conv flattened into block rows
// with its original shape recorded, other matrices F16, norms and biases F32) beside its
// config.json, and a scaled fp8 safetensors. Each gives the output of the same network from
// an F32 file of the dequantized values, with the Linear weights kept quantized on the GPU; the
// quantization error against the unquantized model is reported. Q8_0 and fp8 on the golden tiny
// model; Q4_K (256-value blocks) on a random model wide enough for them.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { relL2, useDevice } from '../helpers/gpu.ts';
import { readGoldenF32 } from '../helpers/golden.ts';
import { writeSafetensors } from '../../src/io/safetensors-writer.ts';
import { ClipVisionEncoder } from '../../src/model/clip/index.ts';
import { bytesSavedByBlocks, readNetwork, writeFp8Twin, writeGgufTwin, type GgufTwinPlan, type NetworkTensors } from './quantized-twins.ts';

const GOLDEN = 'test/golden/clip';
const device = useDevice();
const tmp = fs.mkdtempSync(join(os.tmpdir(), 'egox-clip-quantized-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const LINEAR = /(self_attn\.(q|k|v|out)_proj|mlp\.fc[12])\.weight$/;
const PLAN: GgufTwinPlan = {
  quantize: (name) => (LINEAR.test(name) ? 'rows' : name.endsWith('patch_embedding.weight') ? 'flat' : undefined),
  f16Rest: true,
};

/**
 * A Linear weight the GPU holds as the file stores it: the graph reads layers 0 .. L-2
 * (hidden_states[-2]), and the patch conv is dequantized on load (it is a conv kernel).
 */
function heldOnGpu(name: string, layers: number): boolean {
  return LINEAR.test(name) && !name.includes(`layers.${layers - 1}.`);
}

/** A folder holding config.json and its weight file; returns the folder and the weight file's path. */
function folder(name: string, config: Record<string, unknown>, weightFile: string): { dir: string; file: string } {
  const dir = join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'clip_vision_model', ...config }));
  return { dir, file: join(dir, weightFile) };
}

async function encode(dir: string, pixels: Float32Array): Promise<{ out: Float32Array; weightBytes: number }> {
  const enc = await ClipVisionEncoder.open(await device(), dir);
  try {
    return { out: await enc.encodePixels(pixels), weightBytes: enc.weightBytes };
  } finally {
    await enc.close();
  }
}

/** A random CLIP of width 256 (4 heads of 64, MLP 256, 28x28 images in 14x14 patches). */
function wideClip(): { config: Record<string, unknown>; net: NetworkTensors } {
  const [h, layers, tokens] = [256, 3, 5];
  const config = { hidden_size: h, intermediate_size: h, num_attention_heads: 4, num_hidden_layers: layers, image_size: 28, patch_size: 14, hidden_act: 'gelu', layer_norm_eps: 1e-5, num_channels: 3 };
  let seed = 777;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
  const net: NetworkTensors = new Map();
  const put = (name: string, shape: number[], scale: number, offset = 0) =>
    net.set(name, { shape, dtype: 'F32', values: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => offset + scale * rand()) });
  const e = 'vision_model.embeddings';
  put(`${e}.class_embedding`, [h], 1);
  put(`${e}.patch_embedding.weight`, [h, 3, 14, 14], 0.1);
  put(`${e}.position_embedding.weight`, [tokens, h], 1);
  for (const part of ['weight', 'bias']) put(`vision_model.pre_layrnorm.${part}`, [h], 0.2, part === 'weight' ? 1 : 0);
  for (let i = 0; i < layers; i++) {
    const p = `vision_model.encoder.layers.${i}`;
    for (const m of ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.out_proj', 'mlp.fc1', 'mlp.fc2']) {
      put(`${p}.${m}.weight`, [h, h], 0.2);
      put(`${p}.${m}.bias`, [h], 0.1);
    }
    for (const n of ['layer_norm1', 'layer_norm2']) for (const part of ['weight', 'bias']) put(`${p}.${n}.${part}`, [h], 0.2, part === 'weight' ? 1 : 0);
  }
  return { config, net };
}

describe('CLIP vision from quantized files', () => {
  const goldenConfig = JSON.parse(fs.readFileSync(`${GOLDEN}/config.json`, 'utf8'));

  it('GGUF Q8_0 (golden tiny model): same output as the dequantized F32 file', { timeout: 600_000 }, async () => {
    const gguf = folder('q8_0', goldenConfig, 'model.gguf');
    const twin = folder('q8_0-twin', goldenConfig, 'model.safetensors');
    const net = await readNetwork(`${GOLDEN}/weights.safetensors`);
    const { types, quantized } = await writeGgufTwin(net, ['Q8_0'], PLAN, { gguf: gguf.file, twin: twin.file });
    const saved = bytesSavedByBlocks(net, quantized, (n) => heldOnGpu(n, goldenConfig.num_hidden_layers));
    expect(types.Q8_0).toBe(1 + 3 * 6); // the patch conv, q k v out fc1 fc2 of 3 layers
    const cases = await readGoldenF32(`${GOLDEN}/cases.safetensors`);
    for (const name of ['up', 'down']) {
      const pixels = cases.get(`${name}.pixel_values_pil`)!.data;
      const q = await encode(gguf.dir, pixels);
      const t = await encode(twin.dir, pixels);
      const err = relL2(q.out, t.out);
      console.log(`CLIP GGUF Q8_0 ${name} (${JSON.stringify(types)}): rel L2 ${err.toExponential(2)} vs dequantized F32; vs the unquantized golden ${relL2(q.out, cases.get(`${name}.image_embeds`)!.data).toExponential(2)}; GPU weights ${q.weightBytes} B vs ${t.weightBytes} B`);
      expect(err).toBeLessThanOrEqual(1e-6);
      expect(q.weightBytes).toBe(t.weightBytes - saved);
    }
  });

  it('GGUF Q4_K (random model of width 256): same output as the dequantized F32 file', { timeout: 600_000 }, async () => {
    const { config, net } = wideClip();
    const gguf = folder('q4_k', config, 'model.gguf');
    const twin = folder('q4_k-twin', config, 'model.safetensors');
    const f32 = folder('wide-f32', config, 'model.safetensors');
    const { types, quantized } = await writeGgufTwin(net, ['Q4_K', 'Q8_0'], PLAN, { gguf: gguf.file, twin: twin.file });
    expect(types.Q4_K).toBe(1 + 3 * 6);
    await writeSafetensors(f32.file, Object.fromEntries([...net].map(([n, t]) => [n, { dtype: 'F32' as const, shape: t.shape, data: t.values }])));
    const pixels = Float32Array.from({ length: 3 * 28 * 28 }, (_, i) => Math.sin(i * 0.37) * 1.5);
    const q = await encode(gguf.dir, pixels);
    const t = await encode(twin.dir, pixels);
    const u = await encode(f32.dir, pixels);
    const err = relL2(q.out, t.out);
    console.log(`CLIP GGUF Q4_K (${JSON.stringify(types)}): rel L2 ${err.toExponential(2)} vs dequantized F32; vs the unquantized model ${relL2(q.out, u.out).toExponential(2)}; GPU weights ${q.weightBytes} B vs ${t.weightBytes} B`);
    expect(err).toBeLessThanOrEqual(1e-6);
    expect(q.weightBytes).toBe(t.weightBytes - bytesSavedByBlocks(net, quantized, (n) => heldOnGpu(n, config.num_hidden_layers as number)));
  });

  it('scaled fp8 (golden tiny model): Linear weights held as fp8 on the GPU, same output as the dequantized F32 file', { timeout: 600_000 }, async () => {
    const scaled = folder('fp8', goldenConfig, 'model.safetensors');
    const twin = folder('fp8-twin', goldenConfig, 'model.safetensors');
    const net = await readNetwork(`${GOLDEN}/weights.safetensors`);
    await writeFp8Twin(net, (n) => LINEAR.test(n), { scaled: scaled.file, twin: twin.file });
    const onGpu = [...net].reduce((a, [n, t]) => a + (heldOnGpu(n, goldenConfig.num_hidden_layers) ? t.values.length : 0), 0);
    const cases = await readGoldenF32(`${GOLDEN}/cases.safetensors`);
    const pixels = cases.get('up.pixel_values_pil')!.data;
    const q = await encode(scaled.dir, pixels);
    const t = await encode(twin.dir, pixels);
    const err = relL2(q.out, t.out);
    console.log(`CLIP scaled fp8: rel L2 ${err.toExponential(2)} vs dequantized F32; vs the unquantized golden ${relL2(q.out, cases.get('up.image_embeds')!.data).toExponential(2)}; GPU weights ${q.weightBytes} B vs ${t.weightBytes} B`);
    expect(err).toBeLessThanOrEqual(1e-6);
    expect(q.weightBytes).toBe(t.weightBytes - 3 * onGpu);
  });
});
