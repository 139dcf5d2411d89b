// A Wan DiT in a GGUF file as the community files hold it (original names without prefix,
// types mixed in one file: Q8_0, Q4_K or Q6_K Linear weights where their rows are whole blocks,
// F32 elsewhere, the 5-D patch embedding; the golden DiT's narrow widths, and a random DiT of
// 256-wide Linears where every block Linear is quantized): the blocks stay quantized on the GPU and the output
// equals that of an F32 checkpoint holding the same values dequantized (by the float64 block
// formulas); the quantization error against the unquantized model is reported.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { relL2, useDevice } from '../helpers/gpu.ts';
import { DIT_GOLDEN, i2vInputs, loadDitCase } from './dit-golden.ts';
import { DIT_IO, WanDit } from '../../src/model/wan/dit.ts';
import type { WanConfig } from '../../src/model/wan/config.ts';
import { diffusersToOriginal } from '../../src/model/wan/names.ts';
import { timestepEmbedding } from '../../src/model/wan/timestep.ts';
import { SeededRandom } from '../../src/pipeline/random.ts';
import { DEMO_DIT, checkpointTensors, ditTorchShape, randomTensor } from '../../src/demo/weights.ts';
import { WanModel } from '../../src/model/wan/model.ts';
import { writeSafetensors, type TensorToWrite } from '../../src/io/safetensors-writer.ts';
import { readNetwork, writeGgufTwin, type NetworkTensors, type QuantKind } from './quantized-twins.ts';

const device = useDevice();
const tmp = fs.mkdtempSync(join(os.tmpdir(), 'egox-gguf-dit-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const LINEAR = /^blocks\.\d+\.(self_attn\.[qkvo]|cross_attn\.(q|k|v|o|k_img|v_img)|ffn\.[02])\.weight$|^(text_embedding|time_embedding)\.[02]\.weight$|^time_projection\.1\.weight$|^head\.head\.weight$/;
interface Pair {
  gguf: string;
  /** The same network, F32 values dequantized from the GGUF's blocks (float64, rounded once). */
  f32: string;
  /** Tensors per GGML type name. */
  types: Record<string, number>;
  quantizedNames: string[];
}

/** A GGUF file of `net` (Linear weights quantized in the first of `kinds` their rows allow) and its dequantized F32 twin. */
async function writeQuantizedPair(tag: string, net: NetworkTensors, kinds: readonly QuantKind[], kindsFor?: (name: string) => readonly QuantKind[]): Promise<Pair> {
  const paths = { gguf: join(tmp, `${tag}.gguf`), twin: join(tmp, `${tag}_dequantized.safetensors`) };
  const plan = { quantize: (name: string, shape: number[]) => (LINEAR.test(name) && shape.length === 2 ? ('rows' as const) : undefined), kindsFor };
  const { types, quantized } = await writeGgufTwin(net, kinds, plan, paths);
  return { gguf: paths.gguf, f32: paths.twin, types, quantizedNames: [...quantized.keys()] };
}

/** The golden DiT with each Linear weight in the best of `kinds` its rows allow (whole blocks), the rest F32. */
async function writePair(kinds: QuantKind[]): Promise<Pair> {
  const net = await readNetwork(`${DIT_GOLDEN}/original_layout.weights.safetensors`, (k) => k.replace(/^model\.diffusion_model\./, ''));
  return writeQuantizedPair(kinds.join('_'), net, kinds);
}

type Latent = [number, number, number, number];

/** Output, planned weight bytes and the checkpoint's quantized weights of one DiT run. */
async function runModel(path: string, config: WanConfig, latentShape: Latent, inputs: Record<string, Float32Array>, options: { forceStreaming?: boolean } = {}) {
  const dev = await device();
  const model = await WanModel.open(path, { config });
  const exec = await model.executor(dev, model.graph({ latentShape }), options);
  expect(exec.plan.streaming).toBe(options.forceStreaming === true);
  await exec.run(inputs);
  const out = await exec.read(DIT_IO.output);
  const weightBytes = exec.plan.totals.weightBytes;
  exec.destroy();
  const quantized = new Set(model.base.quantizedWeights.keys());
  await model.close();
  return { out, weightBytes, quantized };
}

async function runDit(path: string) {
  const c = await loadDitCase('i2v_square');
  const r = await runModel(path, c.config, c.io.get('x')!.shape as Latent, i2vInputs(c.io, c.config.freqDim));
  return { ...r, base: c.io.get('out')!.data };
}

describe('GGUF DiT checkpoints', () => {
  for (const kinds of [['Q8_0'], ['Q4_K', 'Q8_0']] as const) {
    it(`${kinds.join(' + ')} (mixed with F32): same output as the dequantized F32 checkpoint`, { timeout: 900_000 }, async () => {
      const files = await writePair([...kinds]);
      const q = await runDit(files.gguf);
      const d = await runDit(files.f32);
      expect(q.quantized.size).toBe(files.quantizedNames.length);
      for (const k of kinds) expect(files.types[k], k).toBeGreaterThan(0);
      const err = relL2(q.out, d.out);
      console.log(`GGUF ${kinds.join(' + ')} (${JSON.stringify(files.types)}): rel L2 ${err.toExponential(2)} vs dequantized F32; quantization error vs the F32 model ${relL2(q.out, q.base).toExponential(2)}; weights ${q.weightBytes} B vs ${d.weightBytes} B`);
      expect(err).toBeLessThanOrEqual(1e-6);
      expect(q.weightBytes).toBeLessThan(d.weightBytes);
    });
  }

  // Widths that are whole 256-blocks, so every Linear can be quantized, with the types mixed as
  // in the community Q4_K_M-style files: Q4_K mostly, Q6_K for the value projections and one
  // FFN down projection, Q8_0 for the other one and the embeddings and head.
  it('a DiT of 256-wide Linears: every block Linear in Q4_K / Q6_K / Q8_0, same output as the dequantized F32 checkpoint, resident or streamed', { timeout: 900_000 }, async () => {
    const config: WanConfig = { ...DEMO_DIT, name: 'gguf-256', dim: 256, ffnDim: 512, headDim: 128, textDim: 256, textLen: 8, imageDim: 256, imageLen: 4 };
    const latentShape: Latent = [config.inDim, 1, 4, 6];
    const rng = new SeededRandom(7);
    const net: NetworkTensors = new Map();
    const full: Record<string, TensorToWrite> = {};
    for (const [name, shape] of checkpointTensors([new WanDit(config, { latentShape }).build()], ditTorchShape(config))) {
      const t = randomTensor(rng, name, shape);
      const original = diffusersToOriginal(name) ?? name;
      net.set(original, { shape, dtype: 'F32', values: t.data as Float32Array });
      full[original] = t;
    }
    const kindsFor = (name: string): QuantKind[] => {
      if (!name.startsWith('blocks.')) return ['Q8_0'];
      if (/\.v(_img)?\.weight$/.test(name) || name === 'blocks.0.ffn.2.weight') return ['Q6_K'];
      return name === 'blocks.1.ffn.2.weight' ? ['Q8_0'] : ['Q4_K'];
    };
    const files = await writeQuantizedPair('mixed_256', net, [], kindsFor);
    const unquantized = join(tmp, 'mixed_256_f32.safetensors');
    await writeSafetensors(unquantized, full);
    const inputs = {
      [DIT_IO.latents]: rng.normal(latentShape.reduce((a, b) => a * b, 1)),
      [DIT_IO.timestepEmbedding]: timestepEmbedding(700, config.freqDim),
      [DIT_IO.context]: rng.normal(config.textLen * config.textDim),
      [DIT_IO.clip]: rng.normal(config.imageLen * config.imageDim!),
    };
    const q = await runModel(files.gguf, config, latentShape, inputs);
    const d = await runModel(files.f32, config, latentShape, inputs);
    const f = await runModel(unquantized, config, latentShape, inputs);
    // Streamed segment by segment through the two weight slots (the prologue's larger than a
    // block's), the blocks read at their slot offsets: the same output bit for bit.
    const streamed = await runModel(files.gguf, config, latentShape, inputs, { forceStreaming: true });
    expect(Buffer.from(streamed.out.buffer).equals(Buffer.from(q.out.buffer))).toBe(true);
    const blockLinears = [...net].filter(([n, t]) => n.startsWith('blocks.') && LINEAR.test(n) && t.shape.length === 2).map(([n]) => n);
    expect(blockLinears.length).toBe(config.numLayers * 12);
    expect(blockLinears.filter((n) => !files.quantizedNames.includes(n))).toEqual([]);
    expect(q.quantized.size).toBe(files.quantizedNames.length);
    for (const k of ['Q4_K', 'Q6_K', 'Q8_0']) expect(files.types[k], k).toBeGreaterThan(0);
    const err = relL2(q.out, d.out);
    const qerr = relL2(q.out, f.out);
    console.log(`GGUF 256-wide DiT (${JSON.stringify(files.types)}): rel L2 ${err.toExponential(2)} vs dequantized F32; quantization error vs the F32 weights ${qerr.toExponential(2)}; weights ${q.weightBytes} B vs ${d.weightBytes} B`);
    expect(err).toBeLessThanOrEqual(1e-6);
    // Plain-rounding 4-6 bit weights: a few percent, far from noise (a wrong block would be ~1).
    expect(qerr).toBeLessThan(0.2);
    expect(q.weightBytes).toBeLessThan(d.weightBytes / 3);
  });
});
