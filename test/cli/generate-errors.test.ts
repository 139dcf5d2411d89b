// The bad-input table of `egox generate`: each case exits 2 with one line that names the field
// or file, and nothing is written to --out.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/io/safetensors-writer.ts';
import { writeNpy } from '../../src/io/npy.ts';
import { egox } from '../helpers/cli.ts';
import { makeGenerateFixture, SHARED, SOCCER, type GenerateFixture } from '../helpers/generate-fixture.ts';

let fx: GenerateFixture;
let realMeta: { test_datasets: Record<string, unknown>[] };
const sharedAbs = path.resolve(SHARED);

beforeAll(async () => {
  fx = await makeGenerateFixture('egox-generate-errors-');
  realMeta = JSON.parse(fs.readFileSync(path.join(SHARED, 'meta.json'), 'utf8'));
}, 120_000);
afterAll(() => fx?.cleanup());

/** A case folder with a meta.json (absolute video paths unless overridden) and depth_maps -> the shared ones. */
function caseDir(name: string, edit: (take: Record<string, unknown>) => void = () => {}, rawText?: string): string {
  const dir = path.join(fx.root, 'cases', name);
  fs.mkdirSync(dir, { recursive: true });
  const take = { ...realMeta.test_datasets[0]! };
  for (const k of ['exo_path', 'ego_prior_path', 'ego_gt_path']) take[k] = path.join(sharedAbs, String(take[k]));
  edit(take);
  fs.writeFileSync(path.join(dir, 'meta.json'), rawText ?? JSON.stringify({ test_datasets: [take] }));
  if (!fs.existsSync(path.join(dir, 'depth_maps'))) fs.symlinkSync(path.join(sharedAbs, 'depth_maps'), path.join(dir, 'depth_maps'));
  return dir;
}

function run(dir: string, extra: string[] = [], drop: string[] = []): { code: number; line: string; out: string } {
  const out = path.join(dir, 'out');
  const args: Record<string, string> = {
    '--meta': path.join(dir, 'meta.json'),
    '--take': SOCCER,
    '--model': fx.model,
    '--lora': fx.lora,
    '--out': out,
    '--size': '64',
    '--frames': '9',
    '--steps': '1',
    '--prompt-embeds': fx.promptEmbeds,
    '--image-embeds': fx.imageEmbeds,
  };
  for (const d of drop) delete args[d];
  for (let i = 0; i < extra.length; i += 2) args[extra[i]!] = extra[i + 1]!;
  const r = egox(['generate', ...Object.entries(args).flat().filter((s) => s !== ''), '--quiet']);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  return { code: r.code, line: lines.length === 1 ? lines[0]! : `(${lines.length} lines) ${r.stderr}`, out };
}

function expectBad(r: { code: number; line: string; out: string }, ...fragments: (string | RegExp)[]): void {
  expect(r.line).toMatch(/^egox: /);
  for (const f of fragments) expect(r.line).toMatch(f);
  expect(r.code).toBe(2);
  expect(fs.existsSync(r.out) ? fs.readdirSync(r.out) : []).toEqual([]);
}

describe('egox generate: bad input is one line, exit 2, nothing written', () => {
  it('meta.json that is not JSON, or misses a field', () => {
    expectBad(run(caseDir('not-json', undefined, '{"test_datasets": [')), /meta\.json/, /not valid JSON/);
    expectBad(run(caseDir('no-prompt', (t) => delete t.prompt)), /field 'prompt'/);
  });

  it('extrinsics not 3x4; fewer ego poses than frames', () => {
    expectBad(run(caseDir('extrinsics-3x3', (t) => (t.camera_extrinsics = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]))), /camera_extrinsics/, /3x4/);
    // The default clip (49 frames) needs 49 poses.
    const few = caseDir('few-poses', (t) => (t.ego_extrinsics = (t.ego_extrinsics as unknown[]).slice(0, 30)));
    expectBad(run(few, [], ['--frames']), /ego_extrinsics/, /30/);
  });

  it('a take name not in the file', () => {
    expectBad(run(caseDir('ok'), ['--take', 'no_such_take']), /no_such_take/, /available: cmu_soccer/);
  });

  it('a missing or undecodable video', () => {
    expectBad(run(caseDir('missing-exo', (t) => (t.exo_path = path.join(fx.root, 'videos', SOCCER, 'nothing.mp4')))), /nothing\.mp4/, /not found/);
    const junk = path.join(fx.root, 'junk', SOCCER, 'exo.mp4');
    fs.mkdirSync(path.dirname(junk), { recursive: true });
    fs.writeFileSync(junk, Buffer.from('this is not a video'.repeat(100)));
    expectBad(run(caseDir('junk-exo', (t) => (t.exo_path = junk))), /exo\.mp4/);
    expectBad(run(caseDir('missing-prior', (t) => (t.ego_prior_path = '/nonexistent/ego_Prior.mp4'))), /ego_Prior\.mp4/, /--render-prior/);
  });

  it('depth maps missing, the wrong count, or the wrong shape', () => {
    const dir = caseDir('ok');
    expectBad(run(dir, ['--depth', path.join(fx.root, 'no-depth')]), /depth/, /no-depth/);
    const few = path.join(fx.root, 'few-depth');
    const all = fs.readdirSync(path.join(sharedAbs, 'depth_maps', SOCCER)).sort();
    fs.mkdirSync(few, { recursive: true });
    for (const f of all.slice(0, 5)) fs.symlinkSync(path.join(sharedAbs, 'depth_maps', SOCCER, f), path.join(few, f));
    expectBad(run(dir, ['--depth', few]), /depth/, /5/);
    const odd = path.join(fx.root, 'odd-depth');
    fs.mkdirSync(odd, { recursive: true });
    for (const f of all) fs.symlinkSync(path.join(sharedAbs, 'depth_maps', SOCCER, f), path.join(odd, f));
    fs.rmSync(path.join(odd, all[3]!));
    writeNpy(path.join(odd, all[3]!), { dtype: 'f4', shape: [10, 12], data: new Float32Array(120) });
    expectBad(run(dir, ['--depth', odd]), /depth/, /10, 12|10x12/);
  });

  it('a model folder missing a component; LoRA keys that match nothing', async () => {
    const dir = caseDir('ok');
    const partial = path.join(fx.root, 'partial-model');
    fs.mkdirSync(partial, { recursive: true });
    fs.symlinkSync(path.join(fx.model, 'transformer'), path.join(partial, 'transformer'));
    expectBad(run(dir, ['--model', partial]), /vae\//, /Wan2\.1-I2V-14B-480P-Diffusers/);
    expectBad(run(dir, ['--model', path.join(fx.root, 'no-model')]), /--model/, /not found/);
    const badLora = path.join(fx.root, 'bad_lora.safetensors');
    const z = new Float32Array(4 * 128);
    await writeSafetensors(badLora, {
      'transformer.blocks.7.attn1.to_q.lora_A.weight': { dtype: 'F32', shape: [4, 128], data: z },
      'transformer.blocks.7.attn1.to_q.lora_B.weight': { dtype: 'F32', shape: [128, 4], data: z },
    });
    expectBad(run(dir, ['--lora', badLora]), /bad_lora\.safetensors/, /match no module/, /--lora-lenient/);
  });

  it('an output folder that is a file; bad options and embeddings', async () => {
    const dir = caseDir('ok');
    const file = path.join(fx.root, 'a-file');
    fs.writeFileSync(file, 'x');
    const r = run(dir, ['--out', file]);
    expect(r.code).toBe(2);
    expect(r.line).toMatch(/--out .*a-file: is a file/);
    expect(fs.readFileSync(file, 'utf8')).toBe('x');
    expectBad(run(dir, ['--size', '100']), /--size 100/);
    expectBad(run(dir, ['--frames', '10']), /--frames 10/, /1 \+ 4k/);
    const wrong = path.join(fx.root, 'wrong-embeds.safetensors');
    await writeSafetensors(wrong, { prompt_embeds: { dtype: 'F32', shape: [512, 7], data: new Float32Array(512 * 7) } });
    expectBad(run(dir, ['--prompt-embeds', wrong]), /prompt_embeds/, /\[512, 7\]/, /\[L, 64\]/);
    // No text encoder in the folder and no --prompt-embeds: says what to download or pass.
    const noEnc = path.join(fx.root, 'no-encoder-model');
    fs.mkdirSync(noEnc, { recursive: true });
    for (const p of ['transformer', 'vae']) fs.symlinkSync(path.join(fx.model, p), path.join(noEnc, p));
    expectBad(run(dir, ['--model', noEnc], ['--prompt-embeds']), /text_encoder\//, /--prompt-embeds/);
  });
}, 600_000);
