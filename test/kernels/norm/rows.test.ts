import { describe, expect, it } from 'vitest';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { layerNorm, rmsNorm, rowNormFusable, type RowNormOptions } from '../../../src/kernels/norm/rows.ts';
import { roundThrough, type DType } from '../../../src/runtime/dtype.ts';
import type { EgoxDevice } from '../../../src/runtime/device.ts';
import type { Tensor } from '../../../src/runtime/tensor.ts';
import { refRowNorm } from '../../ref/norm.ts';
import type { RowVariant } from '../../../src/kernels/norm/reduce.ts';

const device = useDevice();
const bound = (dt: DType) => (dt === 'f32' ? 1e-5 : 3e-3);

async function poison(dev: EgoxDevice, t: Tensor): Promise<void> {
  await dev.write(t, new Uint8Array(t.byteLength).fill(0xff));
}

/** Random values already rounded to `dtype`, so the reference sees what the GPU sees. */
function rnd(n: number, dtype: DType, scale = 1, offset = 0): Float32Array {
  const a = randomF32(n, scale);
  for (let i = 0; i < n; i++) a[i]! += offset;
  return roundThrough(a, dtype);
}

interface Case {
  kind: 'layer' | 'rms';
  rows: number;
  C: number;
  dtype: DType;
  outDtype: DType;
  paramDtype: DType;
  affine: 'none' | 'weight' | 'weight+bias';
  modulate: boolean;
  variant: 'default' | 'workgroup';
  /** Put shift at an odd element offset (not a whole unit): the element-wise param path. */
  oddShift?: boolean;
}

const VARIANTS: Record<Case['variant'], RowVariant | undefined> = {
  default: undefined, // rowVariantFor(dev): subgroup reductions on lavapipe
  workgroup: { reduction: 'workgroup' },
};

async function runCase(dev: EgoxDevice, k: Case): Promise<number> {
  const { rows, C } = k;
  // A row offset makes LayerNorm's mean subtraction matter (and catches one-pass variance).
  const x = rnd(rows * C, k.dtype, 2, k.kind === 'layer' ? 3 : 0);
  const w = k.affine !== 'none' ? rnd(C, k.paramDtype, 1, 1) : undefined;
  const b = k.affine === 'weight+bias' ? rnd(C, k.paramDtype) : undefined;
  // shift and scale live in one tensor (like the DiT's [6, dim] modulation) at offsets 2C (+1) and 0.
  const mod = k.modulate ? rnd(3 * C + 1, k.paramDtype, 0.5) : undefined;
  const shiftAt = k.oddShift ? 2 * C + 1 : 2 * C;
  const eps = k.kind === 'layer' ? 1e-5 : 1e-6;
  const xt = await dev.upload(x, [rows, C], k.dtype);
  const opts: RowNormOptions = { eps, outDtype: k.outDtype, variant: VARIANTS[k.variant] };
  if (w) opts.weight = await dev.upload(w, [C], k.paramDtype);
  if (b) opts.bias = await dev.upload(b, [C], k.paramDtype);
  if (mod) {
    const m = await dev.upload(mod, [3 * C + 1], k.paramDtype);
    opts.modulation = { shift: m, scale: m, shiftOffset: shiftAt, scaleOffset: 0 };
  }
  opts.out = dev.empty([rows, C], k.outDtype);
  await poison(dev, opts.out);
  const y = (k.kind === 'layer' ? layerNorm : rmsNorm)(dev, xt, opts);
  const got = await dev.read(y);
  const want = refRowNorm(x, rows, C, {
    kind: k.kind,
    eps,
    weight: w,
    bias: b,
    shift: mod?.subarray(shiftAt, shiftAt + C),
    scale: mod?.subarray(0, C),
  });
  return relL2(got, want);
}

describe('layerNorm / rmsNorm', () => {
  const ALL_PARAMS = [
    ['none', false],
    ['none', true],
    ['weight', false],
    ['weight', true],
    ['weight+bias', false],
    ['weight+bias', true],
  ] as const;
  const FULL = [['weight+bias', true]] as const;

  /** [in dtype, out dtype, param dtype, C, which params, variant]; C 67/66/68 = units of 1/2/4. */
  type Row = [DType, DType, DType, number, readonly (readonly [Case['affine'], boolean])[], 'default' | 'workgroup', 'oddShift'?];
  const ROWS: Row[] = [
    ['f32', 'f32', 'f32', 67, ALL_PARAMS, 'default'],
    ['bf16', 'bf16', 'bf16', 66, [['none', false], ['weight', true], ['weight+bias', false]], 'default'],
    ['f16', 'f16', 'f32', 68, [['none', false], ...FULL], 'default'],
    ['bf16', 'bf16', 'bf16', 68, FULL, 'default', 'oddShift'],
    ['bf16', 'bf16', 'f32', 66, FULL, 'workgroup', 'oddShift'],
    ['bf16', 'f32', 'f32', 67, FULL, 'default'],
    // 16-bit output rows of odd length: stats kernel + whole-word apply kernel
    ['f32', 'bf16', 'bf16', 67, [['none', false], ['weight', false], ...FULL], 'default'],
    ['f16', 'f16', 'f16', 67, FULL, 'default'],
    // the GPU variant (workgroup-memory reduction)
    ['f32', 'f32', 'f32', 67, FULL, 'workgroup'],
    ['f32', 'bf16', 'f32', 67, [['weight', false]], 'workgroup'],
  ];

  for (const kind of ['layer', 'rms'] as const) {
    it(`${kind}norm: every storage combination, affine and modulation variant on odd sizes`, async () => {
      const dev = await device();
      const errs: string[] = [];
      for (const [dtype, outDtype, paramDtype, C, params, variant, odd] of ROWS) {
        for (const [affine, modulate] of params) {
          const k: Case = { kind, rows: 37, C, dtype, outDtype, paramDtype, affine, modulate, variant, oddShift: odd === 'oddShift' };
          const err = await runCase(dev, k);
          const label = `${dtype}->${outDtype} p ${paramDtype} C ${C} ${affine} mod ${modulate} ${variant} ${odd ?? ''}: ${err.toExponential(2)}`;
          // The reference sees the 16-bit-rounded inputs, so f32 output is held to the f32 bound.
          if (!(err <= bound(outDtype))) errs.push(label);
        }
      }
      expect(errs).toEqual([]);
    });
  }

  it('uses the two-dispatch path only for 16-bit output rows of odd length, with a caller scratch if given', async () => {
    expect(rowNormFusable({ C: 67, dtype: 'f32', outDtype: 'bf16' })).toBe(false);
    expect(rowNormFusable({ C: 67, dtype: 'bf16', outDtype: 'f32' })).toBe(true);
    expect(rowNormFusable({ C: 66, dtype: 'bf16' })).toBe(true);
    const dev = await device();
    const [rows, C] = [9, 67];
    const x = rnd(rows * C, 'f32', 2, 3);
    const xt = await dev.upload(x, [rows, C], 'f32');
    const out = dev.empty([rows, C], 'bf16');
    const scratch = dev.empty([rows, 2], 'f32');
    await poison(dev, out);
    const before = dev.pool.stats.created + dev.pool.stats.reused;
    layerNorm(dev, xt, { eps: 1e-6, out, scratch });
    expect(dev.pool.stats.created + dev.pool.stats.reused).toBe(before); // nothing allocated
    expect(relL2(await dev.read(out), refRowNorm(x, rows, C, { kind: 'layer', eps: 1e-6 }))).toBeLessThanOrEqual(3e-3);
  });

  it('normalises DiT-sized rows (C = 5120) with modulation, both reduction variants', async () => {
    const dev = await device();
    for (const [kind, dtype, variant] of [
      ['layer', 'f32', 'default'],
      ['rms', 'bf16', 'default'],
      ['rms', 'bf16', 'workgroup'], // 256 threads per row; rms: one reduction (layer's two compile slowly on lavapipe)
    ] as const) {
      {
        const err = await runCase(dev, { kind, rows: 3, C: 5120, dtype, outDtype: dtype, paramDtype: 'f32', affine: 'weight+bias', modulate: true, variant });
        expect(err, `${kind} ${dtype} ${variant}`).toBeLessThanOrEqual(bound(dtype));
      }
    }
  });

  it('handles rows of one element and a single row', async () => {
    const dev = await device();
    const one = { outDtype: 'f32', paramDtype: 'f32', variant: 'default' } as const;
    expect(await runCase(dev, { ...one, kind: 'rms', rows: 5, C: 1, dtype: 'f32', affine: 'weight', modulate: false })).toBeLessThanOrEqual(1e-5);
    expect(await runCase(dev, { ...one, kind: 'layer', rows: 1, C: 1001, dtype: 'f32', affine: 'none', modulate: true })).toBeLessThanOrEqual(1e-5);
  });
});
