// Float64 dequantization of GGML's block formats, written from ggml's dequantize_row_* loops
// (ggml-quants.c) block by block, and random blocks to feed them.

export type BlockFormat = 'q8_0' | 'q4_0' | 'q4_1' | 'q5_0' | 'q5_1' | 'q4_k' | 'q5_k' | 'q6_k';

export const BLOCKS: Record<BlockFormat, { qk: number; bytes: number }> = {
  q8_0: { qk: 32, bytes: 34 }, q4_0: { qk: 32, bytes: 18 }, q4_1: { qk: 32, bytes: 20 }, q5_0: { qk: 32, bytes: 22 },
  q5_1: { qk: 32, bytes: 24 }, q4_k: { qk: 256, bytes: 144 }, q5_k: { qk: 256, bytes: 176 }, q6_k: { qk: 256, bytes: 210 },
};

export function half64(bits: number): number {
  const s = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function scaleMinK4(j: number, q: Uint8Array, at: number): [number, number] {
  if (j < 4) return [q[at + j]! & 63, q[at + j + 4]! & 63];
  return [(q[at + j + 4]! & 0xf) | ((q[at + j - 4]! >> 6) << 4), (q[at + j + 4]! >> 4) | ((q[at + j]! >> 6) << 4)];
}

/** All values of `blocks` blocks stored back to back in `b`. */
export function dequant64(f: BlockFormat, b: Uint8Array, blocks: number): Float64Array {
  const { qk, bytes } = BLOCKS[f];
  const y = new Float64Array(blocks * qk);
  const h = (o: number) => half64(b[o]! | (b[o + 1]! << 8));
  const i8 = (o: number) => (b[o]! << 24) >> 24;
  for (let i = 0; i < blocks; i++) {
    const o = i * bytes;
    const out = i * qk;
    switch (f) {
      case 'q8_0':
        for (let j = 0; j < 32; j++) y[out + j] = i8(o + 2 + j) * h(o);
        break;
      case 'q4_0': case 'q4_1': {
        const qs = f === 'q4_0' ? o + 2 : o + 4;
        for (let j = 0; j < 16; j++) {
          const [x0, x1] = [b[qs + j]! & 0xf, b[qs + j]! >> 4];
          y[out + j] = f === 'q4_0' ? (x0 - 8) * h(o) : x0 * h(o) + h(o + 2);
          y[out + j + 16] = f === 'q4_0' ? (x1 - 8) * h(o) : x1 * h(o) + h(o + 2);
        }
        break;
      }
      case 'q5_0': case 'q5_1': {
        const [qhAt, qs] = f === 'q5_0' ? [o + 2, o + 6] : [o + 4, o + 8];
        const qh = (b[qhAt]! | (b[qhAt + 1]! << 8) | (b[qhAt + 2]! << 16) | (b[qhAt + 3]! << 24)) >>> 0;
        for (let j = 0; j < 16; j++) {
          const x0 = (b[qs + j]! & 0xf) | (((qh >>> j) << 4) & 0x10);
          const x1 = (b[qs + j]! >> 4) | ((qh >>> (j + 12)) & 0x10);
          y[out + j] = f === 'q5_0' ? (x0 - 16) * h(o) : x0 * h(o) + h(o + 2);
          y[out + j + 16] = f === 'q5_0' ? (x1 - 16) * h(o) : x1 * h(o) + h(o + 2);
        }
        break;
      }
      case 'q4_k': case 'q5_k': {
        const d = h(o);
        const min = h(o + 2);
        const qhAt = o + 16;
        let q = f === 'q4_k' ? o + 16 : o + 48;
        let n = out;
        for (let j = 0, is = 0, u1 = 1, u2 = 2; j < 256; j += 64, is += 2, u1 <<= 2, u2 <<= 2) {
          const [sc1, m1] = scaleMinK4(is, b, o + 4);
          const [sc2, m2] = scaleMinK4(is + 1, b, o + 4);
          for (let l = 0; l < 32; l++) y[n++] = d * sc1 * ((b[q + l]! & 0xf) + (f === 'q5_k' && b[qhAt + l]! & u1 ? 16 : 0)) - min * m1;
          for (let l = 0; l < 32; l++) y[n++] = d * sc2 * ((b[q + l]! >> 4) + (f === 'q5_k' && b[qhAt + l]! & u2 ? 16 : 0)) - min * m2;
          q += 32;
        }
        break;
      }
      case 'q6_k': {
        const d = h(o + 208);
        for (let half = 0; half < 2; half++) {
          const ql = o + 64 * half;
          const qh = o + 128 + 32 * half;
          const sc = o + 192 + 8 * half;
          const base = out + 128 * half;
          for (let l = 0; l < 32; l++) {
            const is = l >> 4;
            const q1 = ((b[ql + l]! & 0xf) | (((b[qh + l]! >> 0) & 3) << 4)) - 32;
            const q2 = ((b[ql + l + 32]! & 0xf) | (((b[qh + l]! >> 2) & 3) << 4)) - 32;
            const q3 = ((b[ql + l]! >> 4) | (((b[qh + l]! >> 4) & 3) << 4)) - 32;
            const q4 = ((b[ql + l + 32]! >> 4) | (((b[qh + l]! >> 6) & 3) << 4)) - 32;
            y[base + l] = d * i8(sc + is) * q1;
            y[base + l + 32] = d * i8(sc + is + 2) * q2;
            y[base + l + 64] = d * i8(sc + is + 4) * q3;
            y[base + l + 96] = d * i8(sc + is + 6) * q4;
          }
        }
        break;
      }
    }
  }
  return y;
}

/** f16 bits of a scale: mostly normal values of moderate size, every fourth one subnormal. */
function randomScaleBits(i: number, big: boolean): number {
  const sign = Math.random() < 0.5 ? 0x8000 : 0;
  if (i % 4 === 3) return sign | (1 + Math.floor(Math.random() * 1023)); // subnormal
  const e = big ? 10 + Math.floor(Math.random() * 8) : 3 + Math.floor(Math.random() * 10);
  return sign | (e << 10) | Math.floor(Math.random() * 1024);
}

/** Random blocks: random quants and scale bytes, the f16 scales from randomScaleBits. */
export function randomBlocks(f: BlockFormat, blocks: number): Uint8Array {
  const { bytes } = BLOCKS[f];
  const b = new Uint8Array(blocks * bytes).map(() => Math.floor(Math.random() * 256));
  const put = (o: number, bits: number) => {
    b[o] = bits & 0xff;
    b[o + 1] = bits >> 8;
  };
  for (let i = 0; i < blocks; i++) {
    const o = i * bytes;
    if (f === 'q6_k') put(o + 208, randomScaleBits(i, false));
    else {
      put(o, randomScaleBits(i, true));
      if (f === 'q4_1' || f === 'q5_1' || f === 'q4_k' || f === 'q5_k') put(o + 2, randomScaleBits(i + 1, true));
    }
  }
  return b;
}
