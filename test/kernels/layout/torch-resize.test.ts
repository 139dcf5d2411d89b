import { describe, expect, it } from 'vitest';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { readGoldenF32 } from '../../helpers/golden.ts';
import { scaledSize, torchResizeTable, type TorchResizeRule } from '../../../src/kernels/layout/torch-resize.ts';
import { resizeAxis } from '../../../src/kernels/render/index.ts';

// Goldens: test/reference/moge2_reference.py interpolates one-hot rows with torch 1.13's
// F.interpolate, giving each rule's weight matrix [out, in].
const device = useDevice();

const RULES: [string, number, number | { factor: number }, TorchResizeRule][] = [
  ['bilinear_aa', 52, 42, { mode: 'bilinear', antialias: true }],
  ['bilinear_aa_up', 38, 56, { mode: 'bilinear', antialias: true }],
  ['bilinear', 64, 45, { mode: 'bilinear' }],
  ['bilinear_up', 48, 61, { mode: 'bilinear' }],
  ['bilinear_x2', 5, { factor: 2 }, { mode: 'bilinear', scaleFactor: 2 }],
  ['bicubic_sf_down', 37, { factor: 4.1 / 37 }, { mode: 'bicubic', scaleFactor: 4.1 / 37 }],
  ['bicubic_sf_up', 37, { factor: 50.1 / 37 }, { mode: 'bicubic', scaleFactor: 50.1 / 37 }],
  ['bicubic_aa_down', 37, 4, { mode: 'bicubic', antialias: true }],
  ['bicubic_aa_up', 37, 50, { mode: 'bicubic', antialias: true }],
];


function dense(nIn: number, nOut: number, t: { taps: number; table: Float32Array }): Float64Array {
  const m = new Float64Array(nOut * nIn);
  for (let i = 0; i < nOut; i++) {
    const lo = t.table[i * (t.taps + 1)]!;
    for (let k = 0; k < t.taps; k++) m[i * nIn + Math.min(lo + k, nIn - 1)]! += t.table[i * (t.taps + 1) + 1 + k]!;
  }
  return m;
}

describe('PyTorch interpolate rules as resize tables', () => {
  it('match torch weight matrices for every rule MoGe-2 uses', async () => {
    const want = await readGoldenF32('test/golden/moge/resize.safetensors');
    for (const [name, nIn, out, rule] of RULES) {
      const nOut = typeof out === 'number' ? out : scaledSize(nIn, out.factor);
      const m = want.get(name)!;
      expect(m.shape, name).toEqual([nOut, nIn]);
      expect(relL2(dense(nIn, nOut, torchResizeTable(nIn, nOut, rule)), m.data), name).toBeLessThan(1e-6);
    }
  });

  it('a bicubic table drives the resize pass on the GPU (odd sizes, poisoned output)', async () => {
    const dev = await device();
    const [C, H, W, outW] = [5, 7, 37, 23];
    const rule: TorchResizeRule = { mode: 'bicubic', scaleFactor: 23.1 / 37 };
    const t = torchResizeTable(W, outW, rule);
    const x = randomF32(C * H * W);
    const m = dense(W, outW, t);
    const ref = new Float64Array(C * H * outW);
    for (let r = 0; r < C * H; r++) for (let i = 0; i < outW; i++) for (let j = 0; j < W; j++) ref[r * outW + i]! += m[i * W + j]! * x[r * W + j]!;
    const out = dev.empty([C, H, outW], 'f32');
    await dev.write(out, new Uint8Array(out.byteLength).fill(0xff));
    resizeAxis(dev, await dev.upload(x, [C, H, W], 'f32'), await dev.upload(t.table, [t.table.length], 'f32'), { axis: 'x', outSize: outW, taps: t.taps, quantize: false, out });
    expect(relL2(await dev.read(out), ref)).toBeLessThan(1e-6);
  });
});
