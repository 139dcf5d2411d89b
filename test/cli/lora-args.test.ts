// `--lora FILE[:STRENGTH]`, repeatable: the strength after the last colon when it is a number.
import { describe, expect, it } from 'vitest';
import { collect, parseLoraArgs } from '../../src/cli/parse.ts';
import { egox } from '../helpers/cli.ts';

describe('--lora FILE[:STRENGTH]', () => {
  it('splits the strength off, keeps colons that are part of the path, defaults the rest', () => {
    expect(parseLoraArgs(['egox.safetensors', 'lightx2v.safetensors:0.5', 'C:/w/x.safetensors', 'odd:name.safetensors:-1e-1'], 0.8)).toEqual([
      { file: 'egox.safetensors', strength: 0.8 },
      { file: 'lightx2v.safetensors', strength: 0.5 },
      { file: 'C:/w/x.safetensors', strength: 0.8 },
      { file: 'odd:name.safetensors', strength: -0.1 },
    ]);
    expect(collect('b', collect('a'))).toEqual(['a', 'b']);
  });

  it('egox forward dit stacks two adapters (the same one at 0.8 and 0.5 equals it once at 1.3)', { timeout: 600_000 }, async () => {
    const { mkdtempSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { readF32Tensors, DIT_GOLDEN } = await import('../model/dit-golden.ts');
    const { relL2 } = await import('../helpers/gpu.ts');
    const dir = mkdtempSync(join(tmpdir(), 'egox-lora-args-'));
    const common = ['forward', 'dit', '--model', 'test/golden/layouts/original', '--input', `${DIT_GOLDEN}/i2v_square.io.safetensors`];
    const adapter = `${DIT_GOLDEN}/lora_peft.safetensors`;
    const a = egox([...common, '--output', join(dir, 'a.safetensors'), '--lora', `${adapter}:0.8`, '--lora', `${adapter}:0.5`], { timeoutMs: 600_000 });
    expect(a.code, a.stderr).toBe(0);
    const b = egox([...common, '--output', join(dir, 'b.safetensors'), '--lora', adapter, '--lora-strength', '1.3'], { timeoutMs: 600_000 });
    expect(b.code, b.stderr).toBe(0);
    const outA = (await readF32Tensors(join(dir, 'a.safetensors'))).get('out')!.data;
    const outB = (await readF32Tensors(join(dir, 'b.safetensors'))).get('out')!.data;
    expect(relL2(outA, outB)).toBeLessThanOrEqual(1e-5);
    const missing = egox([...common, '--output', join(dir, 'c.safetensors'), '--lora', join(dir, 'nope.safetensors:0.5')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/nope\.safetensors/);
  });
});
