import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { relL2, useDevice } from '../helpers/gpu.ts';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import { writeSafetensors } from '../../src/io/safetensors-writer.ts';
import { Umt5Encoder, encodePrompts, hasUmt5, planUmt5 } from '../../src/model/umt5/index.ts';
import { UnigramTokenizer, encodePrompt } from '../../src/model/text/tokenizer.ts';

// Goldens: test/reference/umt5_reference.py (float64 PyTorch, HF UMT5EncoderModel names).
const GOLDEN = 'test/golden/umt5';
const TOKENIZER = 'test/golden/tokenizer/unigram_a.tokenizer.json';
const device = useDevice();
const cfg = JSON.parse(fs.readFileSync(`${GOLDEN}/config.json`, 'utf8'));
const L: number = cfg.golden.maxLength;
const D: number = cfg.d_model;
const tmp = fs.mkdtempSync(join(os.tmpdir(), 'egox-umt5-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function readAll(path: string): Promise<Map<string, { shape: number[]; dtype: string; data: Float32Array | Int32Array }>> {
  const f = await SafetensorsFile.open(path);
  const out = new Map();
  for (const [name, info] of f.tensors) {
    const b = await f.read(name);
    const data = info.dtype === 'I32' ? new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4) : new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    out.set(name, { shape: info.shape, dtype: info.dtype, data });
  }
  await f.close();
  return out;
}

/** A diffusers-layout folder: text_encoder/{config.json, model.safetensors}, tokenizer/tokenizer.json. */
async function modelFolder(name: string, weights?: Record<string, { shape: number[]; data: Float32Array }>, config = cfg): Promise<string> {
  const dir = join(tmp, name);
  fs.mkdirSync(join(dir, 'text_encoder'), { recursive: true });
  fs.mkdirSync(join(dir, 'tokenizer'), { recursive: true });
  fs.writeFileSync(join(dir, 'text_encoder', 'config.json'), JSON.stringify(config));
  fs.copyFileSync(TOKENIZER, join(dir, 'tokenizer', 'tokenizer.json'));
  if (weights) {
    const t: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
    for (const [k, v] of Object.entries(weights)) t[k] = { dtype: 'F32', shape: v.shape, data: v.data };
    await writeSafetensors(join(dir, 'text_encoder', 'model.safetensors'), t);
  } else fs.copyFileSync(`${GOLDEN}/weights.safetensors`, join(dir, 'text_encoder', 'model.safetensors'));
  return dir;
}

describe('umT5 encoder vs the PyTorch reference', () => {
  for (const dtype of ['f32', 'bf16'] as const) {
    it(`short (7) and long (160, distances past 128) prompts, ${dtype} weights`, async () => {
      const dev = await device();
      const cases = await readAll(`${GOLDEN}/cases.safetensors`);
      const enc = await Umt5Encoder.open(dev, await modelFolder(`golden-${dtype}`), { length: L, weightDtype: dtype });
      const bound = dtype === 'f32' ? 1e-4 : 2e-2;
      for (const name of ['short', 'long']) {
        const ids = cases.get(`${name}.input_ids`)!.data;
        const count = (cases.get(`${name}.attention_mask`)!.data as Int32Array).reduce((a, b) => a + b, 0);
        expect(count).toBe(cfg.golden.cases[name]);
        const full = await enc.encodeIds(ids, count, true);
        const embeds = await enc.encodeIds(ids, count);
        const errFull = relL2(full, cases.get(`${name}.last_hidden_state`)!.data);
        const errCut = relL2(embeds, cases.get(`${name}.prompt_embeds`)!.data);
        expect(errFull, `${name} last_hidden_state rel L2 ${errFull}`).toBeLessThan(bound);
        expect(errCut, `${name} prompt_embeds rel L2 ${errCut}`).toBeLessThan(bound);
        expect(embeds.subarray(count * D).every((x) => x === 0)).toBe(true);
        if (dtype === 'f32') console.log(`umT5 ${name}: rel L2 ${errFull.toExponential(2)} (all rows), ${errCut.toExponential(2)} (prompt_embeds)`);
        else console.log(`umT5 ${name} bf16 weights: rel L2 ${errCut.toExponential(2)}`);
      }
      await enc.close();
    });
  }

  it('the real rows do not depend on the padded ids (the mask works)', async () => {
    const dev = await device();
    const cases = await readAll(`${GOLDEN}/cases.safetensors`);
    const enc = await Umt5Encoder.open(dev, await modelFolder('mask'), { length: L });
    const ids = Int32Array.from(cases.get('short.input_ids')!.data);
    for (let i = 7; i < L; i++) ids[i] = 2 + ((i * 37) % 290);
    const got = await enc.encodeIds(ids, 7);
    expect(relL2(got, cases.get('short.prompt_embeds')!.data)).toBeLessThan(1e-4);
    // and counting the padding as real moves them (the test can fail)
    const unmasked = await enc.encodeIds(ids, L);
    expect(relL2(unmasked.subarray(0, 7 * D), cases.get('short.prompt_embeds')!.data.subarray(0, 7 * D))).toBeGreaterThan(1e-3);
    await enc.close();
  });
});

describe('encodePrompts / hasUmt5', () => {
  it('tokenizes (clean-up, EOS, 512) and encodes; rows past the prompt are zero', async () => {
    const dev = await device();
    const w = await readAll(`${GOLDEN}/weights.safetensors`);
    const tok = UnigramTokenizer.fromJsonText(fs.readFileSync(TOKENIZER, 'utf8'), TOKENIZER);
    // the test tokenizer has more pieces than the golden vocabulary: extend shared.weight
    const vocab = tok.vocabSize;
    const shared = new Float32Array(vocab * D);
    shared.set(w.get('shared.weight')!.data as Float32Array);
    for (let i = 300 * D; i < shared.length; i++) shared[i] = Math.sin(i * 0.37);
    const weights: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [k, v] of w) weights[k] = { shape: v.shape, data: v.data as Float32Array };
    weights['shared.weight'] = { shape: [vocab, D], data: shared };
    const dir = await modelFolder('prompts', weights, { ...cfg, vocab_size: vocab });
    expect(hasUmt5(dir)).toBe(true);
    const prompts = ['A person  cooks\n pasta &amp; sauce, seen from above.', ''];
    const [a, b] = await encodePrompts(dev, dir, prompts);
    expect(a!.length).toBe(512 * D);
    const enc = await Umt5Encoder.open(dev, dir);
    for (const [i, got] of [a!, b!].entries()) {
      const e = encodePrompt(tok, prompts[i]!);
      expect(e.ids[e.length - 1]).toBe(1); // </s>
      expect(got.subarray(e.length * D).every((x) => x === 0)).toBe(true);
      expect(got.subarray(0, e.length * D).some((x) => x !== 0)).toBe(true);
      expect(relL2(got, await enc.encodeIds(e.ids, e.length))).toBeLessThan(1e-6);
    }
    // the empty prompt is just </s>
    expect(encodePrompt(tok, '').length).toBe(1);
    await enc.close();
  });

  it('missing or bad folders give one-line exit-2 errors', async () => {
    const dev = await device();
    expect(hasUmt5(join(tmp, 'nowhere'))).toBe(false);
    const bad = join(tmp, 'bad');
    fs.mkdirSync(join(bad, 'text_encoder'), { recursive: true });
    fs.writeFileSync(join(bad, 'text_encoder', 'config.json'), JSON.stringify({ ...cfg, feed_forward_proj: 'relu' }));
    for (const [dir, fragment] of [[join(tmp, 'nowhere'), 'no umT5 text encoder'], [bad, "feed_forward_proj 'relu'"]] as const) {
      const err = await encodePrompts(dev, dir, ['x']).then(() => undefined, (e) => e);
      expect(err?.exitCode, String(err)).toBe(2);
      expect(err.message).toContain(fragment);
      expect(err.message).not.toContain('\n');
    }
  });
});

describe('planning the real umT5-XXL (dry run)', () => {
  it('holds every encoder weight of the 24 layers in bf16 (the 256384 x 4096 embedding stays on the host)', () => {
    const p = planUmt5({ weightDtype: 'bf16' });
    const d = 4096, f = 10240;
    expect(p.weightBytes).toBe(24 * ((4 * d * d + 3 * d * f) * 2 + 2 * d * 4 + 32 * 64 * 4) + d * 4);
    expect(p.streaming).toBe(false);
    expect(p.peakBytes).toBeLessThan(p.weightBytes + 0.2 * 2 ** 30);
    const streamed = planUmt5({ weightDtype: 'bf16', gpuMemoryBytes: 4 * 2 ** 30 });
    expect(streamed.streaming).toBe(true);
    expect(streamed.peakBytes).toBeLessThan(2 ** 30);
  });

  it('counts the Linear weights of a Q8_0 / Q4_K / fp8 file at their quantized size', () => {
    const d = 4096, f = 10240;
    const matrices = 24 * (4 * d * d + 3 * d * f);
    const rest = 24 * (2 * d * 4 + 32 * 64 * 4) + d * 4;
    expect(planUmt5({ weightDtype: 'bf16', quantized: 'q8_0' }).weightBytes).toBe((matrices / 32) * 34 + rest);
    expect(planUmt5({ weightDtype: 'bf16', quantized: 'q4_k' }).weightBytes).toBe((matrices / 256) * 144 + rest);
    expect(planUmt5({ weightDtype: 'bf16', quantized: 'f8e4m3' }).weightBytes).toBe(matrices + rest);
  });
});
