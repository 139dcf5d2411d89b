// `egox forward umt5 | vae-decode --model X.gguf`: the process loads the GGUF file and writes
// exactly what the library gives for it; the tokenizer of a GGUF text encoder comes from beside
// the file (or a one-line error says where it looked); a corrupt GGUF is one line, exit code 2,
// no output.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { egox } from '../helpers/cli.ts';
import { relL2, useDevice } from '../helpers/gpu.ts';
import { readGoldenF32 } from '../helpers/golden.ts';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import { writeSafetensors } from '../../src/io/safetensors-writer.ts';
import { Umt5Encoder } from '../../src/model/umt5/index.ts';
import { UnigramTokenizer } from '../../src/model/text/tokenizer.ts';
import { umt5GgufName } from '../../src/model/umt5/names.ts';
import { WanVae, type HostTensor } from '../../src/model/vae/vae.ts';
import { readNetwork, writeGgufTwin } from '../model/quantized-twins.ts';

const TOKENIZER = 'test/golden/tokenizer/unigram_a.tokenizer.json';
const device = useDevice();
const tmp = mkdtempSync(join(tmpdir(), 'egox-fwd-gguf-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function readF32(path: string, name: string): Promise<Float32Array> {
  const f = await SafetensorsFile.open(path);
  try {
    const b = await f.read(name);
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  } finally {
    await f.close();
  }
}

function expectOneLineExit2(r: { code: number; stderr: string }, fragment: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(fragment);
}

describe('egox forward with GGUF files', () => {
  const umt5Dir = join(tmp, 'umt5');
  const umt5 = join(umt5Dir, 'umt5-q8_0.gguf');
  const ready = (async () => {
    mkdirSync(umt5Dir);
    const matmul = /(SelfAttention\.[qkvo]|DenseReluDense\.(wi_0|wi_1|wo)|^shared)\.weight$/;
    await writeGgufTwin(await readNetwork('test/golden/umt5/weights.safetensors'), ['Q8_0'], { rename: umt5GgufName, quantize: (n) => (matmul.test(n) ? 'rows' : undefined), f16Rest: true }, { gguf: umt5, twin: join(tmp, 'umt5-twin.safetensors') });
  })();

  it('forward umt5 --model X.gguf --ids: exit 0, the library output', { timeout: 300_000 }, async () => {
    await ready;
    const ids = Int32Array.from({ length: 24 }, (_, i) => (i < 17 ? (i * 41 + 2) % 300 : 0));
    const idsFile = join(tmp, 'ids.safetensors');
    await writeSafetensors(idsFile, {
      input_ids: { dtype: 'I32', shape: [24], data: ids },
      attention_mask: { dtype: 'I32', shape: [24], data: Int32Array.from(ids, (_, i) => (i < 17 ? 1 : 0)) },
    });
    const out = join(tmp, 'umt5-out.safetensors');
    const r = egox(['forward', 'umt5', '--model', umt5, '--ids', idsFile, '--output', out], { timeoutMs: 300_000 });
    expect(r.code, r.stderr).toBe(0);
    const enc = await Umt5Encoder.open(await device(), umt5, { length: 24 });
    try {
      const want = await enc.encodeIds(ids, 17, true);
      expect(relL2(await readF32(out, 'last_hidden_state'), want)).toBeLessThanOrEqual(1e-6);
    } finally {
      await enc.close();
    }
  });

  it('forward umt5 --model X.gguf --prompt: the tokenizer beside the file, else a one-line error', { timeout: 300_000 }, async () => {
    await ready;
    // words whose pieces fall inside the golden 300-id vocabulary
    const tok = UnigramTokenizer.fromJsonText(readFileSync(TOKENIZER, 'utf8'), TOKENIZER);
    const prompt = ['a', 'the', 'of', 'and', 'to', 'in', 'is', 'on', 'at', 'it'].filter((w) => tok.tokenize(w).every((id) => id < 300)).slice(0, 2).join(' ');
    expect(prompt.split(' ').length).toBe(2);
    expectOneLineExit2(egox(['forward', 'umt5', '--model', umt5, '--prompt', prompt, '--max-length', '16', '--output', join(tmp, 'never.safetensors')]), /no tokenizer\.json found/);
    expect(existsSync(join(tmp, 'never.safetensors'))).toBe(false);
    copyFileSync(TOKENIZER, join(umt5Dir, 'tokenizer.json'));
    const out = join(tmp, 'prompt-out.safetensors');
    const r = egox(['forward', 'umt5', '--model', umt5, '--prompt', prompt, '--max-length', '16', '--output', out], { timeoutMs: 300_000 });
    expect(r.code, r.stderr).toBe(0);
    expect((await readF32(out, 'prompt_embeds')).length).toBe(16 * 32);
  });

  it('forward vae-decode --model X.gguf: exit 0, the library output', { timeout: 300_000 }, async () => {
    const gguf = join(tmp, 'vae-q8_0.gguf');
    await writeGgufTwin(await readNetwork('test/golden/vae/weights.safetensors'), ['Q8_0'], { quantize: (_, shape) => (shape.length >= 4 ? 'flat' : undefined) }, { gguf, twin: join(tmp, 'vae-twin.safetensors') });
    const golden = await readGoldenF32('test/golden/vae/cases.safetensors');
    const latents = golden.get('s16x16_f1.latents')!;
    const input = join(tmp, 'latents.safetensors');
    await writeSafetensors(input, { latents: { dtype: 'F32', shape: latents.shape, data: latents.data } });
    const out = join(tmp, 'frames.safetensors');
    const r = egox(['forward', 'vae-decode', '--model', gguf, '--input', input, '--output', out], { timeoutMs: 300_000 });
    expect(r.code, r.stderr).toBe(0);
    const vae = await WanVae.load(await device(), gguf);
    try {
      const want = await vae.decode({ data: latents.data, shape: latents.shape as HostTensor['shape'] });
      expect(relL2(await readF32(out, 'frames'), want.data)).toBeLessThanOrEqual(1e-6);
    } finally {
      await vae.close();
    }
  });

  it('a truncated GGUF given to forward umt5: one line, exit 2, no output', { timeout: 300_000 }, async () => {
    await ready;
    const bytes = readFileSync(umt5);
    const bad = join(tmp, 'truncated.gguf');
    writeFileSync(bad, bytes.subarray(0, bytes.length - 100));
    const out = join(tmp, 'never2.safetensors');
    expectOneLineExit2(egox(['forward', 'umt5', '--model', bad, '--prompt', 'a', '--output', out]), /truncated\.gguf.*(truncated|past the end)/);
    expect(existsSync(out)).toBe(false);
  });
});
