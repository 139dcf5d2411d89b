import { describe, expect, it } from 'vitest';
import { useDevice } from '../../helpers/gpu.ts';
import { concat, gatherProgram, patchify, permute, sliceAxis, transpose, unpatchify, contiguousStrides } from '../../../src/kernels/layout/gather.ts';
import type { EgoxDevice } from '../../../src/runtime/device.ts';
import type { Tensor } from '../../../src/runtime/tensor.ts';
import { refConcat, refPatchify, refPermute, refSlice, refUnpatchify } from '../../ref/layout.ts';
import type { FloatDType } from '../../../src/runtime/dtype.ts';

const device = useDevice();
type Dt = FloatDType;

/** Random raw bit patterns (NaN payloads included): copies must keep every bit. */
function randomBits(n: number, dtype: Dt): Uint32Array | Uint16Array {
  if (dtype === 'f32') return Uint32Array.from({ length: n }, () => (Math.random() * 2 ** 32) >>> 0);
  return Uint16Array.from({ length: n }, () => (Math.random() * 2 ** 16) >>> 0);
}

async function upload(dev: EgoxDevice, bits: Uint32Array | Uint16Array, shape: number[], dtype: Dt): Promise<Tensor> {
  const t = dev.empty(shape, dtype);
  await dev.write(t, new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength));
  return t;
}

async function poisoned(dev: EgoxDevice, shape: number[], dtype: Dt): Promise<Tensor> {
  const t = dev.empty(shape, dtype);
  await dev.write(t, new Uint8Array(t.byteLength).fill(0xff));
  return t;
}

async function readBits(dev: EgoxDevice, t: Tensor): Promise<number[]> {
  const bytes = await dev.readBytes(t);
  const arr = t.dtype === 'f32' ? new Uint32Array(bytes.buffer, 0, t.numel) : new Uint16Array(bytes.buffer, 0, t.numel);
  return [...arr];
}

/** Number of positions that differ (0 = exact). */
function mismatches(got: number[], want: number[]): number {
  if (got.length !== want.length) return Math.max(got.length, want.length);
  let bad = 0;
  for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) bad++;
  return bad;
}

describe('layout kernels (exact copies)', () => {
  for (const dtype of ['f32', 'bf16', 'f16'] as const) {
    it(`permute and transpose, ${dtype}`, async () => {
      const dev = await device();
      const shape = [3, 5, 7, 3]; // 315 elements: odd, so 16-bit output ends in half a word
      const x = randomBits(315, dtype);
      const xt = await upload(dev, x, shape, dtype);
      for (const perm of [[2, 0, 3, 1], [3, 2, 1, 0], [0, 1, 3, 2], [1, 0, 2, 3]]) {
        const out = await poisoned(dev, perm.map((p) => shape[p]!), dtype);
        permute(dev, xt, perm, out);
        expect(mismatches(await readBits(dev, out), refPermute(x, shape, perm)), `perm ${perm}`).toBe(0);
      }
      const m = randomBits(37 * 67, dtype);
      const out = await poisoned(dev, [67, 37], dtype);
      transpose(dev, await upload(dev, m, [37, 67], dtype), 0, 1, out);
      expect(mismatches(await readBits(dev, out), refPermute(m, [37, 67], [1, 0]))).toBe(0);
    });

    it(`slice along every axis, ${dtype}`, async () => {
      const dev = await device();
      const shape = [3, 5, 7, 9];
      const x = randomBits(945, dtype);
      const xt = await upload(dev, x, shape, dtype);
      for (const [axis, start, end] of [[0, 1, 3], [1, 2, 5], [2, 3, 4], [3, 1, 8], [-1, 0, 9]] as const) {
        const a = axis < 0 ? axis + 4 : axis;
        const out = await poisoned(dev, shape.map((d, i) => (i === a ? end - start : d)), dtype);
        sliceAxis(dev, xt, axis, start, end, out);
        expect(mismatches(await readBits(dev, out), refSlice(x, shape, a, start, end)), `axis ${axis}`).toBe(0);
      }
    });

    it(`concat along every axis (2 and 3 inputs), ${dtype}`, async () => {
      const dev = await device();
      for (const axis of [0, 1, 2, 3]) {
        const base = [3, 2, 5, 7];
        const sizes = axis % 2 === 0 ? [3, 1, 4] : [5, 2];
        const parts = sizes.map((n) => {
          const shape = base.map((d, i) => (i === axis ? n : d));
          return { shape, data: randomBits(shape.reduce((a, b) => a * b, 1), dtype) };
        });
        const ts = await Promise.all(parts.map((p) => upload(dev, p.data, p.shape, dtype)));
        const outShape = base.map((d, i) => (i === axis ? sizes.reduce((a, b) => a + b, 0) : d));
        const out = await poisoned(dev, outShape, dtype);
        concat(dev, ts, axis, out);
        expect(mismatches(await readBits(dev, out), refConcat(parts, axis)), `axis ${axis}`).toBe(0);
      }
    });

    it(`patchify and unpatchify (latent F=3, H=6, W=10), ${dtype}`, async () => {
      const dev = await device();
      const [C, F, H, W] = [16, 3, 6, 10];
      const x = randomBits(C * F * H * W, dtype);
      const out = await poisoned(dev, [F * 3 * 5, C * 4], dtype);
      patchify(dev, await upload(dev, x, [C, F, H, W], dtype), [1, 2, 2], out);
      expect(mismatches(await readBits(dev, out), refPatchify(x, [C, F, H, W], [1, 2, 2]))).toBe(0);

      const tok = randomBits(F * 3 * 5 * 64, dtype);
      const img = await poisoned(dev, [16, F, H, W], dtype);
      unpatchify(dev, await upload(dev, tok, [F * 3 * 5, 64], dtype), [F, 3, 5], [1, 2, 2], img);
      expect(mismatches(await readBits(dev, img), refUnpatchify(tok, [F, 3, 5], [1, 2, 2], 16))).toBe(0);
    });
  }

  it('patchifies with other patch sizes (temporal 2; a CLIP-like 14x14 image patch), odd channel counts', async () => {
    const dev = await device();
    const cases: [[number, number, number, number], [number, number, number]][] = [
      [[5, 4, 6, 4], [2, 2, 2]],
      [[3, 1, 28, 42], [1, 14, 14]],
    ];
    for (const [shape, patch] of cases) {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = randomBits(n, 'bf16');
      const L = (shape[1] / patch[0]) * (shape[2] / patch[1]) * (shape[3] / patch[2]);
      const out = await poisoned(dev, [L, n / L], 'bf16');
      patchify(dev, await upload(dev, x, [...shape], 'bf16'), patch, out);
      expect(mismatches(await readBits(dev, out), refPatchify(x, shape, patch))).toBe(0);
      const grid: [number, number, number] = [shape[1] / patch[0], shape[2] / patch[1], shape[3] / patch[2]];
      const img = await poisoned(dev, [shape[0], shape[1], shape[2], shape[3]], 'bf16');
      unpatchify(dev, out.reshape([L, n / L]), grid, patch, img);
      // unpatchify reads features as (kt, kh, kw, c): compare with the reference on the same tokens
      expect(mismatches(await readBits(dev, img), refUnpatchify(await readBits(dev, out), grid, patch, shape[0]))).toBe(0);
    }
  });

  it("concatenates EgoX's latents along width as a 2-D gather: [16,F,56,98] | [16,F,56,56] bf16", async () => {
    const dev = await device();
    // F = 3 here to keep the CPU reference quick; the real F = 13 only changes the outer size.
    const a = randomBits(16 * 3 * 56 * 98, 'bf16');
    const b = randomBits(16 * 3 * 56 * 56, 'bf16');
    const out = await poisoned(dev, [16, 3, 56, 154], 'bf16');
    concat(dev, [await upload(dev, a, [16, 3, 56, 98], 'bf16'), await upload(dev, b, [16, 3, 56, 56], 'bf16')], 3, out);
    const want = refConcat([{ data: a, shape: [16, 3, 56, 98] }, { data: b, shape: [16, 3, 56, 56] }], 3);
    expect(mismatches(await readBits(dev, out), want)).toBe(0);
    const p = gatherProgram({
      op: 'concat',
      dtype: 'bf16',
      outShape: [16, 13, 56, 154],
      sources: [{ strides: contiguousStrides([16, 13, 56, 98]), offset: 0 }, { strides: contiguousStrides([16, 13, 56, 56]), offset: 0 }],
      split: { axis: 3, starts: [0, 98] },
    });
    // Merged to [11648, 154]: rank 2, sizes in the uniforms.
    expect(p.key).toContain(':r2:');
    expect(p.uniformValues).toMatchObject({ d1: 154, start1: 98, numel: 11648 * 154 });
  });

  it('one pipeline serves every size: the VAE q/k/v split at three token counts and offsets', async () => {
    const dev = await device();
    const keys = new Set<string>();
    for (const [tokens, c] of [[35, 8], [12, 4], [63, 12]] as const) {
      const qkv = randomBits(3 * c * tokens, 'f32');
      const src = await upload(dev, qkv, [3 * c, tokens], 'f32');
      for (let part = 0; part < 3; part++) {
        const p = gatherProgram({ op: 'vae-qkv', dtype: 'f32', outShape: [tokens, c], sources: [{ strides: [1, tokens], offset: part * c * tokens }] });
        keys.add(p.key);
        const out = await poisoned(dev, [tokens, c], 'f32');
        dev.run(p, [src, out]);
        const want = new Array<number>(tokens * c);
        for (let t = 0; t < tokens; t++) for (let ch = 0; ch < c; ch++) want[t * c + ch] = qkv[(part * c + ch) * tokens + t]!;
        expect(mismatches(await readBits(dev, out), want)).toBe(0);
      }
    }
    expect([...keys]).toEqual(['gather:b32:r2:n1']);
  });

  it('concatenates channels [16] + [4] + [16] -> 36 (I2V input), f32 bits', async () => {
    const dev = await device();
    const shapes = [[16, 3, 6, 10], [4, 3, 6, 10], [16, 3, 6, 10]];
    const parts = shapes.map((shape) => ({ shape, data: randomBits(shape.reduce((x, y) => x * y, 1), 'f32') }));
    const out = await poisoned(dev, [36, 3, 6, 10], 'f32');
    concat(dev, await Promise.all(parts.map((p) => upload(dev, p.data, p.shape, 'f32'))), 0, out);
    expect(mismatches(await readBits(dev, out), refConcat(parts, 0))).toBe(0);
  });

  it('rejects mismatched shapes and bad axes with clear errors', async () => {
    const dev = await device();
    const a = dev.empty([2, 3], 'f32');
    const b = dev.empty([3, 3], 'f32');
    expect(() => concat(dev, [a, b], 1)).toThrow(/does not match/);
    expect(() => sliceAxis(dev, a, 2, 0, 1)).toThrow(/axis 2 out of range/);
    expect(() => permute(dev, a, [0, 0])).toThrow(/not a permutation/);
    expect(() => patchify(dev, dev.empty([16, 3, 5, 10], 'f32'))).toThrow(/divisible/);
  });
});
