// LoRA shapes are checked when the adapter is attached, from the headers: each bad file below
// (written by the test, minimal) is one input error naming the file, the tensor and the fix,
// before anything is read or uploaded, and leaves no file open.
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/io/safetensors-writer.ts';
import { LoraError } from '../../src/model/lora/formats.ts';
import { WanModel } from '../../src/model/wan/model.ts';
import { InputError } from '../../src/runtime/errors.ts';
import { egox } from '../helpers/cli.ts';
import { DIT_GOLDEN, loadDitCase } from './dit-golden.ts';

// The golden tiny I2V model: dim 48, so blocks.0.attn1.to_q is a Linear(48 -> 48) and
// blocks.0.ffn.net.0.proj a Linear(48 -> 128).
const WEIGHTS = `${DIT_GOLDEN}/i2v_square.weights.safetensors`;
const Q = 'transformer.blocks.0.attn1.to_q';
const dir = mkdtempSync(join(tmpdir(), 'egox-lora-shapes-'));

type Tensors = Record<string, { dtype: 'F32' | 'I32'; shape: number[] }>;

async function writeLora(name: string, tensors: Tensors): Promise<string> {
  const file = join(dir, `${name}.safetensors`);
  const full = Object.fromEntries(
    Object.entries(tensors).map(([k, t]) => {
      const n = t.shape.reduce((a, b) => a * b, 1);
      return [k, { ...t, data: t.dtype === 'F32' ? new Float32Array(n).fill(0.01) : new Int32Array(n) }];
    }),
  );
  await writeSafetensors(file, full);
  return file;
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

const pair = (module: string, a: number[], b: number[]): Tensors => ({
  [`${module}.lora_A.weight`]: { dtype: 'F32', shape: a },
  [`${module}.lora_B.weight`]: { dtype: 'F32', shape: b },
});

const CASES: [string, Tensors, RegExp][] = [
  ['wide A', pair(Q, [4, 64], [48, 4]), /'transformer\.blocks\.0\.attn1\.to_q\.lora_A\.weight' has 64 input features \(\[4, 64\]\) but 'blocks\.0\.attn1\.to_q' takes 48; .*adapter made for this model/],
  ['transposed A', pair(Q, [48, 4], [48, 4]), /to_q\.lora_A\.weight' has shape \[48, 4\], lora_A transposed; store it as \[rank, in_features\] = \[4, 48\]/],
  ['transposed B', pair('transformer.blocks.0.ffn.net.0.proj', [4, 48], [4, 128]), /net\.0\.proj\.lora_B\.weight' has shape \[4, 128\], lora_B transposed; store it as \[out_features, rank\] = \[128, 4\]/],
  ['mismatched ranks', pair(Q, [4, 48], [48, 8]), /to_q\.lora_B\.weight' has rank 8 but its lora_A .* has rank 4 .*must share the rank/],
  ['empty B', pair(Q, [4, 48], [0, 4]), /to_q\.lora_B\.weight' is empty \[0, 4\]; .*rank >= 1/],
  ['rank-0 pair', pair(Q, [0, 48], [48, 0]), /to_q\.lora_A\.weight' has rank 0 .*0 \/ 0; drop the pair/],
  ['B for another output size', pair('transformer.blocks.0.ffn.net.0.proj', [4, 48], [96, 4]), /net\.0\.proj\.lora_B\.weight' has 96 output features .* gives 128/],
  ['A not 2-D', pair(Q, [4, 48, 1], [48, 4]), /to_q\.lora_A\.weight' has shape \[4, 48, 1\]; .*2-D/],
  ['integer B', { ...pair(Q, [4, 48], [48, 4]), [`${Q}.lora_B.weight`]: { dtype: 'I32', shape: [48, 4] } }, /to_q\.lora_B\.weight' is I32; LoRA tensors must be F32, F16 or BF16/],
  ['alpha with two values', { ...pair('lora_unet_blocks_0_self_attn_q', [4, 48], [48, 4]), 'lora_unet_blocks_0_self_attn_q.alpha': { dtype: 'F32', shape: [2] } }, /'lora_unet_blocks_0_self_attn_q\.alpha' is F32 \[2\]; a LoRA alpha is one/],
  ['diff of another shape', { 'diffusion_model.blocks.0.self_attn.q.diff': { dtype: 'F32', shape: [48, 47] } }, /'diffusion_model\.blocks\.0\.self_attn\.q\.diff' has shape \[48, 47\] but the model's 'blocks\.0\.attn1\.to_q\.weight' is \[48, 48\]/],
];

describe('LoRA shapes checked at attach time', async () => {
  const c = await loadDitCase('i2v_square');
  for (const [name, tensors, message] of CASES) {
    it(`${name}: one-line input error naming the file, the tensor and the fix; no file left open`, async () => {
      const file = await writeLora(name.replaceAll(' ', '_'), tensors);
      const before = openFds();
      const err = await WanModel.open(WEIGHTS, { config: c.config, lora: { file } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(LoraError);
      expect(err).toBeInstanceOf(InputError);
      const msg = (err as Error).message;
      expect(msg.startsWith(`${file}: tensor '`), msg).toBe(true);
      expect(msg).toMatch(message);
      expect(msg).not.toContain('\n');
      expect((err as InputError).exitCode).toBe(2);
      expect(openFds()).toBe(before);
    });
  }

  it('the run-time form is refused the same way (shapes are checked before either form is built)', async () => {
    const file = await writeLora('fused_transposed', pair(Q, [48, 4], [48, 4]));
    await expect(WanModel.open(WEIGHTS, { config: c.config, lora: { file, mode: 'fused' } })).rejects.toThrow(/lora_A transposed/);
  });

  it('keys that match no module close the file too', async () => {
    const file = await writeLora('unmatched', pair('transformer.blocks.9.attn1.to_q', [4, 48], [48, 4]));
    const before = openFds();
    await expect(WanModel.open(WEIGHTS, { config: c.config, lora: { file } })).rejects.toThrow(/match no module/);
    expect(openFds()).toBe(before);
  });

  it('a good adapter opens, and closing the model closes both files', async () => {
    const file = await writeLora('good', { ...pair(Q, [4, 48], [48, 4]), [`${Q}.alpha`]: { dtype: 'F32', shape: [] } });
    const before = openFds();
    const model = await WanModel.open(WEIGHTS, { config: c.config, lora: { file, strength: 0.5 } });
    expect(model.lora!.mode).toBe('merge');
    expect([...model.lora!.weightTransforms.keys()]).toEqual(['blocks.0.attn1.to_q.weight']);
    expect(model.lora!.runtimeLora.size).toBe(0);
    await model.close();
    expect(openFds()).toBe(before);
  });

  it('egox forward dit exits 2 with the one line, before any device work', async () => {
    const file = await writeLora('cli_ranks', pair(Q, [4, 48], [48, 8]));
    const r = egox(['forward', 'dit', '--model', WEIGHTS, '--input', `${DIT_GOLDEN}/i2v_square.io.safetensors`, '--output', join(dir, 'out.safetensors'), '--lora', file]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/cli_ranks\.safetensors: tensor 'transformer\.blocks\.0\.attn1\.to_q\.lora_B\.weight' has rank 8/);
  });
});
