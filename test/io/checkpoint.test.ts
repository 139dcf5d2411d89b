import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Checkpoint } from '../../src/io/checkpoint.ts';
import { writeSafetensors, type TensorToWrite } from '../../src/io/safetensors-writer.ts';
import { FileFormatError } from '../../src/io/format-error.ts';

let root = '';
beforeAll(() => { root = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-ckpt-')); });
afterAll(() => { fs.rmSync(root, { recursive: true, force: true }); });

function f32(n: number, start: number): TensorToWrite {
  return { dtype: 'F32', shape: [n], data: Float32Array.from({ length: n }, (_, i) => start + i) };
}

/** Three shards the way Hugging Face saves them, plus the index. Returns the folder. */
async function makeSharded(name: string, opts: { extraIndexEntry?: [string, string] } = {}): Promise<string> {
  const dir = path.join(root, name);
  fs.mkdirSync(dir);
  const shards: Record<string, Record<string, TensorToWrite>> = {
    'model-00001-of-00003.safetensors': { 'blocks.0.w': f32(10, 0), 'embed.w': f32(6, 100) },
    'model-00002-of-00003.safetensors': { 'blocks.1.w': f32(10, 10) },
    'model-00003-of-00003.safetensors': { 'blocks.2.w': f32(10, 20), 'head.b': { dtype: 'BF16', shape: [2], data: Uint16Array.from([0x3f80, 0x4000]) } },
  };
  const weightMap: Record<string, string> = {};
  let total = 0;
  for (const [file, tensors] of Object.entries(shards)) {
    await writeSafetensors(path.join(dir, file), tensors, { format: 'pt' });
    for (const [t, v] of Object.entries(tensors)) { weightMap[t] = file; total += v.data.byteLength; }
  }
  if (opts.extraIndexEntry) weightMap[opts.extraIndexEntry[0]] = opts.extraIndexEntry[1];
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
  return dir;
}

/** Open file descriptors of this process (Linux), to check failures close what they opened. */
function openFds(): number | undefined {
  return fs.existsSync('/proc/self/fd') ? fs.readdirSync('/proc/self/fd').length : undefined;
}

async function expectFormatError(p: Promise<unknown>, fragment: RegExp): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(FileFormatError);
  expect((err as FileFormatError).exitCode).toBe(2);
  expect((err as FileFormatError).message).not.toContain('\n');
  expect((err as FileFormatError).message).toMatch(fragment);
}

describe('Checkpoint', () => {
  it('reads a sharded folder through its index.json, and the index.json itself', async () => {
    const dir = await makeSharded('sharded');
    for (const [p, kind] of [[dir, 'folder'], [path.join(dir, 'model.safetensors.index.json'), 'index']] as const) {
      const ck = await Checkpoint.open(p);
      try {
        expect(ck.kind).toBe(kind);
        expect(ck.files.length).toBe(3);
        expect([...ck.tensors.keys()].sort()).toEqual(['blocks.0.w', 'blocks.1.w', 'blocks.2.w', 'embed.w', 'head.b']);
        expect(path.basename(ck.tensors.get('blocks.1.w')!.file)).toBe('model-00002-of-00003.safetensors');
        expect(ck.metadata).toEqual({ format: 'pt' });
        for (const [name, start] of [['blocks.0.w', 0], ['blocks.1.w', 10], ['blocks.2.w', 20]] as const) {
          const got = new Float32Array((await ck.read(name)).buffer);
          expect(Array.from(got)).toEqual(Array.from({ length: 10 }, (_, i) => start + i));
        }
        expect(Array.from(new Float32Array((await ck.readRange('embed.w', 8, 8)).buffer))).toEqual([102, 103]);
        const pieces: Uint8Array[] = [];
        for await (const c of ck.chunks('blocks.2.w', 12)) pieces.push(c);
        expect(pieces.map((c) => c.length)).toEqual([12, 12, 12, 4]);
        expect(Buffer.concat(pieces)).toEqual(Buffer.from(await ck.read('blocks.2.w')));
        expect(Array.from(new Uint16Array((await ck.read('head.b')).buffer))).toEqual([0x3f80, 0x4000]);
        await expect(ck.read('nope')).rejects.toThrow(/tensor 'nope': no such tensor/);
      } finally {
        await ck.close();
      }
    }
  });

  it('reads a single file and a folder of files without an index', async () => {
    const dir = path.join(root, 'plain');
    fs.mkdirSync(dir);
    await writeSafetensors(path.join(dir, 'a.safetensors'), { x: f32(3, 1) });
    await writeSafetensors(path.join(dir, 'b.safetensors'), { y: f32(2, 5) });
    fs.writeFileSync(path.join(dir, 'config.json'), '{}');
    const one = await Checkpoint.open(path.join(dir, 'a.safetensors'));
    expect(one.kind).toBe('file');
    expect([...one.tensors.keys()]).toEqual(['x']);
    await one.close();
    const all = await Checkpoint.open(dir);
    expect([...all.tensors.keys()].sort()).toEqual(['x', 'y']);
    expect(Array.from(new Float32Array((await all.read('y')).buffer))).toEqual([5, 6]);
    await all.close();
  });

  it('refuses a tensor present in two shards of a folder', async () => {
    const dir = path.join(root, 'dup');
    fs.mkdirSync(dir);
    await writeSafetensors(path.join(dir, 'a.safetensors'), { x: f32(3, 1) });
    await writeSafetensors(path.join(dir, 'b.safetensors'), { x: f32(3, 1) });
    await expectFormatError(Checkpoint.open(dir), /tensor 'x' is in both .*a\.safetensors and .*b\.safetensors/);
  });

  it('refuses an index naming a missing shard', async () => {
    const dir = await makeSharded('missing-shard', { extraIndexEntry: ['ghost.w', 'model-00004-of-00003.safetensors'] });
    await expectFormatError(Checkpoint.open(dir),
      /model\.safetensors\.index\.json: weight_map names shard model-00004-of-00003\.safetensors \(for tensor 'ghost\.w'.*does not exist/);
  });

  it('refuses an index placing a tensor in a shard that lacks it', async () => {
    const dir = await makeSharded('wrong-shard', { extraIndexEntry: ['ghost.w', 'model-00002-of-00003.safetensors'] });
    await expectFormatError(Checkpoint.open(path.join(dir, 'model.safetensors.index.json')),
      /weight_map puts tensor 'ghost\.w' in model-00002-of-00003\.safetensors, but that shard has no such tensor/);
  });

  it('refuses an index without weight_map, with duplicate names, or invalid JSON', async () => {
    const dir = path.join(root, 'bad-index');
    fs.mkdirSync(dir);
    await writeSafetensors(path.join(dir, 's.safetensors'), { x: f32(1, 0) });
    const idx = path.join(dir, 'x.safetensors.index.json');
    fs.writeFileSync(idx, '{"metadata": {}}');
    await expectFormatError(Checkpoint.open(idx), /no 'weight_map' object/);
    fs.writeFileSync(idx, '{"weight_map": {"x": "s.safetensors", "x": "s.safetensors"}}');
    await expectFormatError(Checkpoint.open(idx), /tensor 'x' appears twice in weight_map/);
    fs.writeFileSync(idx, '{"weight_map": ');
    await expectFormatError(Checkpoint.open(idx), /index is not valid JSON/);
  });

  it('asks which index to use when a folder has several', async () => {
    const dir = await makeSharded('two-index');
    fs.copyFileSync(path.join(dir, 'model.safetensors.index.json'), path.join(dir, 'model.fp16.safetensors.index.json'));
    await expectFormatError(Checkpoint.open(dir), /folder has 2 index files .*pass the one to use/);
  });

  it('reports an empty folder and a missing path', async () => {
    const dir = path.join(root, 'empty');
    fs.mkdirSync(dir);
    await expectFormatError(Checkpoint.open(dir), /no \.safetensors files/);
    await expectFormatError(Checkpoint.open(path.join(root, 'nope')), /cannot open checkpoint \(ENOENT\)/);
  });

  it('passes a malformed shard error through and leaves no shard open', async () => {
    const dir = await makeSharded('corrupt-shard');
    const shard = path.join(dir, 'model-00002-of-00003.safetensors');
    fs.truncateSync(shard, 20);
    const before = openFds();
    await expectFormatError(Checkpoint.open(dir), /model-00002-of-00003\.safetensors: header length \d+ runs past the end/);
    expect(openFds()).toBe(before);
    const wrong = await makeSharded('wrong-shard-fds', { extraIndexEntry: ['ghost.w', 'model-00001-of-00003.safetensors'] });
    await expectFormatError(Checkpoint.open(wrong), /that shard has no such tensor/);
    expect(openFds()).toBe(before);
  });
});
