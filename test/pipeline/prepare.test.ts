// prepareTakes() end to end on the shared takes' exo videos with the tiny golden MoGe-2 weights:
// the official layout with the right shapes, a meta.json that egox's prior and generate read
// (with and without depth maps), a PNG folder input at another size with known intrinsics.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findEgoxTake, loadEgoxTake, readDepthFrame } from '../../src/io/meta.ts';
import { decodeVideo, probeVideo } from '../../src/io/video.ts';
import { generate } from '../../src/pipeline/generate.ts';
import { prepareTakes } from '../../src/pipeline/prepare.ts';
import { renderPrior, writePrior } from '../../src/pipeline/prior.ts';
import { useDevice } from '../helpers/gpu.ts';
import { makeGenerateFixture, SHARED, SOCCER, type GenerateFixture } from '../helpers/generate-fixture.ts';

const COOKING = 'iiith_cooking_57_2_2451_2499';
const MOGE = 'test/golden/moge/model.pt';
const FRAMES = 9;
const device = useDevice();
let fx: GenerateFixture | undefined;
afterAll(() => fx?.cleanup());

const exoOf = (take: string) => path.join(SHARED, 'videos', take, 'exo.mp4');

function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  return 10 * Math.log10((255 * 255) / (se / a.length));
}

describe('egox prepare (library) on the shared exo videos, tiny MoGe-2 weights', () => {
  it('writes the official layout that egox prior and egox generate read', async () => {
    fx = await makeGenerateFixture('egox-prepare-');
    const dev = await device();
    const out = path.join(fx.root, 'data');
    const notes: string[] = [];
    const r = await prepareTakes(dev, {
      videos: [exoOf(SOCCER), exoOf(COOKING)],
      out,
      frames: FRAMES,
      depthModel: MOGE,
      numTokens: 100,
      prompt: 'a test prompt',
      onNote: (s) => notes.push(s),
    });
    // An official take's exo.mp4 is named after its folder.
    expect(r.takes.map((t) => t.take)).toEqual([SOCCER, COOKING]);
    expect(fs.readdirSync(out).filter((f) => f.startsWith('.'))).toEqual([]);
    for (const t of r.takes) {
      const take = loadEgoxTake(r.metaPath, t.take, { requiredDepthFrames: FRAMES, requiredEgoPoses: FRAMES });
      expect(take.depthFiles.map((f) => path.basename(f))).toEqual(Array.from({ length: FRAMES }, (_, i) => `${String(i).padStart(5, '0')}.npy`));
      expect(take.depthShape).toEqual([448, 784]);
      for (let f = 0; f < FRAMES; f += 4) {
        const d = readDepthFrame(take, f);
        expect(d.every((x) => Number.isFinite(x) && x > 0)).toBe(true);
      }
      const k = Array.from(take.exoIntrinsics);
      expect([k[2], k[5], k[1], k[3], k[8]]).toEqual([392, 224, 0, 0, 1]);
      expect(k[0]).toBeGreaterThan(0);
      expect(k[4]).toBe(k[0]);
      expect(Array.from(take.exoExtrinsics)).toEqual([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]);
      expect(take.egoExtrinsics).toHaveLength(FRAMES);
      expect(take.prompt).toBe('a test prompt');
      const video = await probeVideo(take.exoPath);
      expect([video.width, video.height, video.frames]).toEqual([784, 448, FRAMES]);
      expect(t.scales).toHaveLength(FRAMES);
      expect(t.cameraMoves).toBe(false);
    }
    // The shared exo videos are 784x448 already: exo.mp4 is the same picture.
    const mine = await decodeVideo(path.join(out, 'videos', r.takes[0]!.take, 'exo.mp4'), { maxFrames: 1 });
    const orig = await decodeVideo(exoOf(SOCCER), { maxFrames: 1 });
    expect(psnr(mine.frames[0]!, orig.frames[0]!)).toBeGreaterThan(35);

    // egox prior on the new take, then generate with the geometry (depth maps) and egox's prior.
    const take = loadEgoxTake(r.metaPath, r.takes[0]!.take, { requiredDepthFrames: FRAMES, requiredEgoPoses: FRAMES });
    const prior = await renderPrior(dev, take, { frames: FRAMES, mode: 'zbuffer' });
    expect(prior.frames).toHaveLength(FRAMES);
    const gen = await generate(dev, {
      meta: r.metaPath,
      take: take.name,
      model: fx.model,
      out: path.join(fx.root, 'gen'),
      size: 64,
      frames: FRAMES,
      steps: 1,
      renderPrior: true,
      promptEmbeds: fx.promptEmbeds,
      imageEmbeds: fx.imageEmbeds,
      weightDtype: 'f32',
    });
    expect((await probeVideo(gen.egoVideo)).frames).toBe(FRAMES);

    // A take that ships its prior and no depth maps (the official in-the-wild examples) runs
    // with --no-gga, and is refused with the geometry on.
    const bare = path.join(fx.root, 'bare');
    fs.mkdirSync(path.join(bare, 'videos', take.name), { recursive: true });
    fs.copyFileSync(take.exoPath, path.join(bare, 'videos', take.name, 'exo.mp4'));
    await writePrior(path.join(bare, 'videos', take.name), prior);
    const meta = JSON.parse(fs.readFileSync(r.metaPath, 'utf8'));
    meta.test_datasets = meta.test_datasets.slice(0, 1);
    fs.writeFileSync(path.join(bare, 'meta.json'), JSON.stringify(meta));
    expect(() => findEgoxTake(path.join(bare, 'meta.json'), take.name, { requiredEgoPoses: FRAMES })).not.toThrow();
    const common = { meta: path.join(bare, 'meta.json'), model: fx.model, size: 64, frames: FRAMES, steps: 1, promptEmbeds: fx.promptEmbeds, imageEmbeds: fx.imageEmbeds, weightDtype: 'f32' as const };
    await expect(generate(dev, { ...common, out: path.join(fx.root, 'gen-gga') })).rejects.toThrow(/depth folder/);
    const noGga = await generate(dev, { ...common, out: path.join(fx.root, 'gen-bare'), ggaLambda: null });
    expect((await probeVideo(noGga.egoVideo)).frames).toBe(FRAMES);
  }, 900_000);

  it('takes a PNG folder at another size: cover-crop to 784x448, given intrinsics mapped onto it, network on every 4th frame', async () => {
    fx ??= await makeGenerateFixture('egox-prepare-');
    const dev = await device();
    // 2x the exo frame plus 16 px of black on each side: scaled by 1/2 and cropped 8 px a side.
    const pngs = path.join(fx.root, 'pngs');
    fs.mkdirSync(pngs);
    const ff = spawnSync('ffmpeg', ['-v', 'error', '-i', exoOf(COOKING), '-frames:v', String(FRAMES + 3), '-vf', 'scale=1568:896,pad=1600:896:16:0', path.join(pngs, 'f%03d.png')]);
    expect(ff.status, ff.stderr?.toString()).toBe(0);
    const out = path.join(fx.root, 'png-data');
    const r = await prepareTakes(dev, {
      videos: [pngs],
      out,
      take: 'kitchen',
      frames: FRAMES,
      startSeconds: 0.1,
      depthModel: MOGE,
      numTokens: 100,
      intrinsics: [1000, 900, 799.5, 447.5],
      depthEvery: 4,
    });
    // The network on frames 0, 4, 8; the frames between interpolated, every depth positive.
    expect(r.takes[0]!.keyframes).toBe(3);
    const take = loadEgoxTake(r.metaPath, 'kitchen', { requiredDepthFrames: FRAMES, requiredEgoPoses: FRAMES });
    expect(take.exoIntrinsics[0]).toBeCloseTo(500, 9);
    expect(take.exoIntrinsics[4]).toBeCloseTo(450, 9);
    expect(r.takes[0]!.focalSource).toBe('given');
    for (const f of [1, 5, 7]) expect(readDepthFrame(take, f).every((x) => Number.isFinite(x) && x > 0)).toBe(true);
    // --start 0.1 s at the folder's 30 fps skips 3 frames: frame 0 is the video's frame 3.
    const mine = await decodeVideo(take.exoPath, { maxFrames: 1 });
    const orig = await decodeVideo(exoOf(COOKING), { maxFrames: 4 });
    const scores = orig.frames.map((f) => psnr(mine.frames[0]!, f));
    expect(scores.indexOf(Math.max(...scores))).toBe(3);
    expect(Math.max(...scores)).toBeGreaterThan(28);
  }, 600_000);
});
