import { describe, expect, it } from 'vitest';
import { poisoned, smallVariants } from './gemm-fixtures.ts';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { loraDown, loraUp } from '../../../src/kernels/gemm/lora.ts';
import { loraMerge } from '../../../src/kernels/gemm/lora-merge.ts';
import { f32ToHalfCodes, roundThrough, type FloatDType } from '../../../src/runtime/dtype.ts';
import { refGemm, refLoraMerge } from '../../ref/gemm.ts';

const device = useDevice();

describe('loraDown + loraUp (runtime LoRA, no merged weight)', () => {
  it('equals the reference GEMM with the merged weight, both variants, bf16 and f32 weights', async () => {
    const dev = await device();
    const [M, N] = [37, 29];
    const cases: [number, number, FloatDType][] = [
      [67, 5, 'f32'], // odd K and odd rank: generic loads on both segments
      [64, 8, 'bf16'], // vec4 loads on both segments
    ];
    for (const variant of smallVariants(dev)) {
      // The tiled variant gets the odd case only (its masked loads); compiles dominate here.
      for (const [K, r, wDtype] of variant.kind === 'tiled' ? cases.slice(0, 1) : cases) {
        const xs = randomF32(M * K);
        const ws = randomF32(N * K);
        const as = randomF32(r * K);
        const bs = randomF32(N * r);
        const bias = randomF32(N);
        const scale = 0.7;
        const x = await dev.upload(xs, [M, K], 'f32');
        const w = await dev.upload(ws, [N, K], wDtype);
        const a = await dev.upload(as, [r, K], wDtype);
        const b = await dev.upload(bs, [N, r], wDtype);
        const bi = await dev.upload(bias, [N], 'f32');
        const out = await poisoned(dev, [M, N], 'f32');
        const t = loraDown(dev, x, a, scale, { variant });
        loraUp(dev, x, w, { t, b }, { out, bias: bi, epilogue: 'gelu_tanh', variant });
        // Reference: X (W + s B A)^T + bias, merged in float64 from the stored (rounded) values.
        const merged = refLoraMerge(roundThrough(ws, wDtype), roundThrough(as, wDtype), roundThrough(bs, wDtype), N, K, r, scale);
        const want = refGemm({ M, N, K, x: xs, w: merged, bias, epilogue: 'gelu_tanh' });
        const err = relL2(await dev.read(out), want);
        expect(err, `${JSON.stringify(variant)} K=${K} r=${r} ${wDtype}`).toBeLessThanOrEqual(wDtype === 'f32' ? 1e-5 : 3e-3);
      }
    }
  });
});

describe('loraMerge (fuse at load)', () => {
  it('W += s B A for f32, f16 and bf16 weights, fast (K % 4 == 0) and generic (odd K) paths', async () => {
    const dev = await device();
    const N = 29;
    const r = 6;
    const cases: [FloatDType, number][] = [
      ['f32', 64],
      ['f32', 67],
      ['bf16', 64],
      ['f16', 64],
      ['f16', 67],
    ];
    for (const [wDtype, K] of cases) {
      {
        const ws = randomF32(N * K);
        const as = randomF32(r * K);
        const bs = randomF32(N * r);
        const w = await dev.upload(ws, [N, K], wDtype);
        const a = await dev.upload(as, [r, K], 'f32');
        const b = await dev.upload(bs, [N, r], 'f32');
        loraMerge(dev, w, a, b, 0.3);
        const want = refLoraMerge(roundThrough(ws, wDtype), as, bs, N, K, r, 0.3);
        const got = await dev.read(w);
        expect(relL2(got, want), `${wDtype} K=${K}`).toBeLessThanOrEqual(wDtype === 'f32' ? 1e-5 : 3e-3);
        if (wDtype !== 'f32') {
          // The stored codes are the round-to-nearest-even of the exact sum, except where the
          // f32 sum sits within an f32 rounding of a 16-bit tie: allow 1 code in 200 off by 1 ulp.
          const gotCodes = new Uint16Array((await dev.readBytes(w)).buffer, 0, N * K);
          const wantCodes = f32ToHalfCodes(Float32Array.from(want), wDtype);
          let off = 0;
          let far = 0;
          for (let i = 0; i < N * K; i++) {
            const d = Math.abs(gotCodes[i]! - wantCodes[i]!);
            if (d === 1) off++;
            else if (d > 1) far++;
          }
          expect(far, `${wDtype} K=${K} codes off by more than 1 ulp`).toBe(0);
          expect(off, `${wDtype} K=${K} codes off by 1 ulp`).toBeLessThanOrEqual(Math.ceil((N * K) / 200));
        }
      }
    }
  });
});
