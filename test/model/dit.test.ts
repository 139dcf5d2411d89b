import { describe, expect, it } from 'vitest';
import { useDevice, relL2 } from '../helpers/gpu.ts';
import { DIT_GOLDEN, i2vInputs, loadDitCase, readF32Tensors, type DitCase } from './dit-golden.ts';
import { WanDit, DIT_IO } from '../../src/model/wan/dit.ts';
import { openWanCheckpoint } from '../../src/model/wan/load.ts';
import { timestepEmbedding } from '../../src/model/wan/timestep.ts';
import { Executor } from '../../src/graph/executor.ts';

const device = useDevice();

/** Builds the graph for a golden case, runs it and returns [got, want]. */
async function runCase(c: DitCase, weightsPath: string, ioOverride?: Map<string, { shape: number[]; data: Float32Array }>) {
  const dev = await device();
  const io = ioOverride ?? c.io;
  const x = io.get('x')!;
  const gga = c.json.gga ? { lambda: c.json.gga.lambda as number, egoLatentCols: c.json.egoCols as number } : null;
  const ckpt = await openWanCheckpoint(weightsPath, { config: c.config });
  const dit = new WanDit(c.config, { latentShape: x.shape as [number, number, number, number], textLen: c.config.textLen, gga });
  const exec = await Executor.create(dev, dit.build(), ckpt.store);
  const inputs: Record<string, Float32Array | Uint32Array> = {
    [DIT_IO.latents]: x.data,
    [DIT_IO.timestepEmbedding]: timestepEmbedding(io.get('timestep')!.data[0]!, c.config.freqDim),
    [DIT_IO.context]: io.get('context')!.data,
  };
  if (c.config.imageDim) inputs[DIT_IO.clip] = io.get('clip')!.data;
  if (gga) {
    inputs[DIT_IO.ggaQueryDirs] = io.get('gga_query_dirs')!.data;
    inputs[DIT_IO.ggaKeyDirs] = io.get('gga_key_dirs')!.data;
  }
  await exec.run(inputs);
  const got = await exec.read(DIT_IO.output);
  exec.destroy();
  await ckpt.checkpoint.close();
  return got;
}

describe('Wan DiT vs the PyTorch reference (f32)', () => {
  for (const name of ['t2v_square', 'i2v_square', 'i2v_egox_nogga', 'i2v_egox_gga', 'i2v_egox_gga_lambda05']) {
    it(name, { timeout: 900_000 }, async () => {
      const c = await loadDitCase(name);
      const got = await runCase(c, `${DIT_GOLDEN}/${c.json.weights}`);
      const err = relL2(got, c.io.get('out')!.data);
      expect(err, `relative L2 ${err}`).toBeLessThan(1e-4);
    });
  }

  it('original-layout weights (model.diffusion_model. prefix) give the same output', { timeout: 900_000 }, async () => {
    const c = await loadDitCase('i2v_square');
    const got = await runCase(c, `${DIT_GOLDEN}/original_layout.weights.safetensors`);
    expect(relL2(got, c.io.get('out')!.data)).toBeLessThan(1e-4);
  });

  it('the geometry bias changes the output (the test can fail)', async () => {
    const a = await loadDitCase('i2v_egox_gga');
    const b = await loadDitCase('i2v_egox_nogga');
    expect(relL2(a.io.get('out')!.data, b.io.get('out')!.data)).toBeGreaterThan(1e-3);
  });
});

export { readF32Tensors };

describe('LoRA adapters (run-time fused) vs the reference (merged)', () => {
  for (const fmt of ['peft', 'kohya', 'original']) {
    it(`${fmt} format`, { timeout: 900_000 }, async () => {
      const { readFileSync } = await import('node:fs');
      const meta = JSON.parse(readFileSync(`${DIT_GOLDEN}/lora_${fmt}.json`, 'utf8'));
      const c = await loadDitCase('i2v_square');
      const io = await readF32Tensors(`${DIT_GOLDEN}/${meta.io}`);
      const { WanModel } = await import('../../src/model/wan/model.ts');
      const dev = await device();
      const model = await WanModel.open(`${DIT_GOLDEN}/${c.json.weights}`, { config: c.config, lora: { file: `${DIT_GOLDEN}/${meta.adapter}`, strength: meta.strength, mode: 'fused' } });
      const lora = model.lora!;
      expect(lora.parsed.format).toBe(fmt === 'peft' ? 'diffusers' : fmt);
      expect(lora.runtimeLora.size).toBe(meta.targets.length);
      const x = io.get('x')!;
      const dit = model.graph({ latentShape: x.shape as [number, number, number, number] });
      const exec = await model.executor(dev, dit);
      await exec.run(i2vInputs(io, c.config.freqDim));
      const got = await exec.read(DIT_IO.output);
      exec.destroy();
      await model.close();
      expect(relL2(got, io.get('out')!.data)).toBeLessThan(1e-4);
      // and the adapter matters: the base output is far away
      expect(relL2(got, c.io.get('out')!.data)).toBeGreaterThan(1e-2);
    });
  }

  it('reports adapter keys that match nothing', async () => {
    const { writeSafetensors } = await import('../../src/io/safetensors-writer.ts');
    const { mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { WanModel } = await import('../../src/model/wan/model.ts');
    const c = await loadDitCase('i2v_square');
    const bad = join(mkdtempSync(join(tmpdir(), 'egox-lora-')), 'bad.safetensors');
    await writeSafetensors(bad, {
      'transformer.blocks.0.attn1.to_q.lora_A.weight': { dtype: 'F32', shape: [4, 48], data: new Float32Array(192) },
      'transformer.blocks.0.attn1.to_q.lora_B.weight': { dtype: 'F32', shape: [48, 4], data: new Float32Array(192) },
      'transformer.blocks.7.attn1.to_qq.lora_A.weight': { dtype: 'F32', shape: [4, 48], data: new Float32Array(192) },
    });
    const weights = `${DIT_GOLDEN}/${c.json.weights}`;
    await expect(WanModel.open(weights, { config: c.config, lora: { file: bad } })).rejects.toThrow(/1 adapter key\(s\) match no module of the model \(transformer\.blocks\.7\.attn1\.to_qq\.lora_A\.weight\)/);
    const lenient = await WanModel.open(weights, { config: c.config, lora: { file: bad, lenient: true } });
    expect(lenient.lora!.parsed.unmatched).toEqual(['transformer.blocks.7.attn1.to_qq.lora_A.weight']);
    await lenient.close();
  });
});

describe('EgoX sampling loop (UniPC, CFG, clean exo columns) vs the reference', () => {
  it('5 steps match the reference latents', { timeout: 900_000 }, async () => {
    const { sampleLatents } = await import('../../src/model/wan/sample.ts');
    const c = await loadDitCase('sampling');
    const io = c.io;
    const dev = await device();
    const init = io.get('latents_init')!;
    const shape = [36, ...init.shape.slice(1)] as [number, number, number, number];
    const ckpt = await openWanCheckpoint(`${DIT_GOLDEN}/${c.json.weights}`, { config: c.config });
    const dit = new WanDit(c.config, { latentShape: shape, gga: { lambda: c.json.gga.lambda, egoLatentCols: c.json.egoCols } });
    const exec = await Executor.create(dev, dit.build(), ckpt.store);
    const seen: number[] = [];
    const got = await sampleLatents(exec, {
      latents: init.data,
      mask: io.get('mask')!.data,
      condition: io.get('condition')!.data,
      contextCond: io.get('context_cond')!.data,
      contextUncond: io.get('context_uncond')!.data,
      clip: io.get('clip')!.data,
      gga: { queryDirs: io.get('gga_query_dirs')!.data, keyDirs: io.get('gga_key_dirs')!.data },
      latentShape: init.shape as [number, number, number, number],
      egoLatentCols: c.json.egoCols,
      steps: c.json.steps,
      shift: c.json.shift,
      guidance: c.json.guidance,
      freqDim: c.config.freqDim,
      onStep: (_i, _n, t) => seen.push(t),
    });
    exec.destroy();
    expect(seen).toEqual(c.json.timesteps);
    const want = io.get('latents_final')!.data;
    expect(relL2(got, want)).toBeLessThan(1e-4);
    // exo columns are bit-for-bit the initial clean latents
    const [C, F, H, W] = init.shape as number[];
    let drift = 0;
    for (let i = 0; i < C! * F! * H!; i++) for (let x = 0; x < W! - c.json.egoCols; x++) drift = Math.max(drift, Math.abs(got[i * W! + x]! - init.data[i * W! + x]!));
    expect(drift).toBeLessThan(1e-6);
  });
});

describe('the DiT graph under the executor options', () => {
  it('gives bitwise-identical outputs with and without buffer reuse, resident and streamed', { timeout: 900_000 }, async () => {
    const c = await loadDitCase('i2v_egox_gga');
    const dev = await device();
    const x = c.io.get('x')!;
    const graph = new WanDit(c.config, { latentShape: x.shape as [number, number, number, number], gga: { lambda: 3, egoLatentCols: c.json.egoCols } }).build();
    const ckpt = await openWanCheckpoint(`${DIT_GOLDEN}/${c.json.weights}`, { config: c.config });
    const inputs = {
      [DIT_IO.latents]: x.data,
      [DIT_IO.timestepEmbedding]: timestepEmbedding(c.io.get('timestep')!.data[0]!, 256),
      [DIT_IO.context]: c.io.get('context')!.data,
      [DIT_IO.clip]: c.io.get('clip')!.data,
      [DIT_IO.ggaQueryDirs]: c.io.get('gga_query_dirs')!.data,
      [DIT_IO.ggaKeyDirs]: c.io.get('gga_key_dirs')!.data,
    };
    const outs: Float32Array[] = [];
    for (const opts of [{}, { reuse: false }, { forceStreaming: true }]) {
      const exec = await Executor.create(dev, graph, ckpt.store, opts);
      await exec.run(inputs);
      outs.push(await exec.read(DIT_IO.output));
      if ('forceStreaming' in opts) {
        expect(exec.plan.streaming).toBe(true);
        // The embedding segment is larger than a block: the two slots differ in size.
        const slots = exec.plan.buffers.filter((b) => b.kind === 'weight-slot').map((b) => b.bytes);
        expect(slots.length).toBe(2);
        expect(slots[0]).toBeGreaterThan(slots[1]!);
      }
      exec.destroy();
    }
    expect(Buffer.from(outs[1]!.buffer).equals(Buffer.from(outs[0]!.buffer))).toBe(true);
    expect(Buffer.from(outs[2]!.buffer).equals(Buffer.from(outs[0]!.buffer))).toBe(true);
  });
});

describe('LoRA merged at load on the GPU', () => {
  it('equals the run-time fused form within 1e-5 and the reference within 1e-4', { timeout: 900_000 }, async () => {
    const { readFileSync } = await import('node:fs');
    const { WanModel } = await import('../../src/model/wan/model.ts');
    const meta = JSON.parse(readFileSync(`${DIT_GOLDEN}/lora_kohya.json`, 'utf8'));
    const c = await loadDitCase('i2v_square');
    const io = await readF32Tensors(`${DIT_GOLDEN}/${meta.io}`);
    const dev = await device();
    const x = io.get('x')!;
    const feed = {
      [DIT_IO.latents]: x.data,
      [DIT_IO.timestepEmbedding]: timestepEmbedding(io.get('timestep')!.data[0]!, c.config.freqDim),
      [DIT_IO.context]: io.get('context')!.data,
      [DIT_IO.clip]: io.get('clip')!.data,
    };
    const shape = x.shape as [number, number, number, number];
    const results: Float32Array[] = [];
    for (const mode of ['fused', 'merge'] as const) {
      const model = await WanModel.open(`${DIT_GOLDEN}/${c.json.weights}`, { config: c.config, lora: { file: `${DIT_GOLDEN}/${meta.adapter}`, strength: meta.strength, mode } });
      const exec = await model.executor(dev, model.graph({ latentShape: shape }));
      await exec.run(feed);
      results.push(await exec.read(DIT_IO.output));
      exec.destroy();
      await model.close();
    }
    expect(relL2(results[1]!, results[0]!)).toBeLessThan(1e-5);
    expect(relL2(results[1]!, io.get('out')!.data)).toBeLessThan(1e-4);
  });
});
