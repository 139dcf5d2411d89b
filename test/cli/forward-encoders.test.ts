import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { egox } from '../helpers/cli.ts';
import { relL2 } from '../helpers/gpu.ts';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import { writeSafetensors } from '../../src/io/safetensors-writer.ts';
import { writePng } from '../../src/io/png.ts';
import { UnigramTokenizer, encodePrompt } from '../../src/model/text/tokenizer.ts';

const UMT5 = 'test/golden/umt5';
const CLIP = 'test/golden/clip';
const TOKENIZER = 'test/golden/tokenizer/unigram_a.tokenizer.json';
const tmp = mkdtempSync(join(tmpdir(), 'egox-fwd-enc-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function readAll(path: string) {
  const f = await SafetensorsFile.open(path);
  const out = new Map<string, { shape: number[]; data: Float32Array | Int32Array }>();
  for (const [name, info] of f.tensors) {
    const b = await f.read(name);
    out.set(name, { shape: info.shape, data: info.dtype === 'I32' ? new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4) : new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4) });
  }
  await f.close();
  return out;
}

function expectOneLineExit2(r: { code: number; stderr: string }, fragment: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(fragment);
}

describe('egox forward umt5', () => {
  const cfg = JSON.parse(readFileSync(`${UMT5}/config.json`, 'utf8'));
  const model = join(tmp, 'wan');
  mkdirSync(join(model, 'text_encoder'), { recursive: true });
  mkdirSync(join(model, 'tokenizer'), { recursive: true });
  writeFileSync(join(model, 'text_encoder', 'config.json'), JSON.stringify(cfg));
  copyFileSync(`${UMT5}/weights.safetensors`, join(model, 'text_encoder', 'model.safetensors'));
  copyFileSync(TOKENIZER, join(model, 'tokenizer', 'tokenizer.json'));

  it('--ids: matches the PyTorch reference (long prompt, padding, distances past 128)', { timeout: 300_000 }, async () => {
    const cases = await readAll(`${UMT5}/cases.safetensors`);
    const ids = join(tmp, 'ids.safetensors');
    await writeSafetensors(ids, {
      input_ids: { dtype: 'I32', shape: [1, 192], data: cases.get('long.input_ids')!.data },
      attention_mask: { dtype: 'I32', shape: [1, 192], data: cases.get('long.attention_mask')!.data },
    });
    const out = join(tmp, 'umt5.safetensors');
    const r = egox(['forward', 'umt5', '--model', model, '--ids', ids, '--output', out]);
    expect(r.code, r.stderr).toBe(0);
    const got = await readAll(out);
    expect(got.get('prompt_embeds')!.shape).toEqual([192, cfg.d_model]);
    expect(relL2(got.get('prompt_embeds')!.data, cases.get('long.prompt_embeds')!.data)).toBeLessThan(1e-4);
    expect(relL2(got.get('last_hidden_state')!.data, cases.get('long.last_hidden_state')!.data)).toBeLessThan(1e-4);
  });

  it('--prompt: tokenizes with tokenizer/tokenizer.json; ids outside the vocabulary are a one-line error', { timeout: 300_000 }, async () => {
    const tok = UnigramTokenizer.fromJsonText(readFileSync(TOKENIZER, 'utf8'), TOKENIZER);
    // a prompt whose pieces all fall inside the golden 300-id vocabulary, and one that does not
    const words = ['a', 'the', 'of', 'and', 'to', 'in', 'is', 'on', 'at', 'it', 'an', 'as', 'be', 'by', 'or', 'he', 'we', 'me', 'no', 'so'];
    const inside = words.filter((w) => tok.tokenize(w).every((id) => id < 300));
    expect(inside.length).toBeGreaterThan(2);
    const prompt = `${inside.slice(0, 4).join('  ')}\n${inside.slice(0, 2).join(' ')}`;
    const enc = encodePrompt(tok, prompt, 64);
    const out = join(tmp, 'prompt.safetensors');
    const r = egox(['forward', 'umt5', '--model', model, '--prompt', prompt, '--max-length', '64', '--output', out]);
    expect(r.code, r.stderr).toBe(0);
    const got = await readAll(out);
    expect(Array.from(got.get('input_ids')!.data)).toEqual(Array.from(enc.ids));
    const embeds = got.get('prompt_embeds')!.data;
    expect(embeds.subarray(enc.length * cfg.d_model).every((x) => x === 0)).toBe(true);
    expect(embeds.subarray(0, enc.length * cfg.d_model).every((x) => Number.isFinite(x) && x !== 0)).toBe(true);

    const outside = [...tok.tokenize('zebra quixotic xylophone')].some((id) => id >= 300);
    expect(outside).toBe(true);
    expectOneLineExit2(egox(['forward', 'umt5', '--model', model, '--prompt', 'zebra quixotic xylophone', '--output', join(tmp, 'x.safetensors')]), /outside the vocabulary/);
    expect(existsSync(join(tmp, 'x.safetensors'))).toBe(false);
  });

  it('bad usage and missing folders: one line, exit 2', () => {
    expectOneLineExit2(egox(['forward', 'umt5', '--model', model, '--output', join(tmp, 'y.safetensors')]), /exactly one of --prompt/);
    expectOneLineExit2(egox(['forward', 'umt5', '--model', join(tmp, 'none'), '--prompt', 'a', '--output', join(tmp, 'y.safetensors')]), /no umT5 text encoder/);
  });

  it('takes --adapter and --backend like the other GPU commands', () => {
    expectOneLineExit2(egox(['forward', 'umt5', '--model', model, '--prompt', 'a', '--output', join(tmp, 'y.safetensors'), '--backend', 'nosuch']), /unknown backend 'nosuch'/);
    expectOneLineExit2(egox(['forward', 'umt5', '--model', model, '--prompt', 'a', '--output', join(tmp, 'y.safetensors'), '--adapter', 'no-such-gpu']), /no adapter matches 'no-such-gpu'/);
    expect(existsSync(join(tmp, 'y.safetensors'))).toBe(false);
  });
});

describe('egox forward clip-vision', () => {
  const cfg = JSON.parse(readFileSync(`${CLIP}/config.json`, 'utf8'));
  const model = join(tmp, 'wan-clip');
  mkdirSync(join(model, 'image_encoder'), { recursive: true });
  mkdirSync(join(model, 'image_processor'), { recursive: true });
  writeFileSync(join(model, 'image_encoder', 'config.json'), JSON.stringify(cfg));
  copyFileSync(`${CLIP}/weights.safetensors`, join(model, 'image_encoder', 'model.safetensors'));
  const p = cfg.preprocess;
  writeFileSync(join(model, 'image_processor', 'preprocessor_config.json'), JSON.stringify({ size: { shortest_edge: p.shortest_edge }, crop_size: { height: p.crop_size, width: p.crop_size }, resample: 3, image_mean: p.image_mean, image_std: p.image_std }));

  it('--image PNG: preprocessing as PIL/HF and hidden_states[-2] match the reference', { timeout: 300_000 }, async () => {
    const cases = await readAll(`${CLIP}/cases.safetensors`);
    const img = cases.get('down.image')!;
    const [, h, w] = img.shape as [number, number, number];
    const rgb = new Uint8Array(h * w * 3);
    for (let c = 0; c < 3; c++) for (let i = 0; i < h * w; i++) rgb[3 * i + c] = Math.trunc(Math.fround(img.data[c * h * w + i]! * 255));
    const png = join(tmp, 'frame.png');
    writePng(png, w, h, 3, rgb);
    const out = join(tmp, 'clip.safetensors');
    const r = egox(['forward', 'clip-vision', '--model', model, '--image', png, '--output', out]);
    expect(r.code, r.stderr).toBe(0);
    const got = await readAll(out);
    expect(got.get('image_embeds')!.shape).toEqual([10, 32]);
    expect(relL2(got.get('pixel_values')!.data, cases.get('down.pixel_values_pil')!.data)).toBeLessThan(1e-6);
    expect(relL2(got.get('image_embeds')!.data, cases.get('down.image_embeds')!.data)).toBeLessThan(1e-5);
  });

  it('--input pixel_values; bad input is one line, exit 2', { timeout: 300_000 }, async () => {
    const cases = await readAll(`${CLIP}/cases.safetensors`);
    const input = join(tmp, 'pixels.safetensors');
    await writeSafetensors(input, { pixel_values: { dtype: 'F32', shape: [1, 3, 42, 42], data: cases.get('up.pixel_values_pil')!.data } });
    const out = join(tmp, 'clip2.safetensors');
    const r = egox(['forward', 'clip-vision', '--model', model, '--input', input, '--output', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(relL2((await readAll(out)).get('image_embeds')!.data, cases.get('up.image_embeds')!.data)).toBeLessThan(1e-5);
    expectOneLineExit2(egox(['forward', 'clip-vision', '--model', model, '--input', `${CLIP}/weights.safetensors`, '--output', join(tmp, 'z.safetensors')]), /needs a tensor 'pixel_values' or 'image'/);
    expectOneLineExit2(egox(['forward', 'clip-vision', '--model', model, '--image', join(tmp, 'missing.png'), '--output', join(tmp, 'z.safetensors')]), /file not found/);
    expect(existsSync(join(tmp, 'z.safetensors'))).toBe(false);
  });
});
