// GGML block formats decoded on the host, for the tensors a network does not read in a matmul
// (embedding rows gathered on the host, conv kernels, norms, position tables). Each value is
// computed in float64 from the block's f16 scales and integer quants (the formulas of ggml's
// dequantize_row_* loops), then rounded once to f32.

import { GGML_READ, type GgmlTypeName } from './types.ts';

export type GgmlBlockType = Exclude<GgmlTypeName, 'F32' | 'F16' | 'BF16'>;

const SIZES = new Map([...GGML_READ.values()].map((t) => [t.name, t]));

/** An IEEE half as a number (exact in float64). */
function half(bits: number): number {
  const exp = (bits >> 10) & 31;
  const frac = bits & 1023;
  const mag = exp === 0 ? frac * 2 ** -24 : exp === 31 ? (frac ? NaN : Infinity) : (1024 + frac) * 2 ** (exp - 25);
  return bits & 0x8000 ? -mag : mag;
}

/** Writes one block starting at byte `o` of `b` to `y` from index `at`. */
type BlockDecoder = (b: Uint8Array, o: number, y: Float32Array, at: number) => void;

const f16At = (b: Uint8Array, o: number) => half(b[o]! | (b[o + 1]! << 8));

/** The 32-value formats: a scale d (and an offset m for the _1 kinds), 4 or 5-bit quants in two halves. */
function smallBlock(withMin: boolean, fifthBit: boolean): BlockDecoder {
  const qhAt = withMin ? 4 : 2;
  const qsAt = qhAt + (fifthBit ? 4 : 0);
  const center = withMin ? 0 : fifthBit ? 16 : 8;
  return (b, o, y, at) => {
    const d = f16At(b, o);
    const m = withMin ? f16At(b, o + 2) : 0;
    // No offset added for the kinds without one: (0 * -d) stays -0 as in ggml.
    const value = withMin ? (q: number) => q * d + m : (q: number) => (q - center) * d;
    const qh = fifthBit ? (b[o + qhAt]! | (b[o + qhAt + 1]! << 8) | (b[o + qhAt + 2]! << 16) | (b[o + qhAt + 3]! << 24)) >>> 0 : 0;
    for (let j = 0; j < 16; j++) {
      const byte = b[o + qsAt + j]!;
      const hi0 = fifthBit ? ((qh >>> j) & 1) << 4 : 0;
      const hi1 = fifthBit ? ((qh >>> (j + 16)) & 1) << 4 : 0;
      y[at + j] = value((byte & 15) + hi0);
      y[at + j + 16] = value((byte >> 4) + hi1);
    }
  };
}

const q8_0: BlockDecoder = (b, o, y, at) => {
  const d = f16At(b, o);
  for (let j = 0; j < 32; j++) y[at + j] = ((b[o + 2 + j]! << 24) >> 24) * d;
};

/** The 6-bit scale and min of sub-block `j` (0..7) of a Q4_K / Q5_K super-block, packed in 12 bytes at `s`. */
function kScaleMin(b: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [b[s + j]! & 63, b[s + j + 4]! & 63];
  const low = b[s + j + 4]!;
  return [(low & 15) | ((b[s + j - 4]! >> 6) << 4), (low >> 4) | ((b[s + j]! >> 6) << 4)];
}

/** Q4_K and Q5_K: super-scales d and dmin, 8 sub-blocks of 32 with 6-bit scales and mins; Q5_K adds a fifth bit per value. */
function kBlock(fifthBit: boolean): BlockDecoder {
  const qsAt = fifthBit ? 48 : 16;
  return (b, o, y, at) => {
    const d = f16At(b, o);
    const dmin = f16At(b, o + 2);
    for (let sub = 0; sub < 8; sub++) {
      const [sc, mn] = kScaleMin(b, o + 4, sub);
      const pair = sub >> 1;
      const shift = sub & 1 ? 4 : 0;
      for (let l = 0; l < 32; l++) {
        const q = (b[o + qsAt + 32 * pair + l]! >> shift) & 15;
        const hi = fifthBit && (b[o + 16 + l]! >> sub) & 1 ? 16 : 0;
        y[at + 32 * sub + l] = d * sc * (q + hi) - dmin * mn;
      }
    }
  };
}

/** Q6_K: 4 low bits (ql), 2 high bits (qh), signed 8-bit scales per 16 values, one f16 d at the end. */
const q6_k: BlockDecoder = (b, o, y, at) => {
  const d = f16At(b, o + 208);
  for (let i = 0; i < 256; i++) {
    const half128 = i >> 7;
    const r = i & 127;
    const quarter = r >> 5; // which of the four 32-value runs of this half
    const l = r & 31;
    const ql = b[o + 64 * half128 + l + (quarter & 1 ? 32 : 0)]!;
    const low = quarter < 2 ? ql & 15 : ql >> 4;
    const high = (b[o + 128 + 32 * half128 + l]! >> (2 * quarter)) & 3;
    const scale = (b[o + 192 + 8 * half128 + (l >> 4) + 2 * quarter]! << 24) >> 24;
    y[at + i] = d * scale * ((low | (high << 4)) - 32);
  }
};

const DECODERS: Readonly<Record<GgmlBlockType, BlockDecoder>> = {
  Q8_0: q8_0,
  Q4_0: smallBlock(false, false),
  Q4_1: smallBlock(true, false),
  Q5_0: smallBlock(false, true),
  Q5_1: smallBlock(true, true),
  Q4_K: kBlock(false),
  Q5_K: kBlock(true),
  Q6_K: q6_k,
};

/** The values of whole blocks stored back to back (a trailing partial block is an error). */
export function dequantizeBlocks(type: GgmlBlockType, bytes: Uint8Array): Float32Array {
  const { block: values, bytes: size } = SIZES.get(type)!;
  if (bytes.length % size !== 0) throw new RangeError(`dequantizeBlocks: ${bytes.length} bytes are not whole ${type} blocks of ${size}`);
  const n = bytes.length / size;
  const y = new Float32Array(n * values);
  const decode = DECODERS[type];
  for (let i = 0; i < n; i++) decode(bytes, i * size, y, i * values);
  return y;
}
