// Reads files written by other implementations (numpy; an independent Python safetensors writer),
// produced by test/reference/io_formats_golden.py. Values are formulas recomputed here.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../src/io/npy.ts';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import { typedView } from '../../src/io/safetensors-dtype.ts';
import { FileFormatError } from '../../src/io/format-error.ts';

const G = 'test/golden/io';
// numpy's bytes come base64 in one JSON file (the repository tracks no .npy files); written out
// here as the .npy files numpy would have left.
const NPY = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-numpy-written-'));
afterAll(() => fs.rmSync(NPY, { recursive: true, force: true }));
for (const [name, b64] of Object.entries(JSON.parse(fs.readFileSync(`${G}/numpy-written.json`, 'utf8')) as Record<string, string>)) {
  fs.writeFileSync(path.join(NPY, `${name}.npy`), Buffer.from(b64, 'base64'));
}
const range = (n: number, f: (i: number) => number): number[] => Array.from({ length: n }, (_, i) => f(i));

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function bf16ToFloat(b: number): number {
  return new Float32Array(new Uint32Array([b << 16]).buffer)[0]!;
}

describe('npy files written by numpy', () => {
  it('reads every supported dtype', () => {
    const f4 = readNpy(`${NPY}/np_f4.npy`);
    expect([f4.dtype, f4.shape]).toEqual(['f4', [3, 4]]);
    expect(Array.from(f4.data)).toEqual(range(12, (i) => i * 0.5 - 1));
    const f2 = readNpy(`${NPY}/np_f2.npy`);
    expect([f2.dtype, f2.shape]).toEqual(['f2', [12]]);
    expect(Array.from(f2.data, halfToFloat)).toEqual(range(12, (i) => i * 0.25));
    const i4 = readNpy(`${NPY}/np_i4.npy`);
    expect([i4.dtype, i4.shape]).toEqual(['i4', [2, 3, 2]]);
    expect(Array.from(i4.data)).toEqual(range(12, (i) => i * -1000 || 0));
    const u1 = readNpy(`${NPY}/np_u1.npy`);
    expect([u1.dtype, u1.shape]).toEqual(['u1', [12]]);
    expect(Array.from(u1.data)).toEqual(range(12, (i) => i * 20));
    const b = readNpy(`${NPY}/np_bool.npy`);
    expect([b.dtype, b.shape]).toEqual(['bool', [12]]);
    expect(Array.from(b.data)).toEqual(range(12, (i) => (i % 3 === 0 ? 1 : 0)));
    const s = readNpy(`${NPY}/np_scalar.npy`);
    expect([s.dtype, s.shape, Array.from(s.data)]).toEqual(['f4', [], [2.5]]);
  });

  it('reads format versions 2.0 and 3.0', () => {
    for (const v of [2, 3]) {
      const a = readNpy(`${NPY}/np_v${v}.npy`);
      expect([a.dtype, a.shape]).toEqual(['i4', [12]]);
      expect(Array.from(a.data)).toEqual(range(12, (i) => i));
    }
  });

  it('refuses Fortran order, big-endian and pickled objects', () => {
    for (const [file, fragment] of [['np_fortran', /Fortran-order/], ['np_bigendian', /big-endian dtype '>f4'/], ['np_object', /pickle/]] as const) {
      let err: unknown;
      try { readNpy(`${NPY}/${file}.npy`); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(FileFormatError);
      expect((err as FileFormatError).message).toMatch(fragment);
      expect((err as FileFormatError).message).toContain(`${file}.npy`);
    }
  });
});

describe('safetensors written by an independent Python writer (torch dtypes)', () => {
  it('reads all tensors, dtypes and metadata', async () => {
    const st = await SafetensorsFile.open(`${G}/ref.safetensors`);
    try {
      expect(st.metadata).toEqual({ format: 'pt', source: 'io_formats_golden.py' });
      expect(st.warnings).toEqual([]);
      const get = async (name: string) => {
        const info = st.tensors.get(name)!;
        return { info, v: typedView(info.dtype, await st.read(name)) };
      };
      const q = await get('blocks.0.attn.q.weight');
      expect([q.info.dtype, q.info.shape]).toEqual(['BF16', [4, 6]]);
      expect(Array.from(q.v as Uint16Array, bf16ToFloat)).toEqual(range(24, (i) => i * 0.5));
      const n = await get('blocks.0.norm.weight');
      expect(n.info.dtype).toBe('F16');
      expect(Array.from(n.v as Uint16Array, halfToFloat)).toEqual(range(6, (i) => i - 3));
      expect(Array.from((await get('head.bias')).v as Float32Array)).toEqual(range(5, (i) => i * 0.125));
      expect(Array.from((await get('pos')).v as Float64Array)).toEqual(range(3, (i) => i * 1e12));
      expect(Array.from((await get('steps')).v as BigInt64Array)).toEqual(range(4, (i) => i).map((i) => BigInt(i) * -(2n ** 40n)));
      expect(Array.from((await get('i32')).v as Int32Array)).toEqual(range(3, (i) => i - 100000));
      expect(Array.from((await get('i16')).v as Int16Array)).toEqual(range(3, (i) => i * -300 || 0));
      expect(Array.from((await get('i8')).v as Int8Array)).toEqual(range(5, (i) => i - 2));
      expect(Array.from((await get('u8')).v as Uint8Array)).toEqual(range(7, (i) => i * 30));
      const m = await get('mask');
      expect(m.info.dtype).toBe('BOOL');
      expect(Array.from(m.v as Uint8Array)).toEqual(range(6, (i) => (i % 2 === 0 ? 1 : 0)));
      const e = await get('empty');
      expect([e.info.shape, e.info.byteLength]).toEqual([[0, 3], 0]);
    } finally {
      await st.close();
    }
  });
});
