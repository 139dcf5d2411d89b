// PyTorch checkpoints written by torch.save (torch 1.13, test/reference/torch_checkpoints.py)
// against the expected values it also wrote as safetensors, bit for bit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PytorchCheckpoint } from '../../../src/io/pytorch/index.ts';
import { SafetensorsFile } from '../../../src/io/safetensors.ts';
import { formatInspectReport, inspectCheckpoint } from '../../../src/io/inspect.ts';
import { floatTensor, op, pickle, storedZip, torchZip } from './pickle-bytes.ts';

const GOLDEN = 'test/golden/io';
let expected: SafetensorsFile;
beforeAll(async () => { expected = await SafetensorsFile.open(path.join(GOLDEN, 'torch-expected.safetensors')); });
afterAll(async () => { await expected.close(); });

const STATE_DICT = ['enc.w_f32', 'enc.w_f16', 'enc.w_bf16', 'enc.w_f64', 'enc.steps_i64', 'enc.mask_bool', 'enc.scalar',
  'enc.w_transposed', 'dec.a', 'dec.b', 'dec.c', 'dec.empty', 'perm.bf16', 'perm.f64', 'perm.bool', 'perm.expanded'];

async function expectSameAsGolden(ckpt: PytorchCheckpoint, names: string[]): Promise<void> {
  expect([...ckpt.tensors.keys()]).toEqual(names);
  for (const name of names) {
    const want = expected.info(name);
    const got = ckpt.tensors.get(name)!;
    expect([name, got.dtype, got.shape, got.byteLength]).toEqual([name, want.dtype, want.shape, want.byteLength]);
    expect(await ckpt.read(name), name).toEqual(await expected.read(name));
  }
}

describe.each([['torch-zip.pt', 'zip'], ['torch-legacy.pt', 'legacy']])('%s', (file, layout) => {
  let ckpt: PytorchCheckpoint;
  beforeAll(async () => { ckpt = await PytorchCheckpoint.open(path.join(GOLDEN, file)); });
  afterAll(async () => { await ckpt.close(); });

  it('reads every tensor bit for bit (f32, f16, bf16, f64, i64, bool, scalar, empty, parameter)', async () => {
    expect(ckpt.layout).toBe(layout);
    expect(ckpt.stateDictPath).toEqual(['model']);
    await expectSameAsGolden(ckpt, STATE_DICT);
  });

  it('gathers non-contiguous and shared-storage views, also by range and in chunks', async () => {
    for (const name of ['enc.w_transposed', 'dec.a', 'dec.b', 'perm.bf16', 'perm.f64']) {
      const want = await expected.read(name);
      expect(await ckpt.readRange(name, 4, want.length - 8), name).toEqual(want.slice(4, -4));
      const pieces: Uint8Array[] = [];
      for await (const c of ckpt.chunks(name, 12)) pieces.push(c);
      expect(pieces.every((p, i) => p.length === (i < pieces.length - 1 ? 12 : want.length - 12 * i))).toBe(true);
      expect(Buffer.concat(pieces)).toEqual(Buffer.from(want));
    }
    await expect(ckpt.readRange('dec.a', 40, 16)).rejects.toThrow(RangeError);
  });

  it('gives the other entries as JSON-like values', () => {
    const want = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'torch-expected.json'), 'utf8'));
    expect(ckpt.entries).toEqual(want);
  });
});

describe('nested containers with no state-dict key', () => {
  it('names tensors by their path and keeps the other entries', async () => {
    const ckpt = await PytorchCheckpoint.open(path.join(GOLDEN, 'torch-nested.pth'));
    try {
      expect(ckpt.stateDictPath).toEqual([]);
      await expectSameAsGolden(ckpt, ['a.b', 'c.0', 'c.1.0']);
      expect(ckpt.entries).toEqual({ n: 7 });
    } finally {
      await ckpt.close();
    }
  });
});

describe('inspect of a .pt file', () => {
  it('lists tensors and the non-tensor entries', async () => {
    const r = await inspectCheckpoint(path.join(GOLDEN, 'torch-zip.pt'));
    expect(r.kind).toBe('pytorch');
    expect(r.totals.count).toBe(STATE_DICT.length);
    expect(r.tensors.find((t) => t.name === 'enc.w_bf16')).toMatchObject({ dtype: 'BF16', shape: [2, 3, 4], bytes: 48 });
    expect(r.entries.model_config).toMatchObject({ name: 'tiny', layers: [4, 5, 11] });
    const text = formatInspectReport(r);
    expect(text).toMatch(/^enc\.w_transposed\s+F32\s+\[7, 5\]/m);
    expect(text).toContain('  model_config: {"name":"tiny","width":8,');
    expect(text).toContain('state_dict: model');
  });
});

describe("a module's state_dict() saved bare (the Wan2.1 release's layout)", () => {
  it('reads the OrderedDict with _metadata, bf16 weights and the int64 counter', async () => {
    const ckpt = await PytorchCheckpoint.open(path.join(GOLDEN, 'torch-module.pth'));
    try {
      const names = ['0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked'];
      expect([...ckpt.tensors.keys()]).toEqual(names);
      expect(ckpt.entries).toEqual({});
      for (const n of names) {
        const want = expected.info(`module:${n}`);
        expect([ckpt.tensors.get(n)!.dtype, ckpt.tensors.get(n)!.shape]).toEqual([want.dtype, want.shape]);
        expect(await ckpt.read(n), n).toEqual(await expected.read(`module:${n}`));
      }
    } finally {
      await ckpt.close();
    }
  });
});

describe('archives torch writes past 4 GiB and with torch 2 entries', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-pt64-'));
  afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });
  const values = Float32Array.from([1.5, -2, 3.25, 1e-3, 7, -0.5]);
  const pkl = pickle(op.proto(), op.emptyDict, op.str('w'), floatTensor('0', 6, 0, [3, 2], [1, 3]), op.setitem, op.stop);
  const bytes = new Uint8Array(values.buffer);

  it('reads sizes and offsets from ZIP64 extra fields and the ZIP64 end record', async () => {
    const file = path.join(dir, 'z64.pt');
    fs.writeFileSync(file, torchZip(pkl, { 0: bytes }, true));
    const ckpt = await PytorchCheckpoint.open(file);
    try {
      expect(ckpt.tensors.get('w')).toMatchObject({ dtype: 'F32', shape: [3, 2], byteLength: 24 });
      expect(Array.from(new Float32Array((await ckpt.read('w')).buffer))).toEqual([1.5, 1e-3, -2, 7, 3.25, -0.5].map(Math.fround));
    } finally {
      await ckpt.close();
    }
  });
  it('accepts byteorder little and refuses big', async () => {
    for (const order of ['little', 'big']) {
      const file = path.join(dir, `${order}.pt`);
      fs.writeFileSync(file, storedZip([
        { name: 'archive/data.pkl', data: pkl }, { name: 'archive/byteorder', data: new TextEncoder().encode(order) },
        { name: 'archive/data/0', data: bytes },
      ]));
      const opened = PytorchCheckpoint.open(file).then((c) => c.close());
      if (order === 'little') await opened;
      else await expect(opened).rejects.toThrow(/byte order 'big'/);
    }
  });
});
