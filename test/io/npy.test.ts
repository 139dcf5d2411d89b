import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encodeNpy, parseNpy, readNpy, writeNpy, type NpyArray } from '../../src/io/npy.ts';
import { FileFormatError } from '../../src/io/format-error.ts';

const DEPTH = '../shared/data/egoexo4d/depth_maps/cmu_soccer06_6_877_925/00000.npy';

let dir = '';
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-npy-')); });
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

/** Builds .npy bytes the way numpy does, from a raw header dict text and payload. */
function npyBytes(dict: string, payload: Uint8Array, major = 1): Uint8Array {
  const prefix = major === 1 ? 10 : 12;
  const enc = major === 3 ? new TextEncoder().encode(dict) : Uint8Array.from(dict, (c) => c.charCodeAt(0));
  const total = Math.ceil((prefix + enc.length + 1) / 64) * 64;
  const hlen = total - prefix;
  const out = new Uint8Array(total + payload.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const v = new DataView(out.buffer);
  if (major === 1) v.setUint16(8, hlen, true); else v.setUint32(8, hlen, true);
  out.fill(0x20, prefix, total - 1);
  out.set(enc, prefix);
  out[total - 1] = 0x0a;
  out.set(payload, total);
  return out;
}

function expectFormatError(fn: () => unknown, fragment: string | RegExp): void {
  let err: unknown;
  try { fn(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(FileFormatError);
  const fe = err as FileFormatError;
  expect(fe.exitCode).toBe(2);
  expect(fe.message).not.toContain('\n');
  expect(fe.message).toContain('bad.npy');
  expect(fe.message).toMatch(fragment);
}

describe('npy round trip', () => {
  const cases: NpyArray[] = [
    { dtype: 'f4', shape: [2, 3], data: Float32Array.from([1.5, -2, 0, Infinity, NaN, 3.25e-30]) },
    { dtype: 'f2', shape: [5], data: Uint16Array.from([0x3c00, 0xc000, 0x7c00, 0x0001, 0xffff]) },
    { dtype: 'i4', shape: [2, 2, 1], data: Int32Array.from([-2147483648, 2147483647, 0, -1]) },
    { dtype: 'u1', shape: [4], data: Uint8Array.from([0, 1, 128, 255]) },
    { dtype: 'bool', shape: [1, 3], data: Uint8Array.from([1, 0, 1]) },
    { dtype: 'f4', shape: [], data: Float32Array.from([42]) },
    { dtype: 'i4', shape: [0, 3], data: new Int32Array(0) },
  ];
  for (const c of cases) {
    it(`${c.dtype} [${c.shape.join(',')}]`, () => {
      const f = path.join(dir, `rt-${c.dtype}-${c.shape.join('x')}.npy`);
      writeNpy(f, c);
      const back = readNpy(f);
      expect(back.dtype).toBe(c.dtype);
      expect(back.shape).toEqual(c.shape);
      expect(back.data.constructor).toBe(c.data.constructor);
      expect(Buffer.from(back.data.buffer, back.data.byteOffset, back.data.byteLength))
        .toEqual(Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength));
      // numpy aligns the data to 64 bytes; so do we.
      expect((fs.statSync(f).size - c.data.byteLength) % 64).toBe(0);
    });
  }

  it('reads numpy-style headers of versions 2.0 and 3.0', () => {
    const payload = new Uint8Array(Int32Array.from([7, -8]).buffer);
    for (const major of [2, 3]) {
      const a = parseNpy(npyBytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", payload, major), 'v.npy');
      expect(a.shape).toEqual([2]);
      expect(Array.from(a.data)).toEqual([7, -8]);
    }
  });

  it('writes a header text numpy can parse', () => {
    const bytes = encodeNpy({ dtype: 'f4', shape: [3], data: new Float32Array(3) });
    const hlen = bytes[8]! | (bytes[9]! << 8);
    expect((10 + hlen) % 64).toBe(0);
    const header = Buffer.from(bytes.subarray(10, 10 + hlen)).toString('latin1');
    expect(header.trimEnd()).toBe("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }");
    expect(header.endsWith('\n')).toBe(true);
  });
});

describe('npy refused variants', () => {
  const f4x2 = new Uint8Array(8);
  const cases: Array<[string, () => Uint8Array, string | RegExp]> = [
    ['bad magic', () => Uint8Array.from(Buffer.from('PK\x03\x04 this is a zip file')), /bad magic/],
    ['too short', () => Uint8Array.from([0x93, 0x4e, 0x55]), /bad magic/],
    ['unknown version', () => { const b = npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", f4x2); b[6] = 4; return b; }, /version 4\.0/],
    ['fortran order', () => npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", f4x2), /Fortran/],
    ['object dtype', () => npyBytes("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", f4x2), /pickle/],
    ['big-endian', () => npyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", f4x2), /big-endian/],
    ['unsupported dtype', () => npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", f4x2), /unsupported dtype '<f8'/],
    ['structured dtype', () => npyBytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", f4x2), /structured/],
    ['truncated data', () => npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", f4x2), /truncated data/],
    ['huge lying shape', () => npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }", f4x2), /truncated data/],
    ['trailing bytes', () => npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", f4x2), /unexpected bytes/],
    ['truncated header', () => npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", f4x2).subarray(0, 30), /truncated .npy header/],
    ['no shape', () => npyBytes("{'descr': '<f4', 'fortran_order': False}", f4x2), /no 'shape'/],
    ['negative dim', () => npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", f4x2), /bad dimension/],
  ];
  for (const [name, make, fragment] of cases) {
    it(name, () => expectFormatError(() => parseNpy(make(), 'bad.npy'), fragment));
  }

  it('missing file', () => {
    expect(() => readNpy(path.join(dir, 'nope.npy'))).toThrow(/nope\.npy: cannot read .npy file \(ENOENT\)/);
  });
});

describe('real depth map', () => {
  it('loads float32 [448, 796] with finite metric depths', () => {
    const a = readNpy(DEPTH);
    expect(a.dtype).toBe('f4');
    expect(a.shape).toEqual([448, 796]);
    expect(a.data).toBeInstanceOf(Float32Array);
    expect(a.data.length).toBe(448 * 796);
    let min = Infinity;
    let max = -Infinity;
    let nonFinite = 0;
    for (const v of a.data) {
      if (!Number.isFinite(v)) nonFinite++;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect(nonFinite).toBe(0);
    // Indoor scene depth in metres: plausible range, not garbage from a misaligned read.
    expect(min).toBeGreaterThan(0.1);
    expect(max).toBeLessThan(100);
  });
});
