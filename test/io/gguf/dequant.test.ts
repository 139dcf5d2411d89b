// Host dequantization of every GGML block format egox reads: bit-identical to the float64
// formulas of test/ref/quant.ts rounded once to f32, on random blocks (subnormal scales
// included); and the weight store streaming a block tensor to f32 / bf16 storage through
// chunk boundaries that cut blocks; a fused Q8_0 tensor read as its row blocks (CLIP's to_qkv
// in the original names).
import { describe, expect, it } from 'vitest';
import { dequantizeBlocks, type GgmlBlockType } from '../../../src/io/gguf/index.ts';
import { WeightStore, type WeightSource } from '../../../src/graph/weights.ts';
import { RowBlockSource } from '../../../src/graph/weight-views.ts';
import { f32ToHalfCodes } from '../../../src/runtime/dtype.ts';
import { BLOCKS, dequant64, randomBlocks, type BlockFormat } from '../../ref/quant.ts';

const FORMATS = Object.keys(BLOCKS) as BlockFormat[];

describe('GGML block dequantization on the host', () => {
  for (const f of FORMATS) {
    it(`${f}: equals the float64 reference rounded to f32`, () => {
      const n = 37;
      const bytes = randomBlocks(f, n);
      const got = dequantizeBlocks(f.toUpperCase() as GgmlBlockType, bytes);
      const want = Float32Array.from(dequant64(f, bytes, n));
      expect(got.length).toBe(want.length);
      const bad = got.findIndex((v, i) => !Object.is(v, want[i]));
      expect(bad, `first mismatch at ${bad}: ${got[bad]} vs ${want[bad]}`).toBe(-1);
    });
  }

  it('refuses a partial block', () => {
    expect(() => dequantizeBlocks('Q8_0', new Uint8Array(35))).toThrow(/not whole Q8_0 blocks/);
  });

  it('the weight store streams a block tensor as f32 and bf16 through chunks that split blocks', async () => {
    const blocks = 5;
    const bytes = randomBlocks('q6_k', blocks);
    const want = Float32Array.from(dequant64('q6_k', bytes, blocks));
    // A source whose chunks are 100 bytes: every block (210 bytes) is cut.
    const source: WeightSource = {
      tensors: new Map([['w', { dtype: 'Q6_K' as const, shape: [5, 256] }]]),
      async *chunks() {
        for (let p = 0; p < bytes.length; p += 100) yield bytes.slice(p, p + 100);
      },
    };
    const store = new WeightStore(source, 'test');
    for (const dtype of ['f32', 'bf16'] as const) {
      const out = new Uint8Array(dtype === 'f32' ? want.length * 4 : want.length * 2);
      await store.stream('w', [5, 256], dtype, (at, b) => void out.set(b, at));
      const expected = dtype === 'f32' ? new Uint8Array(want.buffer) : new Uint8Array(f32ToHalfCodes(want, 'bf16').buffer);
      expect(Buffer.from(out).equals(Buffer.from(expected)), dtype).toBe(true);
    }
  });

  it('a fused Q8_0 tensor splits into its row blocks (whole blocks per row)', async () => {
    const fused = randomBlocks('q8_0', 6 * 2); // [6, 64]: 2 blocks a row
    const base: WeightSource = {
      tensors: new Map([['qkv', { dtype: 'Q8_0' as const, shape: [6, 64] }]]),
      async *chunks() {
        for (let p = 0; p < fused.length; p += 50) yield fused.slice(p, p + 50);
      },
    };
    const view = new RowBlockSource(base, new Map(['q', 'k', 'v'].map((n, index) => [n, { key: 'qkv', index, count: 3 }])));
    for (const [index, n] of ['q', 'k', 'v'].entries()) {
      expect(view.tensors.get(n)).toEqual({ dtype: 'Q8_0', shape: [2, 64] });
      const parts: Uint8Array[] = [];
      for await (const c of view.chunks(n, 50)) parts.push(c);
      expect(Buffer.concat(parts).equals(Buffer.from(fused.subarray(index * 4 * 34, (index + 1) * 4 * 34))), n).toBe(true);
    }
  });
});
