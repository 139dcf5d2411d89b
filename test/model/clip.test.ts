import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { relL2, useDevice } from '../helpers/gpu.ts';
import { readGoldenF32, type GoldenTensor } from '../helpers/golden.ts';
import { ClipVisionEncoder, encodeImage, hasClipVision, planClipVision, unitFloatToRgb8 } from '../../src/model/clip/index.ts';

// Goldens: test/reference/clip_reference.py (float64 PyTorch, HF CLIPVisionModel names; its
// preprocessing checked there against PIL and transformers' CLIPImageProcessor).
const GOLDEN = 'test/golden/clip';
const device = useDevice();
const cfg = JSON.parse(fs.readFileSync(`${GOLDEN}/config.json`, 'utf8'));
const S: number = cfg.image_size;
const tmp = fs.mkdtempSync(join(os.tmpdir(), 'egox-clip-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

type T = GoldenTensor;
const readAll = readGoldenF32;

/** A diffusers-layout folder: image_encoder/{config.json, model.safetensors}, image_processor/. */
export function clipModelFolder(root: string, name: string, config: Record<string, unknown> = cfg): string {
  const dir = join(root, name);
  fs.mkdirSync(join(dir, 'image_encoder'), { recursive: true });
  fs.mkdirSync(join(dir, 'image_processor'), { recursive: true });
  fs.writeFileSync(join(dir, 'image_encoder', 'config.json'), JSON.stringify(config));
  fs.copyFileSync(`${GOLDEN}/weights.safetensors`, join(dir, 'image_encoder', 'model.safetensors'));
  const p = cfg.preprocess;
  fs.writeFileSync(
    join(dir, 'image_processor', 'preprocessor_config.json'),
    JSON.stringify({
      crop_size: { height: p.crop_size, width: p.crop_size }, do_center_crop: true, do_normalize: true, do_rescale: true, do_resize: true,
      image_mean: p.image_mean, image_std: p.image_std, resample: p.resample, rescale_factor: 1 / 255, size: { shortest_edge: p.shortest_edge },
    }),
  );
  return dir;
}

/** The golden float frame [3, h, w] as HF turns it into 8 bits: trunc(float32(x * 255)), interleaved RGB. */
function toRgb8(img: T): { width: number; height: number; rgb: Uint8Array } {
  const [, h, w] = img.shape as [number, number, number];
  const rgb = new Uint8Array(h * w * 3);
  for (let c = 0; c < 3; c++) for (let i = 0; i < h * w; i++) rgb[3 * i + c] = Math.trunc(Math.fround(img.data[c * h * w + i]! * 255));
  return { width: w, height: h, rgb };
}

describe('CLIP vision vs the PyTorch reference', () => {
  it('image_embeds = hidden_states[-2] from the reference pixel_values (f32)', async () => {
    const dev = await device();
    const cases = await readAll(`${GOLDEN}/cases.safetensors`);
    const enc = await ClipVisionEncoder.open(dev, clipModelFolder(tmp, 'pixels'));
    for (const name of ['up', 'down']) {
      const got = await enc.encodePixels(cases.get(`${name}.pixel_values_pil`)!.data);
      const err = relL2(got, cases.get(`${name}.image_embeds`)!.data);
      console.log(`CLIP ${name}: image_embeds rel L2 ${err.toExponential(2)} (from reference pixels)`);
      // 1e-5, not 1e-4: tanh GELU instead of erf moves this output by only 1.4e-4 (reference script)
      expect(err).toBeLessThan(1e-5);
      // not the last layer's output (the test can fail)
      expect(relL2(got, cases.get(`${name}.hidden_states.3`)!.data)).toBeGreaterThan(1e-2);
    }
    await enc.close();
  });

  it('8-bit images (PIL path): GPU preprocessing gives the processor pixel_values and the embeddings', async () => {
    const dev = await device();
    const cases = await readAll(`${GOLDEN}/cases.safetensors`);
    const dir = clipModelFolder(tmp, 'pil');
    expect(hasClipVision(dir)).toBe(true);
    const enc = await ClipVisionEncoder.open(dev, dir);
    for (const name of ['up', 'down']) {
      const img = toRgb8(cases.get(`${name}.image`)!);
      const planar = new Float32Array(3 * img.width * img.height);
      for (let c = 0; c < 3; c++) for (let i = 0; i < img.width * img.height; i++) planar[c * img.width * img.height + i] = img.rgb[3 * i + c]!;
      const { pixelValues, imageEmbeds } = await enc.encodePlanar(planar, img.width, img.height, true);
      const pv = cases.get(`${name}.pixel_values_pil`)!.data;
      let maxDiff = 0;
      for (let i = 0; i < pv.length; i++) maxDiff = Math.max(maxDiff, Math.abs(pixelValues[i]! - pv[i]!));
      const err = relL2(imageEmbeds, cases.get(`${name}.image_embeds`)!.data);
      console.log(`CLIP ${name} (8-bit): pixel_values max |diff| ${maxDiff.toExponential(2)}, image_embeds rel L2 ${err.toExponential(2)}`);
      expect(maxDiff).toBeLessThan(1e-5);
      expect(err).toBeLessThan(1e-5);
      // the public API gives the same, and the frame helper converts as HF does
      expect(unitFloatToRgb8(cases.get(`${name}.image`)!.data, img.width, img.height).rgb).toEqual(img.rgb);
      const api = await encodeImage(dev, dir, img);
      expect(api.length).toBe(((S / cfg.patch_size) ** 2 + 1) * cfg.hidden_size);
      expect(relL2(api, imageEmbeds)).toBeLessThan(1e-6);
    }
    await enc.close();
  });

  it('float frames (no 8-bit rounding) match the float64 resize', async () => {
    const dev = await device();
    const cases = await readAll(`${GOLDEN}/cases.safetensors`);
    const enc = await ClipVisionEncoder.open(dev, clipModelFolder(tmp, 'float'));
    for (const name of ['up', 'down']) {
      const img = cases.get(`${name}.image`)!;
      const { pixelValues, imageEmbeds } = await enc.encodePlanar(img.data, img.shape[2]!, img.shape[1]!, false);
      const ep = relL2(pixelValues, cases.get(`${name}.pixel_values_float`)!.data);
      const ee = relL2(imageEmbeds, cases.get(`${name}.image_embeds_float`)!.data);
      console.log(`CLIP ${name} (float): pixel_values rel L2 ${ep.toExponential(2)}, image_embeds rel L2 ${ee.toExponential(2)}`);
      expect(ep).toBeLessThan(1e-6);
      expect(ee).toBeLessThan(1e-5);
    }
    await enc.close();
  });

  it('hidden_act quick_gelu (OpenAI CLIP configs)', async () => {
    const dev = await device();
    const cases = await readAll(`${GOLDEN}/cases.safetensors`);
    const enc = await ClipVisionEncoder.open(dev, clipModelFolder(tmp, 'quick', { ...cfg, hidden_act: 'quick_gelu' }));
    const got = await enc.encodePixels(cases.get('down.pixel_values_pil')!.data);
    const err = relL2(got, cases.get('down.image_embeds_quick_gelu')!.data);
    console.log(`CLIP down quick_gelu: rel L2 ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-5);
    expect(relL2(got, cases.get('down.image_embeds')!.data)).toBeGreaterThan(1e-3);
    await enc.close();
  });

  it('bf16 weights stay close', async () => {
    const dev = await device();
    const cases = await readAll(`${GOLDEN}/cases.safetensors`);
    const enc = await ClipVisionEncoder.open(dev, clipModelFolder(tmp, 'bf16'), { weightDtype: 'bf16' });
    const got = await enc.encodePixels(cases.get('down.pixel_values_pil')!.data);
    const err = relL2(got, cases.get('down.image_embeds')!.data);
    console.log(`CLIP down bf16 weights: rel L2 ${err.toExponential(2)}`);
    expect(err).toBeLessThan(2e-2);
    await enc.close();
  });

  it('missing folders and unsupported configs are one-line exit-2 errors', async () => {
    const dev = await device();
    expect(hasClipVision(join(tmp, 'nowhere'))).toBe(false);
    const bad = clipModelFolder(tmp, 'badact', { ...cfg, hidden_act: 'relu' });
    for (const [dir, fragment] of [[join(tmp, 'nowhere'), 'no CLIP image encoder'], [bad, "hidden_act 'relu'"]] as const) {
      const err = await encodeImage(dev, dir, { width: 2, height: 2, rgb: new Uint8Array(12) }).then(() => undefined, (e) => e);
      expect(err?.exitCode, String(err)).toBe(2);
      expect(err.message).toContain(fragment);
      expect(err.message).not.toContain('\n');
    }
    // an image smaller than the crop after resizing cannot happen with shortest_edge = crop; wrong byte counts can
    const err = await encodeImage(dev, clipModelFolder(tmp, 'bytes'), { width: 50, height: 60, rgb: new Uint8Array(10) }).then(() => undefined, (e) => e);
    expect(err?.exitCode).toBe(2);
    expect(err.message).toContain('needs 9000');
  });
});

describe('planning the real CLIP ViT-H/14 (dry run)', () => {
  it('builds 31 of the 32 layers (hidden_states[-2]) with bf16 matrices, on EgoX\'s 1232 x 448 frame', () => {
    const p = planClipVision({ height: 448, width: 1232 }, { weightDtype: 'bf16' });
    const h = 1280, i = 5120;
    const layers = 31 * ((4 * h * h + 2 * h * i) * 2 + (4 * h + i + h) * 4 + 4 * h * 4);
    const embeddings = h * 3 * 14 * 14 * 2 + (h + 257 * h + 2 * h) * 4;
    const resizeTables = 2 * 224 * (1 + 9) * 4; // 448 -> 224 halves: 9 taps
    expect(p.weightBytes).toBe(layers + embeddings + resizeTables);
    expect(p.peakBytes).toBeLessThan(1.25 * 2 ** 30);
    // A Q8_0 (or fp8) file: the Linear matrices at 34 bytes a block of 32 (1 byte a value), the rest as before.
    const matrices = 31 * (4 * h * h + 2 * h * i);
    expect(planClipVision({ height: 448, width: 1232 }, { weightDtype: 'bf16', quantized: 'q8_0' }).weightBytes).toBe(p.weightBytes - matrices * 2 + (matrices / 32) * 34);
    expect(planClipVision({ height: 448, width: 1232 }, { weightDtype: 'bf16', quantized: 'f8e4m3' }).weightBytes).toBe(p.weightBytes - matrices);
  });
});
