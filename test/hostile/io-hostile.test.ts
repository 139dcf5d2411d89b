// Regression tests for hostile files read by src/io: each writes its own minimal reproducer.
// The bar: a one-line InputError (exit 2), never a stack overflow, a hang or a huge allocation.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import { parseSafetensorsHeader } from '../../src/io/safetensors-header.ts';
import { jsonBrief, parseJsonBounded } from '../../src/io/json-bounded.ts';
import { parseNpy } from '../../src/io/npy.ts';
import { loadEgoxMeta } from '../../src/io/meta.ts';
import { readJsonFile } from '../../src/io/model-layout.ts';
import { Checkpoint } from '../../src/io/checkpoint.ts';
import { InputError } from '../../src/runtime/errors.ts';
import { rawSafetensors } from '../helpers/raw-safetensors.ts';

let dir = '';
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-hostile-io-')); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const deep = (n: number, leaf = '1') => '['.repeat(n) + leaf + ']'.repeat(n);

/** The error `f` throws (it must throw an InputError with a one-line message). */
function inputError(f: () => unknown): InputError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    expect((e as Error).message).not.toMatch(/\n/);
    return e as InputError;
  }
  throw new Error('expected an input error');
}

async function inputErrorAsync(f: () => Promise<unknown>): Promise<InputError> {
  const e = await f().then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(InputError);
  expect((e as Error).message).not.toMatch(/\n/);
  return e as InputError;
}

describe('untrusted JSON', () => {
  it('nesting 20,000 deep is refused before parsing, strings with brackets are not counted', () => {
    expect(() => parseJsonBounded(deep(20_000))).toThrow(/nested deeper than 64/);
    expect(parseJsonBounded(`{"a": "${'['.repeat(10_000)}"}`)).toEqual({ a: '['.repeat(10_000) });
    expect(parseJsonBounded(deep(64))).toBeDefined();
  });

  it('jsonBrief of a deep or huge value is short and does not recurse', () => {
    let v: unknown = 1;
    for (let i = 0; i < 100_000; i++) v = [v];
    expect(jsonBrief(v).length).toBeLessThanOrEqual(60);
    expect(jsonBrief('x'.repeat(1e6)).length).toBeLessThanOrEqual(60);
    expect(jsonBrief([1, 2])).toBe('[1, 2]');
  });

  for (const field of ['dtype', 'shape', 'data_offsets']) {
    it(`a safetensors header whose ${field} is an array nested 20,000 deep is one line`, () => {
      const entry: Record<string, string> = { dtype: '"F32"', shape: '[1]', data_offsets: '[0, 4]' };
      entry[field] = deep(20_000);
      const header = `{"t": {${Object.entries(entry).map(([k, v]) => `"${k}": ${v}`).join(', ')}}}`;
      const e = inputError(() => parseSafetensorsHeader('x.safetensors', new TextEncoder().encode(header), 4));
      expect(e.message.length).toBeLessThan(400);
    });
  }

  it('a shape entry nested deep (parsed before the depth rule) still gives a short message', () => {
    // Depth 60 passes the parser's bound; the message builder must not print it whole.
    const header = `{"t": {"dtype": "F32", "shape": [${deep(60)}], "data_offsets": [0, 4]}}`;
    const e = inputError(() => parseSafetensorsHeader('x.safetensors', new TextEncoder().encode(header), 4));
    expect(e.message).toMatch(/shape/);
    expect(e.message.length).toBeLessThan(400);
  });

  it('null, arrays and numbers as a config.json are "expected a JSON object", not a TypeError', () => {
    for (const text of ['null', '[]', '7', '"x"', deep(10_000)]) {
      const f = path.join(dir, 'config.json');
      fs.writeFileSync(f, text);
      const r = readJsonFile(f);
      expect(r.json).toBeUndefined();
      expect(r.error).toMatch(/expected a JSON object|nested deeper/);
    }
  });

  it('a config.json of 300 MiB (sparse here) is refused by its size before it is read', () => {
    const f = path.join(dir, 'huge-config.json');
    fs.writeFileSync(f, '{}');
    fs.truncateSync(f, 300 * 2 ** 20);
    const r = readJsonFile(f);
    expect(r.error).toMatch(/is 314572800 bytes, more than the 268435456/);
  });

  it('an index.json nested deep is a FileFormatError', async () => {
    const f = path.join(dir, 'model.safetensors.index.json');
    fs.writeFileSync(f, `{"weight_map": ${deep(30_000, '{}')}}`);
    const e = await inputErrorAsync(() => Checkpoint.open(f));
    expect(e.message).toMatch(/nested deeper/);
  });

  it('a safetensors file with a deep header is refused and its handle closed', async () => {
    const f = path.join(dir, 'deep.safetensors');
    fs.writeFileSync(f, rawSafetensors(`{"t": ${deep(20_000)}}`));
    const before = fs.readdirSync('/proc/self/fd').length;
    for (let i = 0; i < 50; i++) await inputErrorAsync(() => SafetensorsFile.open(f));
    expect(fs.readdirSync('/proc/self/fd').length).toBeLessThanOrEqual(before + 2);
  });
});

describe('linear-time parsing', () => {
  it('meta.json ending inside a long run of escaped quotes parses (or fails) at once', () => {
    const f = path.join(dir, 'meta.json');
    fs.writeFileSync(f, `{"test_datasets": [{"prompt": "${'\\"'.repeat(200_000)}`);
    const e = inputError(() => loadEgoxMeta(f));
    expect(e.message).toMatch(/not valid JSON/);
  });

  it("meta.json keeps Python's NaN/Infinity outside strings and leaves them alone inside", () => {
    const f = path.join(dir, 'meta2.json');
    fs.writeFileSync(f, '{"test_datasets": [{"prompt": "NaN Infinity", "camera_intrinsics": [[NaN, -Infinity, 1]]}]}');
    // The take is incomplete; what matters is that the non-finite value is named, not a JSON error.
    const e = inputError(() => loadEgoxMeta(f));
    expect(e.message).not.toMatch(/not valid JSON/);
  });

  it('an npy header of many unclosed shape tuples is refused by length (numpy caps it at 10,000 bytes)', () => {
    const dict = `{'descr': '<f4', 'fortran_order': False, ${"'shape': (".repeat(20_000)}}`;
    const header = dict.padEnd(Math.ceil((dict.length + 13) / 64) * 64 - 13) + '\n';
    const bytes = new Uint8Array(12 + header.length);
    bytes.set([0x93, ...new TextEncoder().encode('NUMPY'), 2, 0]);
    new DataView(bytes.buffer).setUint32(8, header.length, true);
    bytes.set(new TextEncoder().encode(header), 12);
    expect(inputError(() => parseNpy(bytes, 'x.npy')).message).toMatch(/longer than the 10000/);
  });

  it('an npy header within the cap but with unclosed tuples is malformed, found in one pass', () => {
    const dict = `{'descr': '<f4', 'fortran_order': False, ${"'shape': (".repeat(900)}}`;
    const header = dict + '\n';
    const bytes = new Uint8Array(10 + header.length);
    bytes.set([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0]);
    new DataView(bytes.buffer).setUint16(8, header.length, true);
    bytes.set(new TextEncoder().encode(header), 10);
    expect(inputError(() => parseNpy(bytes, 'x.npy')).message).toMatch(/no 'shape' tuple/);
  });
});

describe('depth maps', () => {
  it('a depth map full of NaN is refused at load, naming the file', async () => {
    const { writeNpy } = await import('../../src/io/npy.ts');
    const { loadEgoxTake } = await import('../../src/io/meta.ts');
    const shared = '../shared/data/egoexo4d';
    const take = 'cmu_soccer06_6_877_925';
    const depth = path.join(dir, 'depth-nan');
    fs.mkdirSync(depth);
    for (let i = 0; i < 49; i++) {
      const d = new Float32Array(4 * 6).fill(i === 7 ? NaN : 2.5);
      writeNpy(path.join(depth, `${String(i).padStart(5, '0')}.npy`), { dtype: 'f4', shape: [4, 6], data: d });
    }
    const e = inputError(() => loadEgoxTake(path.join(shared, 'meta.json'), take, { depthDir: depth }));
    expect(e.message).toMatch(/00007\.npy: only 0\.0% of the pixels hold a finite positive depth/);
  });
});

describe('PNG', () => {
  it('a tiny PNG whose IDAT inflates to gigabytes (or whose header claims 2^32 x 2^32) is one line', async () => {
    const zlib = await import('node:zlib');
    const { decodePng, encodePng } = await import('../../src/io/png.ts');
    const png = encodePng(4, 4, 1, new Uint8Array(16));
    // Swap the IDAT for 64 MiB of zeros deflated (about 64 KB): more than a 4x4 image holds.
    const bomb = zlib.deflateSync(Buffer.alloc(64 * 2 ** 20));
    const idatAt = Buffer.from(png).indexOf('IDAT') - 4;
    const crc = (await import('node:zlib')).crc32;
    const chunk = Buffer.alloc(12 + bomb.length);
    chunk.writeUInt32BE(bomb.length, 0);
    chunk.write('IDAT', 4);
    bomb.copy(chunk, 8);
    chunk.writeUInt32BE(crc(chunk.subarray(4, 8 + bomb.length)) >>> 0, 8 + bomb.length);
    const idatLen = Buffer.from(png).readUInt32BE(idatAt);
    const evil = Buffer.concat([Buffer.from(png).subarray(0, idatAt), chunk, Buffer.from(png).subarray(idatAt + 12 + idatLen)]);
    expect(inputError(() => decodePng(new Uint8Array(evil), 'bomb.png')).message).toMatch(/does not inflate/);
    const huge = Buffer.from(png);
    huge.writeUInt32BE(0xffffffff, 16);
    huge.writeUInt32BE(0xffffffff, 20);
    huge.writeUInt32BE(crc(huge.subarray(12, 29)) >>> 0, 29);
    expect(inputError(() => decodePng(new Uint8Array(huge), 'huge.png')).message).toMatch(/larger than the 268435456 pixels/);
  });
});
