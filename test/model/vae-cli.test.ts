// `forward vae-encode | vae-decode` as a process: files in and out, exit codes, help text.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import { writeSafetensors } from '../../src/io/safetensors-writer.ts';
import { relL2 } from '../helpers/gpu.ts';

const NOISE = [/artificially reduced/, /XDG_RUNTIME_DIR/, /^MESA: warning/, /lavapipe is not a conformant/];
const tsx = createRequire(import.meta.url).resolve('tsx');

function forward(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', tsx, join(process.cwd(), 'test/model/helpers/vae-forward-main.ts'), 'forward', ...args], {
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
  });
  const stderr = r.stderr
    .split('\n')
    .filter((l) => l.trim() && !NOISE.some((n) => n.test(l)))
    .join('\n');
  return { code: r.status ?? -1, stdout: r.stdout, stderr };
}

async function readF32(path: string, name: string): Promise<{ data: Float32Array; shape: number[] }> {
  const f = await SafetensorsFile.open(path);
  try {
    const b = await f.read(name);
    return { data: new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4), shape: f.tensors.get(name)!.shape };
  } finally {
    await f.close();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'egox-vae-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const WEIGHTS = 'test/golden/vae/weights.safetensors';

describe('egox forward vae-decode / vae-encode', () => {
  it('decodes latents from a file to frames in a file', async () => {
    const latents = await readF32('test/golden/vae/cases.safetensors', 's16x16_f1.latents');
    const input = join(dir, 'latents.safetensors');
    const output = join(dir, 'frames.safetensors');
    await writeSafetensors(input, { latents: { dtype: 'F32', shape: latents.shape, data: latents.data } });
    const r = forward(['vae-decode', '--model', WEIGHTS, '--input', input, '--output', output]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const frames = await readF32(output, 'frames');
    const want = await readF32('test/golden/vae/cases.safetensors', 's16x16_f1.decoded');
    expect(frames.shape).toEqual(want.shape);
    expect(relL2(frames.data, want.data)).toBeLessThan(1e-4);
  });

  it('a missing input tensor is one line on stderr and exit code 2, no output file', async () => {
    const input = join(dir, 'wrong.safetensors');
    const output = join(dir, 'never.safetensors');
    await writeSafetensors(input, { video: { dtype: 'F32', shape: [3, 1, 8, 8], data: new Float32Array(192) } });
    const r = forward(['vae-encode', '--model', WEIGHTS, '--input', input, '--output', output]);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/no tensor 'frames'.*video/);
    await expect(SafetensorsFile.open(output)).rejects.toThrow();
  });

  it('--help documents the tensor names', () => {
    expect(forward(['vae-encode', '--help']).stdout).toMatch(/frames\s+\[3, F, H, W\][\s\S]*latents\s+\[16, 1 \+ k/);
    expect(forward(['vae-decode', '--help']).stdout).toMatch(/latents\s+\[16, T, h, w\][\s\S]*frames\s+\[3, 1 \+ 4\(T-1\)/);
  });
});
