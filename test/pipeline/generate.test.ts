// generate() end to end on the shared real Ego-Exo4D take with the demo's tiny random weights:
// every output is written with the right sizes, frame counts and rate. (The numbers of the
// networks and the sampler are checked against PyTorch references elsewhere; here the wiring.)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeVideo, probeVideo } from '../../src/io/video.ts';
import { readPng } from '../../src/io/png.ts';
import { generate } from '../../src/pipeline/generate.ts';
import type { ProgressEvent } from '../../src/pipeline/progress.ts';
import { useDevice } from '../helpers/gpu.ts';
import { makeGenerateFixture, SHARED_META, SOCCER, type GenerateFixture } from '../helpers/generate-fixture.ts';

const device = useDevice();
let fx: GenerateFixture | undefined;
afterAll(() => fx?.cleanup());

describe('generate on real example data (tiny weights)', () => {
  it('writes the side-by-side video, the ego video, PNGs, the contact sheet and a summary', async () => {
    fx = await makeGenerateFixture('egox-generate-');
    const dev = await device();
    const out = path.join(fx.root, 'out');
    const events: ProgressEvent[] = [];
    const r = await generate(dev, {
      meta: SHARED_META,
      take: SOCCER,
      model: fx.model,
      lora: fx.lora,
      out,
      size: 64,
      frames: 9,
      steps: 2,
      promptEmbeds: fx.promptEmbeds,
      imageEmbeds: fx.imageEmbeds,
      png: true,
      weightDtype: 'f32',
      onProgress: (e) => events.push(e),
    });
    // 64 px ego, 112 px exo, latent 3 frames x 8 rows x (14 + 8) columns.
    expect(r.latentShape).toEqual([36, 3, 8, 22]);
    expect(r.tokens).toBe(3 * 4 * 11);
    const side = await probeVideo(r.video);
    expect([side.width, side.height, side.fps]).toEqual([176, 64, 30]);
    const ego = await decodeVideo(r.egoVideo);
    expect([ego.width, ego.height, ego.frames.length]).toEqual([64, 64, 9]);
    // Not flat: the untrained model still produces varied pixels.
    const px = ego.frames[4]!;
    expect(Math.max(...px) - Math.min(...px)).toBeGreaterThan(20);
    const pngs = fs.readdirSync(path.join(out, 'png'));
    expect(pngs.length).toBe(9);
    expect(readPng(path.join(out, 'png', pngs[0]!)).width).toBe(64);
    // Sheet: exo | prior | generated | ground truth, 64-px tiles with 4-px gaps, 5 rows.
    const sheet = readPng(r.contactSheet);
    expect(sheet.width).toBe(112 + 3 * 64 + 3 * 4);
    expect(sheet.height).toBe(5 * 64 + 4 * 4);
    const summary = JSON.parse(fs.readFileSync(path.join(out, `${SOCCER}.json`), 'utf8'));
    expect(summary.contactSheetColumns).toEqual(['exo', 'ego prior', 'generated', 'ground truth']);
    expect(summary.scheduler.sampler).toBe('unipc');
    expect(summary.scheduler.shift).toBe(3);
    // Nothing staged is left behind; every stage reported in order.
    expect(fs.readdirSync(out).filter((f) => f.startsWith('.'))).toEqual([]);
    const stages = events.filter((e) => e.type === 'stage').map((e) => e.stage);
    expect(stages).toEqual(['load', 'prior', 'encode', 'embed', 'geometry', 'denoise', 'decode', 'write']);
    const ticks = events.filter((e) => e.type === 'tick' && e.stage === 'denoise');
    expect(ticks.at(-1)).toMatchObject({ done: 2, total: 2 });
    console.log(JSON.stringify(r.stageMs), 'pipelines', dev.pipelines.stats);
  }, 600_000);
});
