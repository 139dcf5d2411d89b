import { describe, expect, it } from 'vitest';
import { randomF32, relL2, useDevice } from '../../helpers/gpu.ts';
import { convRef } from '../../ref/conv.ts';
import { conv2d, conv3d, convProgram, defaultConvVariant, type ConvVariant } from '../../../src/kernels/conv/index.ts';
import { roundThrough, type DType } from '../../../src/runtime/dtype.ts';
import type { EgoxDevice } from '../../../src/runtime/device.ts';
import type { Tensor } from '../../../src/runtime/tensor.ts';

const device = useDevice();

/**
 * The lavapipe kernel (lanes over channels, needs subgroups) with a small tile, so the odd
 * test shapes hit every tile edge and the unrolled shader compiles fast; register tiles
 * where the adapter has no subgroups.
 */
function small(dev: EgoxDevice): ConvVariant {
  const sg = dev.adapter.subgroupMinSize ?? 0;
  if (dev.has('subgroups') && sg >= 4) return { kind: 'chanlanes', tm: 2, th: 3, tw: 4, threads: sg, sg: Math.min(sg, 8) };
  return { kind: 'regtile', tm: 3, tw: 4, threads: 16, vec4: true };
}

/** Every other variant, each compiled once or twice in this file (lavapipe compiles slowly). */
function others(dev: EgoxDevice, c: Case): [string, ConvVariant][] {
  return [
    ['default', defaultConvVariant(dev, { cout: c.cout, kernel: c.kernel, stride: c.stride ?? [1, 1, 1] })],
    ['regtile', { kind: 'regtile', tm: 3, tw: 4, threads: 16, vec4: true }],
    ['regtile-scalar', { kind: 'regtile', tm: 2, tw: 3, threads: 8, vec4: false }],
    ['wgtile', { kind: 'wgtile', bm: 32, bn: 64, bk: 8 }],
  ];
}

/** An output tensor full of NaN, so every element the kernel misses shows up. */
async function poisoned(dev: EgoxDevice, shape: number[]): Promise<Tensor> {
  const t = dev.empty(shape, 'f32');
  await dev.write(t, new Uint8Array(t.byteLength).fill(0xff));
  return t;
}

interface Case {
  name: string;
  cin: number;
  cout: number;
  f: number;
  h: number;
  w: number;
  kernel: [number, number, number];
  stride?: [number, number, number];
  /** Wan CausalConv3d padding (pt, ph, pw). */
  padding?: [number, number, number];
  /** Frames in the cache tensor and how many of its last frames to use. */
  cacheTotal?: number;
  cacheFrames?: number;
  residual?: boolean;
}

const CASES: Case[] = [
  { name: '3x3x3 causal, no cache', cin: 5, cout: 7, f: 3, h: 9, w: 11, kernel: [3, 3, 3], padding: [1, 1, 1] },
  { name: '3x3x3 causal, 2 cached frames', cin: 5, cout: 7, f: 3, h: 9, w: 12, kernel: [3, 3, 3], padding: [1, 1, 1], cacheTotal: 3, cacheFrames: 2 },
  { name: '3x3x3 causal, 1 cached frame', cin: 5, cout: 7, f: 2, h: 9, w: 11, kernel: [3, 3, 3], padding: [1, 1, 1], cacheTotal: 2, cacheFrames: 1 },
  { name: '3x3x3 stride 2', cin: 5, cout: 7, f: 3, h: 9, w: 11, kernel: [3, 3, 3], stride: [2, 2, 2], padding: [1, 1, 1] },
  { name: '1x1x1 shortcut + residual', cin: 5, cout: 7, f: 3, h: 9, w: 11, kernel: [1, 1, 1], residual: true },
  { name: '3x3x3 + residual (res block end)', cin: 7, cout: 7, f: 1, h: 5, w: 13, kernel: [3, 3, 3], padding: [1, 1, 1], cacheTotal: 2, cacheFrames: 2, residual: true },
  { name: '(3,1,1) upsample time conv c -> 2c, cache', cin: 5, cout: 10, f: 3, h: 9, w: 11, kernel: [3, 1, 1], padding: [1, 0, 0], cacheTotal: 2, cacheFrames: 2 },
  { name: '(3,1,1) stride (2,1,1) downsample time conv, 1 cached frame', cin: 5, cout: 5, f: 4, h: 9, w: 11, kernel: [3, 1, 1], stride: [2, 1, 1], cacheTotal: 2, cacheFrames: 1 },
];

async function runCase(dev: EgoxDevice, c: Case, variant: ConvVariant, wdtype: DType): Promise<number> {
  const [kt, kh, kw] = c.kernel;
  const x = randomF32(c.cin * c.f * c.h * c.w);
  const weight = roundThrough(randomF32(c.cout * c.cin * kt * kh * kw, 0.5), wdtype);
  const bias = randomF32(c.cout);
  const cache = c.cacheTotal ? randomF32(c.cin * c.cacheTotal * c.h * c.w) : undefined;
  const pad = c.padding ?? [0, 0, 0];
  const ref = convRef({
    x, cin: c.cin, f: c.f, h: c.h, w: c.w, weight, cout: c.cout, kernel: c.kernel, bias, stride: c.stride,
    pad: { front: 2 * pad[0], top: pad[1], bottom: pad[1], left: pad[2], right: pad[2] },
    cache, cacheTotal: c.cacheTotal, cacheFrames: c.cacheFrames,
  });
  const res = c.residual ? randomF32(ref.data.length) : undefined;
  if (res) for (let i = 0; i < res.length; i++) ref.data[i]! += res[i]!;
  const out = await poisoned(dev, ref.shape);
  const y = conv3d(
    dev,
    await dev.upload(x, [c.cin, c.f, c.h, c.w], 'f32'),
    await dev.upload(weight, [c.cout, c.cin, kt, kh, kw], wdtype),
    await dev.upload(bias, [c.cout], 'f32'),
    {
      stride: c.stride,
      padding: c.padding,
      cache: cache ? await dev.upload(cache, [c.cin, c.cacheTotal!, c.h, c.w], 'f32') : undefined,
      cacheFrames: c.cacheFrames,
      residual: res ? await dev.upload(res, ref.shape, 'f32') : undefined,
      out,
      variant,
    },
  );
  expect(y).toBe(out);
  return relL2(await dev.read(y), ref.data);
}

describe('conv3d (Wan CausalConv3d) against the float64 reference', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const dev = await device();
      const err = await runCase(dev, c, small(dev), 'f32');
      expect(err, `rel L2 ${err}`).toBeLessThanOrEqual(1e-5);
    });
  }

  it('gives the same results with every variant (adapter default, register tiles, workgroup tiles)', async () => {
    const dev = await device();
    // A cached case with W % 4 == 0 (vec4 rows) and a strided one with odd sizes.
    for (const c of [CASES[1]!, CASES[3]!]) {
      for (const [name, v] of others(dev, c)) {
        const err = await runCase(dev, c, v, 'f32');
        expect(err, `${c.name}, ${name}: rel L2 ${err}`).toBeLessThanOrEqual(1e-5);
      }
    }
  });

  it('reads bf16 and f16 weights (reference on the rounded weights)', async () => {
    const dev = await device();
    // f16 pairs are widened with unpack2x16float: no shader-f16 feature needed.
    for (const wd of ['bf16', 'f16'] as DType[]) {
      const err = await runCase(dev, CASES[1]!, small(dev), wd);
      // f32 activations and accumulation: the 16-bit weights add no error of their own.
      expect(err, `${wd}: rel L2 ${err}`).toBeLessThanOrEqual(1e-5);
    }
  });

  it('sums a conv split over input channels through the residual', async () => {
    const dev = await device();
    const [cin, cout, f, h, w] = [6, 5, 2, 4, 8]; // 64 values per channel: channel slices stay 256-byte aligned
    const x = randomF32(cin * f * h * w);
    const weight = randomF32(cout * cin * 27);
    const bias = randomF32(cout);
    const ref = convRef({ x, cin, f, h, w, weight, cout, kernel: [3, 3, 3], bias, pad: { front: 2, top: 1, bottom: 1, left: 1, right: 1 } });
    const X = await dev.upload(x, [cin, f, h, w], 'f32');
    const W = await dev.upload(weight, [cout, cin, 3, 3, 3], 'f32');
    const v = small(dev);
    const lo = conv3d(dev, X.slice(0, 2), W, await dev.upload(bias, [cout], 'f32'), { padding: 1, weightCinOffset: 0, variant: v });
    const out = await poisoned(dev, ref.shape);
    conv3d(dev, X.slice(2, 6), W, null, { padding: 1, weightCinOffset: 2, residual: lo, out, variant: v });
    const err = relL2(await dev.read(out), ref.data);
    expect(err, `rel L2 ${err}`).toBeLessThanOrEqual(1e-5);
  });

  it('rejects shapes that do not fit', async () => {
    const dev = await device();
    const x = dev.empty([5, 3, 9, 11], 'f32');
    expect(() => conv3d(dev, x, dev.empty([7, 4, 3, 3, 3], 'f32'), null)).toThrow(/4 input channels but the input has 5/);
    expect(() => conv3d(dev, x, dev.empty([7, 5, 3, 3, 3], 'f32'), dev.empty([6], 'f32'))).toThrow(/bias has 6 values/);
    expect(() => conv3d(dev, x, dev.empty([7, 5, 3, 3, 3], 'f32'), null, { cache: dev.empty([5, 2, 9, 10], 'f32'), padding: 1 })).toThrow(/cache has shape/);
    expect(() => conv3d(dev, dev.empty([5, 1, 2, 2], 'f32'), dev.empty([7, 5, 1, 3, 3], 'f32'), null)).toThrow(/does not fit/);
  });
});

describe('conv2d per frame', () => {
  it('downsample: zero pad right/bottom by 1, 3x3 stride 2', async () => {
    const dev = await device();
    const [cin, cout, f, h, w] = [5, 7, 3, 9, 11];
    const x = randomF32(cin * f * h * w);
    const weight = randomF32(cout * cin * 9);
    const bias = randomF32(cout);
    // A 2-D conv per frame is the 3-D conv with a (1, 3, 3) kernel and no time padding.
    const ref = convRef({ x, cin, f, h, w, weight, cout, kernel: [1, 3, 3], bias, stride: [1, 2, 2], pad: { front: 0, top: 0, bottom: 1, left: 0, right: 1 } });
    expect(ref.shape).toEqual([cout, f, 4, 5]);
    const X = await dev.upload(x, [cin, f, h, w], 'f32');
    const W = await dev.upload(weight, [cout, cin, 3, 3], 'f32');
    const B = await dev.upload(bias, [cout], 'f32');
    const out = await poisoned(dev, ref.shape);
    conv2d(dev, X, W, B, { stride: 2, padding: { top: 0, bottom: 1, left: 0, right: 1 }, out, variant: small(dev) });
    const err = relL2(await dev.read(out), ref.data);
    expect(err, `rel L2 ${err}`).toBeLessThanOrEqual(1e-5);
  });

  it('upsample conv: 3x3 padding 1 on a [C, H, W] image, bf16 weights', async () => {
    const dev = await device();
    const [cin, cout, h, w] = [6, 3, 10, 14];
    const x = randomF32(cin * h * w);
    const weight = roundThrough(randomF32(cout * cin * 9), 'bf16');
    const ref = convRef({ x, cin, f: 1, h, w, weight, cout, kernel: [1, 3, 3], pad: { front: 0, top: 1, bottom: 1, left: 1, right: 1 } });
    const X = await dev.upload(x, [cin, h, w], 'f32');
    const W = await dev.upload(weight, [cout, cin, 3, 3], 'bf16');
    const out = await poisoned(dev, [cout, h, w]);
    const y = conv2d(dev, X, W, null, { padding: 1, out, variant: small(dev) });
    expect(y).toBe(out);
    const err = relL2(await dev.read(y), ref.data);
    expect(err, `rel L2 ${err}`).toBeLessThanOrEqual(1e-5);
  });
});

describe('conv programs', () => {
  it('name every specialisation in the key', () => {
    const base = {
      cin: 5, cout: 7, inF: 3, inH: 9, inW: 11, kernel: [3, 3, 3] as const, stride: [1, 1, 1] as const,
      pad: { front: 2, top: 1, bottom: 1, left: 1, right: 1 }, cacheFrames: 0, cacheTotalFrames: 0,
      weight: 'f32' as const, bias: true, residual: false,
      variant: { kind: 'regtile', tm: 4, tw: 8, threads: 64, vec4: true } as ConvVariant,
    };
    const keys = new Set([
      convProgram(base).key,
      convProgram({ ...base, weight: 'bf16' }).key,
      convProgram({ ...base, cacheFrames: 2, cacheTotalFrames: 2 }).key,
      convProgram({ ...base, residual: true }).key,
      convProgram({ ...base, pad: { ...base.pad, right: 0 } }).key,
      convProgram({ ...base, weightCin: 9, weightCinOffset: 4 }).key,
      convProgram({ ...base, variant: { kind: 'regtile', tm: 4, tw: 4, threads: 64, vec4: true } }).key,
      convProgram({ ...base, variant: { kind: 'wgtile', bm: 64, bn: 64, bk: 16 } }).key,
      convProgram({ ...base, variant: { kind: 'chanlanes', tm: 1, th: 8, tw: 8, threads: 32, sg: 8 } }).key,
    ]);
    expect(keys.size).toBe(9);
  });
});
