import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { egox } from '../helpers/cli.ts';
import { writeSafetensors } from '../../src/io/safetensors-writer.ts';
import { op, pickle, torchZip, tupleOf } from '../io/pytorch/pickle-bytes.ts';

describe('egox info', () => {
  it('--json parses and names the adapter', () => {
    const r = egox(['info', '--json']);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(typeof info.adapter.description).toBe('string');
    expect(info.adapter.description.length + info.adapter.device.length).toBeGreaterThan(0);
    expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(Array.isArray(info.features)).toBe(true);
    expect(r.stderr).not.toMatch(/artificially reduced/); // Dawn's noise is filtered
  });
  it('no adapter at all: one line saying what to install, exit code 2', () => {
    if (process.platform !== 'linux') return; // the Vulkan loader variable below is Linux's
    const r = egox(['info'], { env: { VK_ICD_FILENAMES: '/nonexistent-icd.json', VK_DRIVER_FILES: '/nonexistent-icd.json', EGOX_BACKEND: 'vulkan' } });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/mesa-vulkan-drivers/);
  });
  it('an unknown backend is a one-line error with exit code 2', () => {
    const r = egox(['info', '--backend', 'nosuch']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/unknown backend 'nosuch'/);
  });
});

describe('egox inspect', () => {
  const dir = mkdtempSync(join(tmpdir(), 'egox-cli-'));
  it('lists a good file (exit 0)', async () => {
    const file = join(dir, 'good.safetensors');
    await writeSafetensors(file, {
      'blocks.0.attn1.to_q.weight': { dtype: 'F32', shape: [4, 3], data: new Float32Array(12) },
      'blocks.0.norm2.bias': { dtype: 'BF16', shape: [4], data: new Uint16Array(4) },
    });
    const r = egox(['inspect', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/blocks\.0\.attn1\.to_q\.weight\s+F32\s+\[4, 3\]/);
    const j = JSON.parse(egox(['inspect', file, '--json']).stdout);
    expect(j.totals.count).toBe(2);
    expect(j.totals.bytes).toBe(48 + 8);
  });
  it('rejects a bad file with one line and exit 2', () => {
    const file = join(dir, 'bad.safetensors');
    const header = Buffer.from('{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,64]}}');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(file, Buffer.concat([len, header, Buffer.alloc(16)]));
    const r = egox(['inspect', file]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/bad\.safetensors/);
  });
  it('lists a torch.save checkpoint with its model_config (exit 0)', () => {
    const r = egox(['inspect', 'test/golden/io/torch-legacy.pt']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^enc\.w_bf16\s+BF16\s+\[2, 3, 4\]/m);
    expect(r.stdout).toMatch(/^ {2}model_config: \{"name":"tiny"/m);
    const j = JSON.parse(egox(['inspect', 'test/golden/io/torch-zip.pt', '--json']).stdout);
    expect(j.kind).toBe('pytorch');
    expect(j.entries.model_config.layers).toEqual([4, 5, 11]);
  });
  it('refuses a pickle that calls os.system: one line, exit 2, nothing run', () => {
    const marker = join(dir, 'pwned');
    const file = join(dir, 'evil.pth');
    writeFileSync(file, torchZip(pickle(op.proto(), op.global('os', 'system'), tupleOf(op.str(`touch ${marker}`)), op.reduce, op.stop)));
    const r = egox(['inspect', file]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/evil\.pth: .*refused global 'os\.system'/);
    expect(existsSync(marker)).toBe(false);
  });
  it('a missing file is exit 2', () => {
    const r = egox(['inspect', join(dir, 'nope.safetensors')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('egox plan (dry run, no GPU)', () => {
  it('plans the 14B EgoX run within 24 GiB with weights streamed', () => {
    const r = egox(['plan', '--gpu-memory', '24GiB', '--json']);
    expect(r.code).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(p.latentShape).toEqual([36, 13, 56, 154]);
    expect(p.tokens).toBe(28028);
    expect(p.streaming).toBe(true);
    expect(p.peakBytes).toBeLessThan(24 * 2 ** 30);
    expect(p.weightBytes).toBeGreaterThan(28e9); // bf16 weights of the 14B I2V model
    expect(p.flopsPerForward).toBeGreaterThan(1.2e15);
    expect(p.flopsPerRun).toBe(p.flopsPerForward * 100);
    for (const k of ['activationBytes', 'flopsPerRun']) expect(typeof p[k]).toBe('number');
    expect(p.vae.map((v: { name: string }) => v.name)).toEqual(['ego', 'exo']);
  });
  it('rejects a frame count that is not 1 + 4k', () => {
    const r = egox(['plan', '--frames', '48']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
  it('names the option when the weight dtype is unknown', () => {
    const r = egox(['plan', '--weight-dtype', 'fp8']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--weight-dtype 'fp8': use f32, bf16 or f16/);
  });
});
