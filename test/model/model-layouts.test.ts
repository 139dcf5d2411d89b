// The same tiny networks read from the layouts Wan users download give the same outputs as
// the diffusers form: the original Wan2.1 release folder (config.json with dim/num_heads, DiT
// shards + index, Wan2.1_VAE.pth, models_t5_*.pth + google/umt5-xxl/, models_clip_*.pth with
// fused q/k/v), and ComfyUI-style single files (configs read from the shapes). Files:
// test/reference/wan_layouts.py (renamed from the goldens of the other reference scripts).
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { relL2, useDevice } from '../helpers/gpu.ts';
import { loadDitCase, DIT_GOLDEN } from './dit-golden.ts';
import { WanDit, DIT_IO } from '../../src/model/wan/dit.ts';
import { openWanCheckpoint } from '../../src/model/wan/load.ts';
import { timestepEmbedding } from '../../src/model/wan/timestep.ts';
import { Executor } from '../../src/graph/executor.ts';
import { WanVae } from '../../src/model/vae/vae.ts';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import { Umt5Encoder } from '../../src/model/umt5/index.ts';
import { ClipVisionEncoder } from '../../src/model/clip/index.ts';
import { describeModelLayout, modelLayout } from '../../src/io/model-layout.ts';
import { openModelFolder } from '../../src/pipeline/model-folder.ts';
import type { WanConfig } from '../../src/model/wan/config.ts';

const ORIGINAL = 'test/golden/layouts/original';
const CLIP_HF = 'test/golden/layouts/clip';
const device = useDevice();
const tmp = fs.mkdtempSync(join(os.tmpdir(), 'egox-layouts-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Same numbers up to 1e-6 (relative L2); they are the same weights, so normally bit-equal. */
function expectSame(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length).toBe(want.length);
  expect(want.some((x) => x !== 0)).toBe(true);
  const err = relL2(got, want);
  console.log(`${what}: relative L2 ${err.toExponential(2)} vs the diffusers form`);
  expect(err, what).toBeLessThanOrEqual(1e-6);
}

describe('layouts of a download', () => {
  it('tells the original release folder from a diffusers folder and finds its parts', () => {
    expect(modelLayout(ORIGINAL)).toBe('original');
    expect(describeModelLayout(ORIGINAL)).toMatch(/original Wan2\.1 release folder/);
    const m = openModelFolder(ORIGINAL);
    expect(m.transformer).toBe(ORIGINAL);
    expect(m.vae).toBe(join(ORIGINAL, 'Wan2.1_VAE.pth'));
    expect(m.textEncoder).toBe(join(ORIGINAL, 'models_t5_umt5-xxl-enc-bf16.pth'));
    expect(m.imageEncoder).toBe(join(ORIGINAL, 'models_clip_open-clip-xlm-roberta-large-vit-huge-14.pth'));
    const files = openModelFolder(undefined, { transformer: `${DIT_GOLDEN}/original_layout.weights.safetensors`, vae: 'test/golden/vae/weights.safetensors' });
    expect(files.textEncoder).toBeNull();
    expect(() => openModelFolder(undefined, { transformer: join(tmp, 'nope.safetensors'), vae: 'x' })).toThrow(/--transformer .*not found/);
  });
});

describe('the original release folder reads into the same networks', () => {
  it('DiT: config.json (dim, num_heads, ...) and sharded safetensors', { timeout: 900_000 }, async () => {
    const c = await loadDitCase('i2v_square');
    const run = async (path: string, config?: WanConfig) => {
      const dev = await device();
      const ckpt = await openWanCheckpoint(path, { config });
      // The run gives the image length (257 for CLIP ViT-H; this case's 9), as the pipeline does.
      const cfg = { ...ckpt.config, imageLen: c.config.imageLen };
      const x = c.io.get('x')!;
      const dit = new WanDit(cfg, { latentShape: x.shape as [number, number, number, number], textLen: cfg.textLen, gga: null });
      const exec = await Executor.create(dev, dit.build(), ckpt.store);
      await exec.run({
        [DIT_IO.latents]: x.data,
        [DIT_IO.timestepEmbedding]: timestepEmbedding(c.io.get('timestep')!.data[0]!, cfg.freqDim),
        [DIT_IO.context]: c.io.get('context')!.data,
        [DIT_IO.clip]: c.io.get('clip')!.data,
      });
      const out = await exec.read(DIT_IO.output);
      exec.destroy();
      await ckpt.checkpoint.close();
      return { out, cfg, layout: ckpt.layout };
    };
    const want = await run(`${DIT_GOLDEN}/${c.json.weights}`, c.config);
    const got = await run(ORIGINAL);
    expect(got.layout).toBe('original');
    for (const k of ['dim', 'ffnDim', 'numHeads', 'headDim', 'numLayers', 'inDim', 'outDim', 'textDim', 'textLen', 'imageDim', 'freqDim', 'eps'] as const) {
      expect(got.cfg[k], k).toEqual(c.config[k]);
    }
    expectSame(got.out, want.out, 'DiT from the original folder');
  });

  it('VAE: Wan2.1_VAE.pth (config from the shapes)', { timeout: 600_000 }, async () => {
    const cases = await SafetensorsFile.open('test/golden/vae/cases.safetensors');
    try {
      const bytes = await cases.read('s16x16_f1.latents');
      const latents = { data: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), shape: cases.tensors.get('s16x16_f1.latents')!.shape as [number, number, number, number] };
      const dev = await device();
      const ref = await WanVae.load(dev, 'test/golden/vae/weights.safetensors');
      const pth = await WanVae.load(dev, ORIGINAL);
      expect(pth.layout).toBe('original');
      expect(pth.config).toEqual(ref.config);
      expectSame((await pth.decode(latents)).data, (await ref.decode(latents)).data, 'VAE decode from Wan2.1_VAE.pth');
      await Promise.all([ref.close(), pth.close()]);
    } finally {
      await cases.close();
    }
  });

  it('umT5: models_t5_*.pth with google/umt5-xxl/tokenizer.json, and a single HF-named file', async () => {
    const dev = await device();
    const dir = join(tmp, 'umt5');
    fs.mkdirSync(join(dir, 'text_encoder'), { recursive: true });
    fs.mkdirSync(join(dir, 'tokenizer'), { recursive: true });
    fs.copyFileSync('test/golden/umt5/config.json', join(dir, 'text_encoder', 'config.json'));
    fs.copyFileSync('test/golden/umt5/weights.safetensors', join(dir, 'text_encoder', 'model.safetensors'));
    fs.copyFileSync(join(ORIGINAL, 'google', 'umt5-xxl', 'tokenizer.json'), join(dir, 'tokenizer', 'tokenizer.json'));
    const L = 24;
    const encode = async (path: string, tokenizerRoot?: string) => {
      const enc = await Umt5Encoder.open(dev, path, { length: L }, tokenizerRoot);
      try {
        expect(enc.tokenizer().encode('a person cooks').ids.length).toBeGreaterThan(1);
        // Ids of the tiny vocabulary (300): the tokenizer's are of the real one.
        const ids = Int32Array.from({ length: L }, (_, i) => (i < 17 ? (i * 53 + 7) % 300 : 0));
        return { out: await enc.encodeIds(ids, 17), config: enc.config };
      } finally {
        await enc.close();
      }
    };
    const want = await encode(dir);
    const original = await encode(ORIGINAL);
    expect(original.config).toEqual(want.config);
    expectSame(original.out, want.out, 'umT5 from models_t5_*.pth');
    const single = await encode(join(dir, 'text_encoder', 'model.safetensors'), dir);
    expect(single.config).toEqual(want.config);
    expectSame(single.out, want.out, 'umT5 from one safetensors file');
  });

  it('CLIP vision: models_clip_*.pth (fused to_qkv, text tower ignored), and a single HF-named file', async () => {
    const dev = await device();
    const ref = await ClipVisionEncoder.open(dev, CLIP_HF);
    const pixels = new Float32Array(3 * ref.config.imageSize ** 2).map((_, i) => Math.sin(i * 0.37) * 1.5);
    const want = await ref.encodePixels(pixels);
    for (const [path, what] of [[ORIGINAL, 'CLIP from models_clip_*.pth'], [join(CLIP_HF, 'image_encoder', 'model.safetensors'), 'CLIP from one safetensors file']] as const) {
      const enc = await ClipVisionEncoder.open(dev, path);
      try {
        expect(enc.config).toEqual(ref.config);
        expect(enc.preprocess).toEqual(ref.preprocess);
        expectSame(await enc.encodePixels(pixels), want, what);
      } finally {
        await enc.close();
      }
    }
    await ref.close();
  });
});
