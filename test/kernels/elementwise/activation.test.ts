import { describe, expect, it } from 'vitest';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { activation, type ActivationKind } from '../../../src/kernels/elementwise/activation.ts';
import { roundThrough, type DType } from '../../../src/runtime/dtype.ts';
import type { EgoxDevice } from '../../../src/runtime/device.ts';
import type { Tensor } from '../../../src/runtime/tensor.ts';
import { refActivation, refErf, REF_ACTIVATIONS } from '../../ref/activation.ts';

const device = useDevice();

async function poison(dev: EgoxDevice, t: Tensor): Promise<void> {
  await dev.write(t, new Uint8Array(t.byteLength).fill(0xff));
}

async function runAct(dev: EgoxDevice, kind: ActivationKind, x: Float32Array, dtype: DType, gate?: Float32Array): Promise<Float32Array> {
  const xt = await dev.upload(x, [x.length], dtype);
  const gt = gate ? await dev.upload(gate, [x.length], dtype) : undefined;
  const out = dev.empty([x.length], dtype);
  await poison(dev, out);
  return dev.read(activation(dev, xt, kind, { gate: gt, out }));
}

describe('activations', () => {
  // numel 1000: vec4 / two-word units; 1001: single f32 elements, or 16-bit words with a pad half.
  const CASES: [DType, number, boolean][] = [
    ['f32', 1001, false],
    ['f32', 1000, true],
    ['bf16', 1001, true],
    ['bf16', 1000, false],
    ['f16', 1001, false],
    ['f16', 1000, true],
  ];
  for (const kind of ['silu', 'gelu_tanh', 'gelu_erf', 'relu'] as const) {
    it(`${kind} matches float64 on f32/f16/bf16, with and without a gate`, async () => {
      const dev = await device();
      for (const [dtype, n, gated] of CASES) {
        // f16 tops out at 65504: keep gelu_tanh's x^3 and the values themselves in range.
        const x = roundThrough(randomF32(n, 6), dtype);
        const g = gated ? roundThrough(randomF32(n, 2), dtype) : undefined;
        const got = await runAct(dev, kind, x, dtype, g);
        const err = relL2(got, refActivation(kind, x, g));
        expect(err, `${kind} ${dtype} n ${n} gated ${gated}`).toBeLessThanOrEqual(dtype === 'f32' ? 1e-5 : 3e-3);
      }
    });
  }

  it('erf is within 1e-7 of float64 over the whole f32 range', async () => {
    const dev = await device();
    const xs: number[] = [];
    for (let i = -60000; i <= 60000; i++) xs.push(i / 12000 + Math.random() / 12000); // [-5, 5], fresh every run
    for (const b of [0, 1, 2, 4]) for (const d of [-1e-7, 0, 1e-7]) xs.push(b + d, -b - d);
    xs.push(1e-30, -1e-30, 30, -30, 1e30, -1e30, Infinity, -Infinity);
    const x = Float32Array.from(xs);
    const got = await runAct(dev, 'erf', x, 'f32');
    let worst = 0;
    let at = 0;
    for (let i = 0; i < x.length; i++) {
      const e = Math.abs(got[i]! - refErf(x[i]!));
      if (!(e <= worst)) [worst, at] = [e, x[i]!];
    }
    expect(worst, `max |erf error| ${worst} at x = ${at}`).toBeLessThan(1e-7);
    expect(Number.isNaN((await runAct(dev, 'erf', Float32Array.from([NaN]), 'f32'))[0])).toBe(true);
  });

  it('saturates without NaN or Inf for large inputs', async () => {
    const dev = await device();
    const x = Float32Array.from([-1e30, -1e4, -200, -90, -20, 20, 90, 200, 1e4, 1e30, 0, -0]);
    for (const kind of ['silu', 'gelu_tanh', 'gelu_erf', 'relu'] as const) {
      const got = await runAct(dev, kind, x, 'f32');
      const want = x.map((v) => REF_ACTIVATIONS[kind](v));
      for (let i = 0; i < x.length; i++) {
        const tol = 1e-6 * Math.max(1, Math.abs(want[i]!));
        expect(Math.abs(got[i]! - want[i]!), `${kind}(${x[i]}) = ${got[i]}, want ${want[i]}`).toBeLessThanOrEqual(tol);
      }
    }
  });
});
