/**
 * Minimal PNG codec on node:zlib. Encode: 8-bit gray or RGB (what egox writes: prior frames,
 * side-by-side figures). Decode: non-interlaced gray / gray+alpha / RGB / RGBA / palette at the bit
 * depths PNG allows for them (1/2/4/8 for gray and palette, 8/16 otherwise) - enough for the
 * instance masks segmentation tools write. Palette images decode to their INDICES (for a mask the
 * index is the instance id), with the palette alongside.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { FileFormatError } from './format-error.ts';

/** 16384 x 16384: far above any frame or mask egox reads, and a bound on what a header may make it allocate. */
const MAX_PNG_PIXELS = 2 ** 28;
const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

/** Channels per PNG colour type (0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA). */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Record<number, readonly number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

export interface PngImage {
  width: number;
  height: number;
  /** Samples per pixel of `data`: 1 gray / palette index, 2 gray+alpha, 3 RGB, 4 RGBA. */
  channels: number;
  colorType: number;
  bitDepth: number;
  /** Row-major interleaved samples; Uint16Array only for 16-bit images. Sub-byte samples are widened to one byte each (not rescaled). */
  data: Uint8Array | Uint16Array;
  /** RGB triplets for palette images. */
  palette?: Uint8Array;
}

// ---------------------------------------------------------------- CRC-32 (PNG chunk checksum)

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(parts: Uint8Array[]): number {
  let c = 0xffffffff;
  for (const p of parts) for (let i = 0; i < p.length; i++) c = CRC_TABLE[(c ^ p[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// ---------------------------------------------------------------- encode

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  const typeBytes = new TextEncoder().encode(type);
  out.set(typeBytes, 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32([typeBytes, data]));
  return out;
}

/** Encodes 8-bit gray (channels 1) or RGB (channels 3) pixels, row-major interleaved. */
export function encodePng(width: number, height: number, channels: 1 | 3, pixels: Uint8Array): Uint8Array {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new Error(`encodePng: bad size ${width}x${height}`);
  }
  const stride = width * channels;
  if (pixels.length !== stride * height) throw new Error(`encodePng: ${pixels.length} bytes for ${width}x${height}x${channels}`);
  // Filter type 0 (None) on every row: simple, and deflate does well enough on rendered frames.
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8;
  ihdr[9] = channels === 1 ? 0 : 2;
  const idat = zlib.deflateSync(raw, { level: 6 });
  const parts = [SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', new Uint8Array(idat.buffer, idat.byteOffset, idat.length)), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, o), (o += p.length);
  return out;
}

/** Writes a PNG via a temporary file and a rename, so a crash leaves no half-written image. */
export function writePng(file: string, width: number, height: number, channels: 1 | 3, pixels: Uint8Array): void {
  const bytes = encodePng(width, height, channels, pixels);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, file);
}

// ---------------------------------------------------------------- decode

export function readPng(file: string): PngImage {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new FileFormatError(file, `cannot read PNG file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return decodePng(bytes, file);
}

export function decodePng(bytes: Uint8Array, nameForErrors = '<png>'): PngImage {
  const fail = (problem: string): never => {
    throw new FileFormatError(nameForErrors, problem);
  };
  if (bytes.length < 8 || SIGNATURE.some((b, i) => bytes[i] !== b)) fail('not a PNG file (bad signature)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 8;
  let width = 0;
  let height = 0;
  let bitDepth = 0;
  let colorType = -1;
  let palette: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let sawEnd = false;
  while (pos + 12 <= bytes.length) {
    const len = view.getUint32(pos);
    const type = String.fromCharCode(bytes[pos + 4]!, bytes[pos + 5]!, bytes[pos + 6]!, bytes[pos + 7]!);
    if (pos + 12 + len > bytes.length) fail(`chunk ${type} runs past the end of the file (truncated PNG)`);
    const data = bytes.subarray(pos + 8, pos + 8 + len);
    const crc = view.getUint32(pos + 8 + len);
    if (crc32([bytes.subarray(pos + 4, pos + 8), data]) !== crc) fail(`chunk ${type} has a bad CRC (corrupt PNG)`);
    if (type === 'IHDR') {
      if (len !== 13) fail('IHDR chunk has the wrong length');
      const h = new DataView(data.buffer, data.byteOffset, 13);
      width = h.getUint32(0);
      height = h.getUint32(4);
      bitDepth = data[8]!;
      colorType = data[9]!;
      if (data[10] !== 0 || data[11] !== 0) fail('unsupported compression or filter method');
      if (data[12] !== 0) fail('interlaced (Adam7) PNG is not supported; re-save it without interlacing');
      if (CHANNELS[colorType] === undefined) fail(`unknown colour type ${colorType}`);
      if (!DEPTHS[colorType]!.includes(bitDepth)) fail(`bit depth ${bitDepth} is not valid for colour type ${colorType}`);
      if (width === 0 || height === 0) fail(`empty image ${width}x${height}`);
      if (width * height > MAX_PNG_PIXELS) fail(`image of ${width}x${height} is larger than the ${MAX_PNG_PIXELS} pixels egox reads (masks and frames are video-sized)`);
    } else if (type === 'PLTE') {
      palette = data.slice();
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      sawEnd = true;
      break;
    }
    pos += 12 + len;
  }
  if (colorType < 0) fail('no IHDR chunk');
  if (!sawEnd) fail('no IEND chunk (truncated PNG)');
  if (idat.length === 0) fail('no image data (IDAT)');
  if (colorType === 3 && !palette) fail('palette image without a PLTE chunk');
  const channels0 = CHANNELS[colorType]!;
  // Inflate no more than the image can hold: a few KB of IDAT may inflate to gigabytes.
  const expected = (Math.ceil((width * channels0 * bitDepth) / 8) + 1) * height;
  let raw: Uint8Array;
  try {
    raw = new Uint8Array(zlib.inflateSync(Buffer.concat(idat), { maxOutputLength: Math.max(expected, 1) }));
  } catch (e) {
    return fail(`image data does not inflate (${(e as Error).message})`);
  }
  const channels = CHANNELS[colorType]!;
  const bitsPerPixel = channels * bitDepth;
  const stride = Math.ceil((width * bitsPerPixel) / 8);
  const bpp = Math.max(1, bitsPerPixel >> 3); // filter byte distance
  if (raw.length < (stride + 1) * height) fail(`image data holds ${raw.length} bytes, need ${(stride + 1) * height}`);
  const rows = unfilter(raw, stride, height, bpp, fail);
  const n = width * height * channels;
  let out: Uint8Array | Uint16Array;
  if (bitDepth === 16) {
    const o = new Uint16Array(n);
    for (let y = 0; y < height; y++) for (let i = 0; i < width * channels; i++) o[y * width * channels + i] = (rows[y * stride + 2 * i]! << 8) | rows[y * stride + 2 * i + 1]!;
    out = o;
  } else if (bitDepth === 8) {
    out = rows.length === n ? rows : rows.subarray(0, n);
  } else {
    const o = new Uint8Array(n);
    const perByte = 8 / bitDepth;
    const maskBits = (1 << bitDepth) - 1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const b = rows[y * stride + Math.floor(x / perByte)]!;
        const shift = 8 - bitDepth * ((x % perByte) + 1);
        o[y * width + x] = (b >> shift) & maskBits;
      }
    }
    out = o;
  }
  const img: PngImage = { width, height, channels, colorType, bitDepth, data: out };
  if (palette) img.palette = palette;
  return img;
}

/** Undoes the per-row filters (None, Sub, Up, Average, Paeth) into contiguous rows. */
function unfilter(raw: Uint8Array, stride: number, height: number, bpp: number, fail: (p: string) => never): Uint8Array {
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]!;
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const o = y * stride;
    const up = y * stride - stride;
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? out[o + i - bpp]! : 0;
      const b = y > 0 ? out[up + i]! : 0;
      const c = y > 0 && i >= bpp ? out[up + i - bpp]! : 0;
      let pred: number;
      switch (f) {
        case 0: pred = 0; break;
        case 1: pred = a; break;
        case 2: pred = b; break;
        case 3: pred = (a + b) >> 1; break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default: return fail(`row ${y} has unknown filter type ${f}`);
      }
      out[o + i] = (src[i]! + pred) & 0xff;
    }
  }
  return out;
}
