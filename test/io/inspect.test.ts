import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatInspectReport, inspectCheckpoint } from '../../src/io/inspect.ts';
import { writeSafetensors } from '../../src/io/safetensors-writer.ts';
import { FileFormatError } from '../../src/io/format-error.ts';

let dir = '';
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-inspect-')); });
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

describe('inspectCheckpoint', () => {
  it('lists tensors and totals of a single file', async () => {
    const f = path.join(dir, 'm.safetensors');
    await writeSafetensors(f, {
      'w.big': { dtype: 'BF16', shape: [1024, 1024], data: new Uint16Array(1024 * 1024) },
      'a.bias': { dtype: 'F32', shape: [3], data: new Float32Array(3) },
      'a.mask': { dtype: 'BOOL', shape: [2, 2], data: new Uint8Array(4) },
    }, { format: 'pt' });
    const r = await inspectCheckpoint(f);
    expect(r.kind).toBe('file');
    expect(r.tensors.map((t) => [t.name, t.dtype, t.shape, t.bytes, t.file])).toEqual([
      ['a.bias', 'F32', [3], 12, f],
      ['a.mask', 'BOOL', [2, 2], 4, f],
      ['w.big', 'BF16', [1024, 1024], 2 * 1024 * 1024, f],
    ]);
    expect(r.totals).toEqual({ count: 3, bytes: 2 * 1024 * 1024 + 16, bytesByDtype: { BF16: 2 * 1024 * 1024, F32: 12, BOOL: 4 }, files: [f] });
    expect(r.metadata).toEqual({ format: 'pt' });

    const text = formatInspectReport(r);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^name\s+dtype\s+shape\s+MiB$/);
    expect(lines).toContainEqual(expect.stringMatching(/^w\.big\s+BF16\s+\[1024, 1024\]\s+2\.0$/));
    expect(lines).toContainEqual(expect.stringMatching(/^a\.bias\s+F32\s+\[3\]\s+0\.000$/));
    expect(text).toContain('3 tensors, 2.0 MiB in 1 file');
    expect(text).toMatch(/BF16 +2\.0 MiB/);
    expect(text).toContain('format: pt');
  });

  it('covers every shard of a folder and names the file column', async () => {
    const sub = path.join(dir, 'sharded');
    fs.mkdirSync(sub);
    await writeSafetensors(path.join(sub, 's1.safetensors'), { x: { dtype: 'F16', shape: [4], data: new Uint16Array(4) } });
    await writeSafetensors(path.join(sub, 's2.safetensors'), { y: { dtype: 'I64', shape: [2], data: new BigInt64Array(2) } });
    fs.writeFileSync(path.join(sub, 'm.safetensors.index.json'),
      JSON.stringify({ weight_map: { x: 's1.safetensors', y: 's2.safetensors' } }));
    const r = await inspectCheckpoint(sub);
    expect(r.totals.count).toBe(2);
    expect(r.totals.bytes).toBe(24);
    expect(r.totals.files.map((p) => path.basename(p)).sort()).toEqual(['s1.safetensors', 's2.safetensors']);
    const text = formatInspectReport(r);
    expect(text.split('\n')[0]).toMatch(/MiB\s+file$/);
    expect(text).toMatch(/^y\s+I64\s+\[2\]\s+0\.000\s+s2\.safetensors$/m);
  });

  it('passes format errors through', async () => {
    const f = path.join(dir, 'bad.safetensors');
    fs.writeFileSync(f, 'xyz');
    await expect(inspectCheckpoint(f)).rejects.toBeInstanceOf(FileFormatError);
  });
});
