import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import { writeSafetensors, type TensorToWrite } from '../../src/io/safetensors-writer.ts';
import { typedView, type StDtype } from '../../src/io/safetensors-dtype.ts';
import { FileFormatError } from '../../src/io/format-error.ts';

let dir = '';
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-st-')); });
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

/** Deterministic pseudo-random bytes (so failures reproduce). */
function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

function asBytes(v: ArrayBufferView): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** Every dtype, in the typed array a caller would naturally hand over. */
function allDtypes(): Record<string, TensorToWrite> {
  const b = (n: number, seed: number) => bytes(n, seed).buffer;
  return {
    f64: { dtype: 'F64', shape: [3, 2], data: Float64Array.from([1.5, -2, Math.PI, 1e300, -0, NaN]) },
    f32: { dtype: 'F32', shape: [2, 3, 4], data: new Float32Array(b(96, 2)) },
    f16: { dtype: 'F16', shape: [5], data: Uint16Array.from([0x3c00, 0xc000, 0x7c00, 0x7e00, 0x0001]) },
    bf16: { dtype: 'BF16', shape: [2, 2], data: Uint16Array.from([0x3f80, 0xbf80, 0x4049, 0x7f80]) },
    i64: { dtype: 'I64', shape: [3], data: BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n, 42n]) },
    i32: { dtype: 'I32', shape: [4], data: Int32Array.from([-2147483648, 2147483647, 0, -7]) },
    i16: { dtype: 'I16', shape: [3], data: Int16Array.from([-32768, 32767, 5]) },
    i8: { dtype: 'I8', shape: [1, 3], data: Int8Array.from([-128, 127, 0]) },
    u8: { dtype: 'U8', shape: [7], data: bytes(7, 3) },
    bool: { dtype: 'BOOL', shape: [2, 2], data: Uint8Array.from([1, 0, 0, 1]) },
    scalar: { dtype: 'F32', shape: [], data: Float32Array.from([7.25]) },
    empty: { dtype: 'F32', shape: [0, 5], data: new Float32Array(0) },
  };
}

describe('safetensors round trip', () => {
  it('every dtype comes back with exact bytes, dtype and shape', async () => {
    const f = path.join(dir, 'all.safetensors');
    const tensors = allDtypes();
    await writeSafetensors(f, tensors, { format: 'pt', note: 'ünïcødé ✓' });
    const st = await SafetensorsFile.open(f);
    try {
      expect([...st.tensors.keys()].sort()).toEqual(Object.keys(tensors).sort());
      expect(st.metadata).toEqual({ format: 'pt', note: 'ünïcødé ✓' });
      expect(st.warnings).toEqual([]);
      for (const [name, t] of Object.entries(tensors)) {
        const info = st.tensors.get(name)!;
        expect(info.dtype).toBe(t.dtype);
        expect(info.shape).toEqual(t.shape);
        expect(info.byteLength).toBe(t.data.byteLength);
        expect(info.file).toBe(f);
        const got = await st.read(name);
        expect(got.byteOffset).toBe(0);
        expect(Buffer.from(got)).toEqual(Buffer.from(asBytes(t.data)));
      }
      // Typed views give back the values, not only the bytes.
      expect(typedView('I64', await st.read('i64'))).toEqual(tensors.i64!.data);
      expect(Array.from(typedView('F64', await st.read('f64')))).toEqual(Array.from(tensors.f64!.data as Float64Array));
    } finally {
      await st.close();
    }
  });

  it('lays out data 8-byte aligned, tensors in name order, header padded with spaces', async () => {
    const f = path.join(dir, 'layout.safetensors');
    await writeSafetensors(f, {
      b: { dtype: 'U8', shape: [3], data: Uint8Array.from([1, 2, 3]) },
      a: { dtype: 'F32', shape: [1], data: Float32Array.from([1]) },
    });
    const raw = fs.readFileSync(f);
    const n = Number(raw.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const text = raw.subarray(8, 8 + n).toString('utf8');
    expect(text).toMatch(/^\{.*\} *$/);
    expect(JSON.parse(text)).toEqual({
      a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
      b: { dtype: 'U8', shape: [3], data_offsets: [4, 7] },
    });
    expect(raw.length).toBe(8 + n + 7);
    expect(fs.readdirSync(dir).filter((x) => x.endsWith('.tmp'))).toEqual([]);
  });

  it('a writer failure leaves no file and no temp file', async () => {
    const f = path.join(dir, 'never.safetensors');
    await expect(writeSafetensors(f, { a: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }))
      .rejects.toThrow(/needs 12/);
    expect(fs.existsSync(f)).toBe(false);
    expect(fs.readdirSync(dir).filter((x) => x.includes('never'))).toEqual([]);
  });

  it('readRange and chunks return the right slices', async () => {
    const f = path.join(dir, 'big.safetensors');
    const data = bytes(10_000, 9);
    await writeSafetensors(f, {
      pad: { dtype: 'U8', shape: [13], data: bytes(13, 4) },
      w: { dtype: 'F32', shape: [50, 50], data: new Float32Array(data.buffer) },
    });
    const st = await SafetensorsFile.open(f);
    try {
      expect(Buffer.from(await st.readRange('w', 0, 10))).toEqual(Buffer.from(data.subarray(0, 10)));
      expect(Buffer.from(await st.readRange('w', 4321, 1234))).toEqual(Buffer.from(data.subarray(4321, 5555)));
      expect((await st.readRange('w', 10_000, 0)).length).toBe(0);
      await expect(st.readRange('w', 9_999, 2)).rejects.toThrow(RangeError);
      await expect(st.readRange('w', -1, 2)).rejects.toThrow(RangeError);
      await expect(st.read('nope')).rejects.toThrow(/no such tensor/);

      for (const chunk of [1, 999, 4096, 10_000, 1 << 20]) {
        const pieces: Uint8Array[] = [];
        for await (const p of st.chunks('w', chunk)) pieces.push(p);
        expect(pieces.every((p) => p.length <= chunk && p.length > 0)).toBe(true);
        expect(pieces.length).toBe(Math.ceil(10_000 / chunk));
        expect(Buffer.concat(pieces)).toEqual(Buffer.from(await st.read('w')));
      }
      const none: Uint8Array[] = [];
      await writeSafetensors(path.join(dir, 'e.safetensors'), { e: { dtype: 'F16', shape: [0], data: new Uint16Array(0) } });
      const e = await SafetensorsFile.open(path.join(dir, 'e.safetensors'));
      for await (const p of e.chunks('e', 8)) none.push(p);
      await e.close();
      expect(none).toEqual([]);
    } finally {
      await st.close();
    }
  });

  it('reports uncovered data bytes as a warning, not an error', async () => {
    const f = path.join(dir, 'gap.safetensors');
    writeRaw(f, { a: { dtype: 'U8', shape: [2], data_offsets: [4, 6] } }, bytes(10));
    const st = await SafetensorsFile.open(f);
    expect(st.warnings).toEqual(['8 of 10 data bytes belong to no tensor (4 in gaps, 4 at the end)']);
    expect(Array.from(await st.read('a'))).toEqual(Array.from(bytes(10).subarray(4, 6)));
    await st.close();
  });
});

/** Writes a safetensors file from a raw header (object or exact text) and data bytes. */
function writeRaw(f: string, header: unknown, data: Uint8Array, headerLenOverride?: bigint): void {
  const text = typeof header === 'string' ? Buffer.from(header, 'utf8') : Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLenOverride ?? BigInt(text.length));
  fs.writeFileSync(f, Buffer.concat([len, text, data]));
}

const OK = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };

/** Each case: a file builder and the fragment the one-line error must contain. */
const MALFORMED: Array<[string, (f: string) => void, RegExp, string?]> = [
  ['empty file', (f) => fs.writeFileSync(f, ''), /file is empty/],
  ['5-byte file', (f) => fs.writeFileSync(f, Buffer.from([1, 0, 0, 0, 0])), /only 5 bytes/],
  ['truncated header', (f) => {
    const full = Buffer.concat([Buffer.from([60, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(JSON.stringify({ a: OK }).slice(0, 20))]);
    fs.writeFileSync(f, full);
  }, /header length 60 runs past the end of the file \(28 bytes\)/],
  ['header length past EOF (2^63)', (f) => writeRaw(f, { a: OK }, bytes(8), 2n ** 63n), /header length 9223372036854775808 runs past the end/],
  ['header length 0', (f) => writeRaw(f, '', bytes(8), 0n), /header length 0 is too small/],
  ['header length 1', (f) => writeRaw(f, '{', bytes(8)), /header length 1 is too small/],
  ['invalid UTF-8', (f) => {
    const len = Buffer.alloc(8); len.writeBigUInt64LE(6n);
    fs.writeFileSync(f, Buffer.concat([len, Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])]));
  }, /not valid UTF-8/],
  ['invalid JSON', (f) => writeRaw(f, '{"a": {"dtype": "F32",', bytes(8)), /not valid JSON/],
  ['JSON array instead of object', (f) => writeRaw(f, [OK], bytes(8)), /header is a JSON array, expected a JSON object/],
  ['JSON null', (f) => writeRaw(f, 'null', bytes(0)), /header is null/],
  ['duplicate tensor names', (f) => writeRaw(f,
    `{"a": ${JSON.stringify(OK)}, "b": {"dtype":"U8","shape":[1],"data_offsets":[8,9]}, "a": ${JSON.stringify(OK)}}`, bytes(9)),
  /tensor name 'a' appears twice/],
  ['duplicate key inside an entry', (f) => writeRaw(f,
    '{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "dtype": "U8"}}', bytes(8)),
  /tensor 'w': key 'dtype' appears twice/, 'w'],
  ['duplicate metadata key', (f) => writeRaw(f,
    `{"__metadata__": {"k": "1", "k": "2"}, "w": ${JSON.stringify(OK)}}`, bytes(8)), /__metadata__ key 'k' appears twice/],
  ['overlapping ranges', (f) => writeRaw(f, {
    a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
  }, bytes(12)), /data_offsets \[4, 12\] overlap those of tensor 'a' \[0, 8\]/, 'b'],
  ['range past EOF', (f) => writeRaw(f, { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, bytes(8)),
    /run past the end of the data section \(8 bytes\)/, 'a'],
  ['shape/size mismatch', (f) => writeRaw(f, { a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, bytes(8)),
    /shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] span 8/, 'a'],
  ['negative dim', (f) => writeRaw(f, { a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, bytes(8)),
    /has dimension -2, expected a non-negative integer/, 'a'],
  ['huge dim 2^60', (f) => writeRaw(f, '{"a": {"dtype": "F32", "shape": [1152921504606846976], "data_offsets": [0, 8]}}', bytes(8)),
    /has dimension 1152921504606847000/, 'a'],
  ['huge shape product', (f) => writeRaw(f, { a: { dtype: 'U8', shape: [2 ** 30, 2 ** 30], data_offsets: [0, 8] } }, bytes(8)),
    /more than 2\^53 elements/, 'a'],
  ['non-integer dim', (f) => writeRaw(f, { a: { dtype: 'F32', shape: [2.5], data_offsets: [0, 8] } }, bytes(8)),
    /has dimension 2.5/, 'a'],
  ['string dim', (f) => writeRaw(f, { a: { dtype: 'F32', shape: ['2'], data_offsets: [0, 8] } }, bytes(8)),
    /has dimension "2"/, 'a'],
  ['shape not an array', (f) => writeRaw(f, { a: { dtype: 'F32', shape: 2, data_offsets: [0, 8] } }, bytes(8)),
    /shape is a number/, 'a'],
  ['unknown dtype', (f) => writeRaw(f, { a: { dtype: 'Q7', shape: [2], data_offsets: [0, 8] } }, bytes(8)),
    /unknown dtype 'Q7'/, 'a'],
  ['F8 dtype other than E4M3 / E5M2', (f) => writeRaw(f, { a: { dtype: 'F8_E8M0', shape: [8], data_offsets: [0, 8] } }, bytes(8)),
    /unsupported dtype F8_E8M0/, 'a'],
  ['F8_E4M3FNUZ dtype', (f) => writeRaw(f, { a: { dtype: 'F8_E4M3FNUZ', shape: [8], data_offsets: [0, 8] } }, bytes(8)),
    /unsupported dtype F8_E4M3FNUZ/, 'a'],
  ['non-string metadata value', (f) => writeRaw(f, { __metadata__: { format: 'pt', total: 5 }, a: OK }, bytes(8)),
    /__metadata__ value of 'total' is a number/],
  ['metadata not an object', (f) => writeRaw(f, { __metadata__: ['pt'], a: OK }, bytes(8)), /__metadata__ is a JSON array/],
  ['begin > end', (f) => writeRaw(f, { a: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, bytes(8)),
    /data_offsets \[8, 0\] has begin > end/, 'a'],
  ['missing data_offsets', (f) => writeRaw(f, { a: { dtype: 'F32', shape: [2] } }, bytes(8)), /has no 'data_offsets'/, 'a'],
  ['data_offsets of wrong length', (f) => writeRaw(f, { a: { dtype: 'F32', shape: [2], data_offsets: [0] } }, bytes(8)),
    /expected \[begin, end\]/, 'a'],
  ['negative offset', (f) => writeRaw(f, { a: { dtype: 'F32', shape: [2], data_offsets: [-8, 0] } }, bytes(8)),
    /must be non-negative integers/, 'a'],
  ['entry not an object', (f) => writeRaw(f, { a: 'F32' }, bytes(8)), /header entry is a string/, 'a'],
];

describe('malformed safetensors files', () => {
  for (const [name, build, fragment, tensor] of MALFORMED) {
    it(name, async () => {
      const f = path.join(dir, `bad-${name.replace(/\W+/g, '_')}.safetensors`);
      build(f);
      const err = await SafetensorsFile.open(f).then(
        (st) => { void st.close(); return undefined; },
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(FileFormatError);
      const fe = err as FileFormatError;
      expect(fe.exitCode).toBe(2);
      expect(fe.file).toBe(f);
      expect(fe.tensor).toBe(tensor);
      expect(fe.message.startsWith(f)).toBe(true);
      expect(fe.message).not.toContain('\n');
      expect(fe.message).toMatch(fragment);
    });
  }

  it('a missing file and a directory are one-line errors too', async () => {
    await expect(SafetensorsFile.open(path.join(dir, 'nope.safetensors'))).rejects.toThrow(/cannot open safetensors file \(ENOENT\)/);
    await expect(SafetensorsFile.open(dir)).rejects.toSatisfy((e: unknown) => e instanceof FileFormatError);
  });

  it('all dtype strings of the writer are the ones the reader accepts', () => {
    const dtypes: StDtype[] = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'];
    expect(new Set(Object.values(allDtypes()).map((t) => t.dtype))).toEqual(new Set(dtypes));
  });
});

describe('mutated files', () => {
  it('every random corruption opens cleanly or fails with a FileFormatError', async () => {
    const good = path.join(dir, 'fuzz-src.safetensors');
    await writeSafetensors(good, allDtypes(), { format: 'pt' });
    const src = fs.readFileSync(good);
    const rnd = bytes(4 * 400, 77);
    let rejected = 0;
    for (let k = 0; k < 400; k++) {
      const m = Buffer.from(src);
      const r0 = rnd[4 * k]!, r1 = rnd[4 * k + 1]!, r2 = rnd[4 * k + 2]!, r3 = rnd[4 * k + 3]!;
      const at = ((r0 << 8) | r1) % m.length;
      let buf: Buffer;
      switch (r3 % 4) {
        case 0: m[at] = r2; buf = m; break; // overwrite one byte (often inside the header)
        case 1: m[Math.min(at, 7) % 8] = r2; buf = m; break; // corrupt the header length
        case 2: buf = m.subarray(0, at); break; // truncate
        default: buf = Buffer.concat([m.subarray(0, at), Buffer.from([r2]), m.subarray(at)]); // insert a byte
      }
      const f = path.join(dir, 'fuzz.safetensors');
      fs.writeFileSync(f, buf);
      let st: SafetensorsFile | undefined;
      try {
        st = await SafetensorsFile.open(f);
      } catch (e) {
        if (!(e instanceof FileFormatError)) throw new Error(`mutation ${k} threw ${String(e)}`);
        expect(e.message).not.toContain('\n');
        rejected++;
        continue;
      }
      for (const name of st.tensors.keys()) await st.read(name);
      await st.close();
    }
    expect(rejected).toBeGreaterThan(100);
  });
});
