// The weight store re-cuts a checkpoint's chunks, whatever their sizes, into whole elements,
// words or GGML blocks: the bytes written equal a conversion of the whole tensor at once, the
// last odd element or word padded, and a tensor ending in a partial block is refused.
import { describe, expect, it } from 'vitest';
import { convert, WeightStore, type FileDtype, type WeightSource } from '../../src/graph/weights.ts';
import { dequant64 } from '../ref/quant.ts';
import { storageBytes } from '../../src/runtime/dtype.ts';
import { quantizeQ8_0 } from '../model/quantize-blocks.ts';

/** One tensor served in chunks of `step` bytes (odd on purpose), ignoring the store's chunk size. */
function oddChunks(dtype: FileDtype, shape: number[], bytes: Uint8Array, step: number): WeightSource {
  return {
    tensors: new Map([['w', { dtype, shape }]]),
    async *chunks() {
      for (let p = 0; p < bytes.length; p += step) yield bytes.slice(p, p + step);
    },
  };
}

async function streamed(store: WeightStore, shape: number[], dtype: 'f32' | 'bf16' | 'q8_0'): Promise<Uint8Array> {
  const parts: [number, Uint8Array][] = [];
  await store.stream('w', shape, dtype, (at, b) => void parts.push([at, b.slice()]));
  const out = new Uint8Array(parts.reduce((n, [at, b]) => Math.max(n, at + b.length), 0));
  for (const [at, b] of parts) out.set(b, at);
  return out;
}

describe('WeightStore chunking', () => {
  const values = Float32Array.from({ length: 7 }, (_, i) => (i - 3) * 1.37);
  const f32 = new Uint8Array(values.buffer);

  for (const step of [1, 3, 5, 13, 64]) {
    it(`f32 -> bf16 of 7 values from ${step}-byte chunks equals one conversion`, async () => {
      const padded = new Uint8Array(32);
      padded.set(f32);
      const want = convert(padded, 'f32', 'bf16').subarray(0, storageBytes('bf16', 7)); // 16: storage is whole words
      expect(await streamed(new WeightStore(oddChunks('F32', [7], f32, step), 'mem'), [7], 'bf16')).toEqual(want);
      expect(await streamed(new WeightStore(oddChunks('F32', [7], f32, step), 'mem'), [7], 'f32')).toEqual(f32);
    });
  }

  it('Q8_0 blocks: raw as stored (last word padded) and dequantized on the host, from odd chunks', async () => {
    const row = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
    const blocks = quantizeQ8_0(row); // 2 blocks of 34 bytes
    const raw = await streamed(new WeightStore(oddChunks('Q8_0', [1, 64], blocks, 7), 'mem'), [1, 64], 'q8_0');
    expect(raw.subarray(0, blocks.length)).toEqual(blocks);
    const dq = await streamed(new WeightStore(oddChunks('Q8_0', [1, 64], blocks, 7), 'mem'), [1, 64], 'f32');
    expect(Array.from(new Float32Array(dq.buffer))).toEqual(Array.from(Float32Array.from(dequant64('q8_0', blocks, 2))));
  });

  it('a block tensor ending in a partial block is one line naming it', async () => {
    const blocks = quantizeQ8_0(new Float32Array(64)).subarray(0, 60);
    await expect(streamed(new WeightStore(oddChunks('Q8_0', [1, 64], blocks, 7), 'mem'), [1, 64], 'f32')).rejects.toThrow(/'w' in mem ends in a partial Q8_0 block/);
  });
});
