import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { egox } from '../helpers/cli.ts';
import { relL2 } from '../helpers/gpu.ts';
import { loadDitCase, DIT_GOLDEN, readF32Tensors } from '../model/dit-golden.ts';

describe('egox forward dit', () => {
  it('runs a diffusers model folder on tensors from a file and matches the reference', { timeout: 600_000 }, async () => {
    const c = await loadDitCase('i2v_egox_gga');
    const dir = mkdtempSync(join(tmpdir(), 'egox-fwd-'));
    const model = join(dir, 'model', 'transformer');
    mkdirSync(model, { recursive: true });
    copyFileSync(`${DIT_GOLDEN}/${c.json.weights}`, join(model, 'diffusion_pytorch_model.safetensors'));
    writeFileSync(
      join(model, 'config.json'),
      JSON.stringify({
        _class_name: 'WanTransformer3DModel', num_attention_heads: c.config.numHeads, attention_head_dim: c.config.headDim, ffn_dim: c.config.ffnDim,
        num_layers: c.config.numLayers, in_channels: c.config.inDim, out_channels: c.config.outDim, text_dim: c.config.textDim, image_dim: c.config.imageDim,
        freq_dim: 256, eps: 1e-6, patch_size: [1, 2, 2],
      }),
    );
    const out = join(dir, 'out.safetensors');
    const r = egox(['forward', 'dit', '--model', join(dir, 'model'), '--input', `${DIT_GOLDEN}/${c.json.io}`, '--output', out, '--gga-lambda', '3', '--ego-cols', String(c.json.egoCols)], { timeoutMs: 600_000 });
    expect(r.code, r.stderr).toBe(0);
    const got = (await readF32Tensors(out)).get('out')!;
    expect(relL2(got.data, c.io.get('out')!.data)).toBeLessThan(1e-4);

    const bad = egox(['forward', 'dit', '--model', join(dir, 'model'), '--input', `${DIT_GOLDEN}/${c.json.weights}`, '--output', join(dir, 'bad.safetensors')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/tensor 'x' missing/);
    expect(existsSync(join(dir, 'bad.safetensors'))).toBe(false);
  });

  it('runs the original Wan2.1 release folder (config.json with dim/num_heads, sharded weights)', { timeout: 600_000 }, async () => {
    const c = await loadDitCase('i2v_square');
    const dir = mkdtempSync(join(tmpdir(), 'egox-fwd-orig-'));
    const out = join(dir, 'out.safetensors');
    const r = egox(['forward', 'dit', '--model', 'test/golden/layouts/original', '--input', `${DIT_GOLDEN}/${c.json.io}`, '--output', out], { timeoutMs: 600_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(relL2((await readF32Tensors(out)).get('out')!.data, c.io.get('out')!.data)).toBeLessThan(1e-4);
  });

  it('--help says the adapter is merged at load by default and how to get the run-time form', () => {
    const r = egox(['forward', 'dit', '--help']);
    expect(r.code).toBe(0);
    const help = r.stdout.replace(/\s+/g, ' ');
    expect(help).toMatch(/--lora <file\[:strength\]> .*merged into the weights at load unless --lora-mode fused/);
    expect(help).toMatch(/--lora-mode <mode> .*merge \(the default: .*fused \(a low-rank GEMM beside each adapted matmul at run time\)/);
    expect(help).not.toMatch(/applied fused at run time/);
  });
});
