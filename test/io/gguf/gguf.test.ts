// The GGUF reader: a file mixing types (F32 norms, F16/BF16 embeddings, Q8_0 / Q4_1 / Q4_K
// blocks), the 5-D patch embedding (as 5 dims, and as 4 dims with its recorded original shape);
// every corruption one line (FileFormatError, exit 2 in the CLI), never a crash or a huge
// allocation; unsupported and unknown types named with the tensor.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GgufFile } from '../../../src/io/gguf/index.ts';
import { FileFormatError } from '../../../src/io/format-error.ts';
import { inspectCheckpoint } from '../../../src/io/inspect.ts';
import { egox } from '../../helpers/cli.ts';
import { ggufBytes, mixedGgufSpec as mixed, type GgufSpec } from './gguf-bytes.ts';

const dir = fs.mkdtempSync(join(os.tmpdir(), 'egox-gguf-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  fs.writeFileSync(p, bytes);
  return p;
}

async function expectBad(bytes: Uint8Array, ...patterns: RegExp[]): Promise<void> {
  const p = write('bad.gguf', bytes);
  const e = await GgufFile.open(p).then(
    (f) => (f.close(), null),
    (err: unknown) => err,
  );
  expect(e, 'opened a corrupt file').toBeInstanceOf(FileFormatError);
  const msg = (e as Error).message;
  expect(msg).not.toContain('\n');
  for (const re of patterns) expect(msg).toMatch(re);
}

describe('GGUF reader', () => {
  it('reads mixed types, PyTorch-order shapes, the 5-D patch embedding and a recorded original shape', async () => {
    const spec = mixed();
    const f = await GgufFile.open(write('mixed.gguf', ggufBytes(spec)));
    try {
      expect(f.version).toBe(3);
      expect(f.metadata.get('general.architecture')).toBe('wan');
      const t = (n: string) => f.tensors.get(n)!;
      expect([t('blocks.0.norm2.weight').dtype, t('text_embedding.0.weight').dtype, t('head.head.weight').dtype]).toEqual(['F32', 'F16', 'BF16']);
      expect([t('blocks.0.self_attn.q.weight').dtype, t('blocks.0.ffn.0.weight').dtype, t('blocks.0.ffn.2.weight').dtype]).toEqual(['Q8_0', 'Q4_1', 'Q4_K']);
      expect(t('blocks.0.self_attn.q.weight').shape).toEqual([3, 64]);
      expect(t('blocks.0.self_attn.q.weight').byteLength).toBe(6 * 34);
      expect(t('patch_embedding.weight').shape).toEqual([8, 36, 1, 2, 2]);
      expect(t('patch4d').shape).toEqual([8, 36, 1, 2, 2]);
      for (const s of spec.tensors) expect(Array.from(await f.read(s.name)), s.name).toEqual(Array.from(s.data));
      const chunks: number[] = [];
      for await (const c of f.chunks('blocks.0.ffn.2.weight', 100)) chunks.push(c.length);
      expect(chunks).toEqual([100, 100, 88]);
    } finally {
      await f.close();
    }
    const report = await inspectCheckpoint(join(dir, 'mixed.gguf'));
    expect(report.kind).toBe('gguf');
    expect(report.totals.bytesByDtype.Q4_K).toBe(288);
  });

  it('honours general.alignment', async () => {
    const spec = { ...mixed(), alignment: 64 };
    const f = await GgufFile.open(write('aligned.gguf', ggufBytes(spec)));
    expect(f.alignment).toBe(64);
    expect(f.tensors.get('head.head.weight')!.fileOffset % 64).toBe(0);
    expect(Array.from(await f.read('head.head.weight'))).toEqual(Array.from(spec.tensors[2]!.data));
    await f.close();
  });

  it('corrupt headers: one line each', async () => {
    const good = ggufBytes(mixed());
    await expectBad(ggufBytes({ ...mixed(), magic: 'GGML' }), /not a GGUF file/);
    await expectBad(ggufBytes({ ...mixed(), version: 1 }), /version 1 is not supported/);
    await expectBad(good.subarray(0, 40), /runs past the end of the file|more than the file can hold/);
    await expectBad(good.subarray(0, 300), /runs past the end of the file/);
    await expectBad(ggufBytes({ ...mixed(), tensorCount: 2 ** 40 }), /more than the file can hold/);
    await expectBad(ggufBytes({ ...mixed(), kvCount: 2 ** 52 }), /more than the file can hold/);
    await expectBad(ggufBytes({ ...mixed(), alignment: 48 }), /alignment 48 is not a power of two/);
    const dup = mixed();
    dup.tensors[1] = { ...dup.tensors[1]!, name: dup.tensors[0]!.name };
    await expectBad(ggufBytes(dup), /appears twice/);
    const bad = mixed();
    bad.kv!['comfy.gguf.orig_shape.patch4d'] = { type: 'arr_i64', value: [8, 36, 3, 2] };
    await expectBad(ggufBytes(bad), /orig_shape\.patch4d .* does not describe/);
  });

  it('tensor data past the end, misaligned offsets, rows that are not whole blocks', async () => {
    const good = ggufBytes(mixed());
    await expectBad(good.subarray(0, good.length - 64), /runs past the end of the file.*truncated/, /patch4d|patch_embedding/);
    const mis = mixed();
    mis.tensors[3] = { ...mis.tensors[3]!, offset: 1000 + 4 };
    await expectBad(ggufBytes(mis), /tensor 'blocks\.0\.self_attn\.q\.weight'.*not a multiple of the alignment 32/);
    const rows = mixed();
    rows.tensors[3] = { ...rows.tensors[3]!, dims: [48, 4] };
    await expectBad(ggufBytes(rows), /Q8_0 but its rows of 48 values are not whole blocks of 32/);
  });

  it('unknown and unsupported types name the type and the tensor', async () => {
    const unknown = mixed();
    unknown.tensors[5] = { ...unknown.tensors[5]!, type: 77 };
    await expectBad(ggufBytes(unknown), /tensor 'blocks\.0\.ffn\.2\.weight': has unknown GGML type 77/);
    const q2k = mixed();
    q2k.tensors[5] = { ...q2k.tensors[5]!, type: 10 };
    await expectBad(ggufBytes(q2k), /tensor 'blocks\.0\.ffn\.2\.weight': is Q2_K, which egox does not read \(it reads F32, F16, BF16, Q8_0/);
  });

  it('every random corruption opens cleanly or fails with a one-line FileFormatError', async () => {
    const src = ggufBytes(mixed());
    let rejected = 0;
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let k = 0; k < 300; k++) {
      const m = Uint8Array.from(src);
      const at = next() % m.length;
      const v = next() & 0xff;
      let buf: Uint8Array;
      switch (next() % 4) {
        case 0: m[at] = v; buf = m; break;
        case 1: m[8 + (at % 16)] = v; buf = m; break; // the counts
        case 2: buf = m.subarray(0, at); break;
        default: buf = Uint8Array.from([...m.subarray(0, at), v, ...m.subarray(at)]);
      }
      const p = write('fuzz.gguf', buf);
      let f: GgufFile | undefined;
      try {
        f = await GgufFile.open(p);
      } catch (e) {
        if (!(e instanceof FileFormatError)) throw new Error(`mutation ${k} threw ${String(e)}`);
        expect(e.message).not.toContain('\n');
        rejected++;
        continue;
      }
      for (const name of f.tensors.keys()) await f.read(name);
      await f.close();
    }
    expect(rejected).toBeGreaterThan(10); // most bytes are tensor data, which any value may hold
  });

  it('egox inspect lists a GGUF file, and refuses a corrupt one with one line and exit 2', () => {
    const ok = egox(['inspect', join(dir, 'mixed.gguf')]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^patch_embedding\.weight\s+F16\s+\[8, 36, 1, 2, 2\]/m);
    expect(ok.stdout).toMatch(/^blocks\.0\.ffn\.2\.weight\s+Q4_K\s+\[2, 256\]/m);
    const q2k = mixed();
    q2k.tensors[5] = { ...q2k.tensors[5]!, type: 10 };
    const p = write('q2k.gguf', ggufBytes(q2k));
    const r = egox(['inspect', p]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/Q2_K/);
  });
});
