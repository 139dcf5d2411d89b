// `egox generate` with networks given as their own quantized files, as users of ComfyUI's single
// files and the community GGUFs run it: --transformer dit.gguf --vae vae.gguf --text-encoder
// umt5.gguf (Q8_0 where rows are whole blocks; the tokenizer, CLIP and scheduler from --model).
// Every frame equals, byte for byte, a run given the dequantized twins of the same files as
// safetensors: the quantized paths change nothing but the storage. (No LoRA here: on quantized
// weights it runs beside the matmul, on the twin's f32 weights it is merged, which rounds
// differently; test/model/lora-stack.test.ts covers adapters on quantized weights.)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { egox } from '../helpers/cli.ts';
import { makeGenerateFixture, SHARED_META, SOCCER, type GenerateFixture } from '../helpers/generate-fixture.ts';
import { umt5GgufName } from '../../src/model/umt5/names.ts';
import { readNetwork, writeGgufTwin } from '../model/quantized-twins.ts';

let fx: GenerateFixture;
beforeAll(async () => {
  fx = await makeGenerateFixture('egox-single-files-');
}, 120_000);
afterAll(() => fx?.cleanup());

const LINEAR = /(attn\d?\.to_(q|k|v|out\.0)|add_[kv]_proj|ffn\.net\.(0\.proj|2)|proj_out|linear_\d|SelfAttention\.[qkvo]|DenseReluDense\.(wi_0|wi_1|wo)|^shared)\.weight$/;

/** Each network of the demo folder as a GGUF file and its dequantized-F32 twin. */
async function writeFiles(): Promise<{ gguf: Record<string, string>; twin: Record<string, string>; types: Record<string, Record<string, number>> }> {
  const parts = {
    transformer: { file: 'transformer/diffusion_pytorch_model.safetensors', quantize: (n: string, s: number[]) => (s.length === 2 && LINEAR.test(n) ? ('rows' as const) : undefined), rename: undefined },
    vae: { file: 'vae/diffusion_pytorch_model.safetensors', quantize: (_: string, s: number[]) => (s.length >= 4 ? ('flat' as const) : undefined), rename: undefined },
    'text-encoder': { file: 'text_encoder/model.safetensors', quantize: (n: string) => (LINEAR.test(n) ? ('rows' as const) : undefined), rename: umt5GgufName },
  };
  const gguf: Record<string, string> = {};
  const twin: Record<string, string> = {};
  const types: Record<string, Record<string, number>> = {};
  for (const [flag, p] of Object.entries(parts)) {
    gguf[flag] = path.join(fx.root, `${flag}.gguf`);
    twin[flag] = path.join(fx.root, `${flag}-twin.safetensors`);
    const net = await readNetwork(path.join(fx.model, p.file));
    types[flag] = (await writeGgufTwin(net, ['Q8_0'], { quantize: p.quantize, rename: p.rename }, { gguf: gguf[flag]!, twin: twin[flag]! })).types;
  }
  return { gguf, twin, types };
}

function generate(files: Record<string, string>, out: string): void {
  const overrides = Object.entries(files).flatMap(([flag, file]) => [`--${flag}`, file]);
  const r = egox(
    ['generate', '--meta', SHARED_META, '--take', SOCCER, '--model', fx.model, ...overrides, '--out', out,
      '--size', '64', '--frames', '5', '--steps', '2', '--weight-dtype', 'f32', '--prompt', 'a player kicks a ball', '--png', '--quiet'],
    { timeoutMs: 600_000 },
  );
  expect(r.code, r.stderr).toBe(0);
}

describe('egox generate with quantized single files', () => {
  it('--transformer/--vae/--text-encoder as Q8_0 GGUF files: the frames of the dequantized twins, byte for byte', { timeout: 1_200_000 }, async () => {
    const { gguf, twin, types } = await writeFiles();
    for (const flag of Object.keys(types)) expect(types[flag]!.Q8_0 ?? 0, flag).toBeGreaterThan(0);
    const a = path.join(fx.root, 'gguf-out');
    const b = path.join(fx.root, 'twin-out');
    generate(gguf, a);
    generate(twin, b);
    const pngs = fs.readdirSync(path.join(a, 'png')).sort();
    expect(pngs.length).toBeGreaterThan(0);
    expect(fs.readdirSync(path.join(b, 'png')).sort()).toEqual(pngs);
    for (const f of pngs) expect(fs.readFileSync(path.join(a, 'png', f)).equals(fs.readFileSync(path.join(b, 'png', f))), f).toBe(true);
    console.log(`generate from GGUF single files: ${pngs.length} frames identical to the dequantized twins; tensors per type ${JSON.stringify(types)}`);
  });
});
