// generateBatch on four tiny takes (the shared real takes and copies of them under other names)
// with the demo's tiny random weights: each network is loaded once for the whole run, and
// every output equals, byte for byte, what four single-take runs with the same seed write.
// A broken take in the middle is recorded with its one-line error and the others are done.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../src/pipeline/generate.ts';
import { generateBatch, type BatchEvent } from '../../src/pipeline/generate-batch.ts';
import type { GenerateOptions } from '../../src/pipeline/generate-options.ts';
import { useDevice } from '../helpers/gpu.ts';
import { makeGenerateFixture, type GenerateFixture } from '../helpers/generate-fixture.ts';
import { FOUR_TAKES, SHARED_TAKES, writeBatchMeta } from '../helpers/batch-fixture.ts';

const device = useDevice();
let fx: GenerateFixture;
beforeAll(async () => {
  fx = await makeGenerateFixture('egox-batch-');
}, 120_000);
afterAll(() => fx?.cleanup());

function tiny(meta: string, out: string): Omit<GenerateOptions, 'take'> {
  return { meta, model: fx.model, lora: fx.lora, out, size: 64, frames: 5, steps: 1, weightDtype: 'f32', seed: 7 };
}

function readSummary(out: string) {
  return JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
}

describe('generate many takes with one model load', () => {
  it('loads umT5, the VAE, CLIP and the DiT once each, and writes what four single runs write', async () => {
    const dev = await device();
    const meta = writeBatchMeta(path.join(fx.root, 'four'), FOUR_TAKES);
    const out = path.join(fx.root, 'four', 'batch');
    const events: BatchEvent[] = [];
    const r = await generateBatch(dev, { ...tiny(meta, out), onEvent: (e) => events.push(e) });
    expect(r.exitCode).toBe(0);

    // Networks one at a time (each with the whole budget): umT5 for every prompt first, then
    // the VAE (GPU memory only inside its calls), CLIP, the DiT, and the VAE's decodes.
    const nets = events.filter((e) => e.type === 'network').map((e) => `${e.action} ${e.network}`);
    expect(nets).toEqual(['load umt5', 'release umt5', 'load vae', 'load clip-vision', 'release clip-vision', 'load dit', 'release dit', 'release vae']);
    const summary = readSummary(out);
    expect(summary.finished).toBe(true);
    expect(summary.takes.map((t: { take: string; status: string; seed: number }) => [t.take, t.status, t.seed])).toEqual(FOUR_TAKES.map((t) => [t.name, 'done', 7]));
    expect(Object.keys(summary.networkSeconds).sort()).toEqual(['clip-vision', 'dit', 'umt5', 'vae']);

    const single = path.join(fx.root, 'four', 'single');
    for (const t of FOUR_TAKES) await generate(dev, { ...tiny(meta, single), take: t.name });
    for (const t of FOUR_TAKES) {
      for (const f of [`${t.name}.mp4`, `${t.name}_ego.mp4`, `${t.name}_sheet.png`, `${t.name}.json`]) {
        const a = fs.readFileSync(path.join(out, f));
        const b = fs.readFileSync(path.join(single, f));
        expect(a.equals(b), `${f} differs between the batch and a single run`).toBe(true);
      }
    }
    // The copies are the same take under another name: equal outputs show the seed is per run, not per take.
    expect(fs.readFileSync(path.join(out, `copy_of_soccer_ego.mp4`)).equals(fs.readFileSync(path.join(out, `${SHARED_TAKES[0]}_ego.mp4`)))).toBe(true);
    expect(fs.readdirSync(out).filter((f) => f.startsWith('.'))).toEqual([]);
  }, 900_000);

  it('records a broken take in the middle with its one-line error and does the others', async () => {
    const dev = await device();
    const takes = [FOUR_TAKES[0]!, { name: 'broken_exo', from: SHARED_TAKES[1], broken: 'exo' as const }, FOUR_TAKES[2]!];
    const meta = writeBatchMeta(path.join(fx.root, 'broken'), takes);
    const out = path.join(fx.root, 'broken', 'out');
    const r = await generateBatch(dev, { ...tiny(meta, out), promptEmbeds: fx.promptEmbeds, imageEmbeds: fx.imageEmbeds });
    expect(r.exitCode).toBe(2);
    const summary = readSummary(out);
    expect(summary.takes.map((t: { status: string }) => t.status)).toEqual(['done', 'failed', 'done']);
    const failed = summary.takes[1];
    expect(failed.error).toMatch(/broken_exo\/exo\.mp4/);
    expect(failed.error).not.toMatch(/\n/);
    expect(failed.exitCode).toBe(2);
    expect(summary.counts).toMatchObject({ done: 2, failed: 1, pending: 0, running: 0 });
    for (const t of [takes[0]!, takes[2]!]) expect(fs.existsSync(path.join(out, `${t.name}_ego.mp4`))).toBe(true);
    expect(fs.readdirSync(out).filter((f) => f.startsWith('broken_exo'))).toEqual([]);
  }, 900_000);

  it('loads the DiT once per wave, and stops at the first failure with failFast', async () => {
    const dev = await device();
    const meta = writeBatchMeta(path.join(fx.root, 'waves'), FOUR_TAKES.slice(0, 3));
    const out = path.join(fx.root, 'waves', 'out');
    const given = { promptEmbeds: fx.promptEmbeds, imageEmbeds: fx.imageEmbeds };
    const events: BatchEvent[] = [];
    const r = await generateBatch(dev, { ...tiny(meta, out), ...given, wave: 2, onEvent: (e) => events.push(e) });
    expect(r.exitCode).toBe(0);
    // Given embeddings: no umT5, no CLIP; waves of 2 and 1 take, each with its own DiT load.
    const nets = events.filter((e) => e.type === 'network').map((e) => `${e.action} ${e.network}`);
    expect(nets).toEqual(['load vae', 'load dit', 'release dit', 'load dit', 'release dit', 'release vae']);

    const takes = [{ name: 'broken_first', from: SHARED_TAKES[0], broken: 'exo' as const }, FOUR_TAKES[2]!];
    const meta2 = writeBatchMeta(path.join(fx.root, 'fail-fast'), takes);
    const out2 = path.join(fx.root, 'fail-fast', 'out');
    await expect(generateBatch(dev, { ...tiny(meta2, out2), ...given, failFast: true })).rejects.toThrow(/broken_first\/exo\.mp4/);
    expect(readSummary(out2).takes.map((t: { status: string }) => t.status)).toEqual(['failed', 'pending']);
  }, 900_000);
});
