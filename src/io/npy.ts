/**
 * NumPy .npy reader/writer (format versions 1.0, 2.0, 3.0), little-endian, C order, five dtypes.
 * Everything else (Fortran order, big-endian, object/pickle, structured dtypes) is refused with a
 * one-line FileFormatError naming the file, because egox never needs them and guessing is unsafe.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FileFormatError } from './format-error.ts';

export type NpyDtype = 'f4' | 'f2' | 'i4' | 'u1' | 'bool';

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** f4: Float32Array, f2: Uint16Array (raw IEEE half bits), i4: Int32Array, u1/bool: Uint8Array. */
  data: Float32Array | Uint16Array | Int32Array | Uint8Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const ITEM_SIZE: Record<NpyDtype, number> = { f4: 4, f2: 2, i4: 4, u1: 1, bool: 1 };
const DESCR_OUT: Record<NpyDtype, string> = { f4: '<f4', f2: '<f2', i4: '<i4', u1: '|u1', bool: '|b1' };

export function readNpy(file: string): NpyArray {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new FileFormatError(file, `cannot read .npy file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return parseNpy(bytes, file);
}

/** The longest header numpy's np.load accepts by default. */
const MAX_HEADER_BYTES = 10_000;

export function parseNpy(bytes: Uint8Array, nameForErrors: string): NpyArray {
  const fail = (problem: string): never => {
    throw new FileFormatError(nameForErrors, problem);
  };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    fail('not a .npy file (bad magic; expected \\x93NUMPY)');
  }
  const major = bytes[6]!;
  const minor = bytes[7]!;
  let headerStart: number;
  let headerLen: number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail('truncated .npy header');
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    return fail(`unsupported .npy format version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`);
  }
  // numpy's own reader refuses headers over 10,000 bytes (np.load's max_header_size) for the
  // same reason: a header is a short dict, and a long one is a file built to be slow to parse.
  if (headerLen > MAX_HEADER_BYTES) fail(`.npy header of ${headerLen} bytes is longer than the ${MAX_HEADER_BYTES} numpy itself accepts; re-save the array with np.save`);
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) {
    fail(`truncated .npy header (declares ${headerLen} header bytes, file has ${bytes.length - headerStart})`);
  }
  const headerBytes = bytes.subarray(headerStart, dataStart);
  const header = major === 3
    ? new TextDecoder('utf-8').decode(headerBytes)
    : new TextDecoder('latin1').decode(headerBytes);
  const { dtype, shape } = parseHeader(header, fail);

  const count = shape.reduce((a, b) => a * b, 1);
  const itemSize = ITEM_SIZE[dtype];
  const expected = count * itemSize;
  const available = bytes.length - dataStart;
  // Compare before allocating: a lying shape must not make us allocate its size.
  if (!Number.isSafeInteger(expected) || expected > available) {
    fail(`truncated data: shape [${shape.join(', ')}] ${dtype} needs ${expected} bytes, file has ${available}`);
  }
  if (expected < available) {
    fail(`${available - expected} unexpected bytes after the data of shape [${shape.join(', ')}] ${dtype}`);
  }
  // Copy: the payload is not necessarily aligned for the typed array inside `bytes`.
  // (Explicit copy: Buffer.prototype.slice would return a view, not a copy.)
  const raw = new Uint8Array(expected);
  raw.set(bytes.subarray(dataStart, dataStart + expected));
  const buf = raw.buffer;
  let data: NpyArray['data'];
  switch (dtype) {
    case 'f4': data = new Float32Array(buf, 0, count); break;
    case 'f2': data = new Uint16Array(buf, 0, count); break;
    case 'i4': data = new Int32Array(buf, 0, count); break;
    default: data = raw;
  }
  return { dtype, shape, data };
}

function parseHeader(header: string, fail: (p: string) => never): { dtype: NpyDtype; shape: number[] } {
  const h = header.trim();
  if (!h.startsWith('{') || !h.endsWith('}')) fail(`malformed .npy header (not a dict): ${clip(h)}`);
  // Each value is found by indexOf and read forward: linear in the header whatever it holds.
  const descrAt = valueOf(h, 'descr');
  const quote = descrAt < 0 ? '' : h[descrAt];
  const descrEnd = quote === "'" || quote === '"' ? h.indexOf(quote, descrAt + 1) : -1;
  if (descrEnd < 0) {
    if (descrAt >= 0 && h[descrAt] === '[') fail('structured (record) dtypes are not supported');
    fail(`malformed .npy header (no 'descr'): ${clip(h)}`);
  }
  const fortranAt = valueOf(h, 'fortran_order');
  const fortran = fortranAt < 0 ? undefined : h.startsWith('True', fortranAt) ? true : h.startsWith('False', fortranAt) ? false : undefined;
  if (fortran === undefined) fail(`malformed .npy header (no 'fortran_order'): ${clip(h)}`);
  const shapeAt = valueOf(h, 'shape');
  const shapeEnd = shapeAt >= 0 && h[shapeAt] === '(' ? h.indexOf(')', shapeAt) : -1;
  if (shapeEnd < 0) fail(`malformed .npy header (no 'shape' tuple): ${clip(h)}`);

  const descr = h.slice(descrAt + 1, descrEnd);
  const dtype = dtypeFromDescr(descr, fail);
  if (fortran) {
    fail('Fortran-order arrays are not supported; save with np.ascontiguousarray(arr)');
  }
  const shape: number[] = [];
  for (const part of h.slice(shapeAt + 1, shapeEnd).split(',')) {
    const s = part.trim().replace(/L$/, '');
    if (s === '') continue;
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) fail(`bad dimension '${part.trim()}' in shape`);
    shape.push(Number(s));
  }
  return { dtype, shape };
}

/** Index of the value after the first `'key':` (or `"key":`), -1 when the key is absent. */
function valueOf(h: string, key: string): number {
  for (const q of ["'", '"']) {
    const at = h.indexOf(`${q}${key}${q}`);
    if (at < 0) continue;
    let i = at + key.length + 2;
    while (h[i] === ' ') i++;
    if (h[i] !== ':') return -1;
    for (i++; h[i] === ' '; ) i++;
    return i;
  }
  return -1;
}

function dtypeFromDescr(descr: string, fail: (p: string) => never): NpyDtype {
  const order = descr[0];
  const code = descr.slice(1);
  if (code === 'O' || descr === 'O') fail(`object/pickle dtype '${descr}' is not supported (pickled data is never loaded)`);
  const oneByte: Record<string, NpyDtype> = { u1: 'u1', b1: 'bool' };
  const multiByte: Record<string, NpyDtype> = { f4: 'f4', f2: 'f2', i4: 'i4' };
  if (oneByte[code] && (order === '|' || order === '<' || order === '>' || order === '=')) return oneByte[code]!;
  if (multiByte[code]) {
    if (order === '<') return multiByte[code]!;
    if (order === '>') fail(`big-endian dtype '${descr}' is not supported; re-save with arr.astype('<${code}')`);
  }
  return fail(`unsupported dtype '${descr}' (supported: <f4, <f2, <i4, |u1, |b1)`);
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Serialises an array to .npy bytes (version 1.0, or 2.0 when the header would not fit). */
export function encodeNpy(arr: NpyArray): Uint8Array {
  const itemSize = ITEM_SIZE[arr.dtype];
  if (itemSize === undefined) throw new Error(`encodeNpy: unknown dtype ${String(arr.dtype)}`);
  for (const d of arr.shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`encodeNpy: bad dimension ${d}`);
  }
  const count = arr.shape.reduce((a, b) => a * b, 1);
  if (arr.data.BYTES_PER_ELEMENT !== itemSize || arr.data.length !== count) {
    throw new Error(`encodeNpy: data (${arr.data.length} x ${arr.data.BYTES_PER_ELEMENT} bytes) does not match ${arr.dtype} [${arr.shape.join(', ')}]`);
  }
  const shapeStr = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  const dict = `{'descr': '${DESCR_OUT[arr.dtype]}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  let major = 1;
  let prefix = 10;
  // Pad so the data starts on a 64-byte boundary, as numpy does; header ends with '\n'.
  let total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  if (total - prefix > 0xffff) {
    major = 2;
    prefix = 12;
    total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  }
  const headerLen = total - prefix;
  const out = new Uint8Array(total + count * itemSize);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, headerLen, true);
  else view.setUint32(8, headerLen, true);
  const text = dict.padEnd(headerLen - 1, ' ') + '\n';
  for (let i = 0; i < text.length; i++) out[prefix + i] = text.charCodeAt(i);
  out.set(new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength), total);
  return out;
}

/** Writes a .npy file atomically (temp file + rename), so a failure leaves nothing half-written. */
export function writeNpy(file: string, arr: NpyArray): void {
  const bytes = encodeNpy(arr);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
