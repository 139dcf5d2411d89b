import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { randomF32, useDevice } from '../../helpers/gpu.ts';
import { memoryTuneStore, tuneStoreName } from '../../../src/kernels/tuning/gemm-autotune.ts';
import { convTuneStoreName, convTuningTable, loadConvTuning, representativeConv, tuneConv, type ConvTuneSpec } from '../../../src/kernels/tuning/conv-autotune.ts';
import { convGeometry } from '../../../src/kernels/conv/common.ts';
import { conv3d, convShapeClass, defaultConvVariant, type ConvDeviceInfo, type ConvVariant } from '../../../src/kernels/conv/index.ts';
import { nodeJsonStore } from '../../../src/runtime/tune-cache-node.ts';
import { KernelChoices } from '../../../src/runtime/kernel-context.ts';

const device = useDevice();

// Small enough that every candidate compiles and runs in well under a second on lavapipe.
const SPEC: ConvTuneSpec = { cin: 12, cout: 16, kernel: [3, 3, 3], stride: [1, 1, 1], weight: 'f32' };
const OUT: [number, number, number] = [2, 9, 10]; // not a multiple of any tile

/** Two variants every adapter runs (no subgroups needed), neither of them the rule's choice on lavapipe. */
const REGTILES: ConvVariant[] = [
  { kind: 'regtile', tm: 8, tw: 8, threads: 64, vec4: true },
  { kind: 'regtile', tm: 4, tw: 16, threads: 64, vec4: true },
];

/** A fresh device object on the same adapter: its tuning table starts empty. */
function sameAdapter(dev: ConvDeviceInfo): ConvDeviceInfo {
  return { adapter: dev.adapter, has: (f) => dev.has(f), choices: new KernelChoices() };
}

describe('convShapeClass', () => {
  it('ignores sizes, buckets Cin and needs every field', () => {
    const a = convShapeClass({ cin: 96, cout: 96, kernel: [3, 3, 3], stride: [1, 1, 1], weight: 'f32' });
    expect(a).toBe(convShapeClass({ cin: 128, cout: 96, kernel: [3, 3, 3], stride: [1, 1, 1], weight: 'f32' }));
    expect(a).not.toBe(convShapeClass({ cin: 192, cout: 96, kernel: [3, 3, 3], stride: [1, 1, 1], weight: 'f32' }));
    expect(a).not.toBe(convShapeClass({ cin: 96, cout: 96, kernel: [3, 3, 3], stride: [1, 1, 1], weight: 'bf16' }));
    expect(convShapeClass({ cout: 96, kernel: [3, 3, 3], stride: [1, 1, 1] })).toBeUndefined();
  });

  it('builds representative convs of exactly the requested output size', () => {
    for (const spec of [SPEC, { ...SPEC, kernel: [1, 3, 3], stride: [1, 2, 2] }, { ...SPEC, kernel: [3, 1, 1], stride: [2, 1, 1] }] as ConvTuneSpec[]) {
      const g = convGeometry(representativeConv(spec, OUT));
      expect([g.outF, g.outH, g.outW]).toEqual(OUT);
    }
  });
});

describe('tuneConv', () => {
  it('picks a timed candidate, stores it, and a fresh table loaded from the store returns it', async () => {
    const dev = await device();
    const store = memoryTuneStore();
    const r = await tuneConv(dev, SPEC, { store, candidates: REGTILES, outSize: OUT, targetMs: 5, rounds: 2 });
    expect(r.cached).toBe(false);
    expect(r.timings).toHaveLength(2);
    for (const t of r.timings) expect(t.ms).toBeGreaterThan(0);
    expect(REGTILES).toContainEqual(r.winner);
    expect(convTuningTable(dev).get(r.shapeClass)).toEqual(r.winner);
    expect(defaultConvVariant(dev, SPEC)).toEqual(r.winner);

    // Saved under its own entry, not GEMM's.
    expect(store.data.has(tuneStoreName(dev.adapter))).toBe(false);
    const saved = store.data.get(convTuneStoreName(dev.adapter)) as { conv: Record<string, { variant: ConvVariant }> };
    expect(saved.conv[r.shapeClass]!.variant).toEqual(r.winner);

    const other = sameAdapter(dev);
    const rule = defaultConvVariant(other, SPEC);
    expect(await loadConvTuning(other, store)).toBe(1);
    expect(defaultConvVariant(other, SPEC)).toEqual(r.winner);
    // Other sizes of the class share the winner; a spec without the class fields keeps the rule.
    expect(defaultConvVariant(other, { ...SPEC, cin: 15 })).toEqual(r.winner);
    expect(defaultConvVariant(other, { cout: SPEC.cout, kernel: SPEC.kernel, stride: SPEC.stride })).toEqual(rule);

    const again = await tuneConv(dev, SPEC, { store, candidates: REGTILES });
    expect(again.cached).toBe(true);
    expect(again.winner).toEqual(r.winner);
  });

  it('never picks a candidate whose output is wrong, however fast', async () => {
    const dev = await device();
    const spec = SPEC; // the pipelines of the test above serve this one
    const shape = representativeConv(spec, OUT);
    // The wrong candidate's conv: same shapes, other random weights (finite, plausible output).
    const x = await dev.upload(randomF32(shape.cin * shape.inF * shape.inH * shape.inW), [shape.cin, shape.inF, shape.inH, shape.inW], 'f32');
    const wOther = await dev.upload(randomF32(spec.cout * spec.cin * 27, 0.2), [spec.cout, spec.cin, 3, 3, 3], 'f32');
    const bias = await dev.upload(randomF32(spec.cout), [spec.cout], 'f32');
    const skipsWork: ConvVariant = { kind: 'regtile', tm: 4, tw: 4, threads: 16, vec4: false };
    const wrongResult: ConvVariant = { kind: 'regtile', tm: 8, tw: 4, threads: 32, vec4: true };
    const good = REGTILES[0]!;
    try {
      const r = await tuneConv(dev, spec, {
        force: true,
        candidates: [good, skipsWork, wrongResult],
        outSize: OUT,
        targetMs: 5,
        rounds: 2,
        // skipsWork writes nothing (the fastest "variant" there is); wrongResult writes a finite
        // output of another conv.
        dispatch: (v, launch, out) => {
          if (v === skipsWork) return;
          if (v === wrongResult) return void conv3d(dev, x, wOther, bias, { padding: 1, out, variant: good });
          launch(v);
        },
      });
      expect(r.winner).toEqual(good);
      for (const broken of [skipsWork, wrongResult]) {
        const t = r.timings.find((e) => e.variant === broken)!;
        expect(t.ms).toBe(Infinity);
        expect(t.error).toMatch(/differs/);
      }
      expect(r.timings.find((e) => e.variant === good)!.ms).toBeLessThan(Infinity);
    } finally {
      for (const t of [x, wOther, bias]) t.release();
    }
  });

  it('round-trips the winners through nodeJsonStore', async () => {
    const dev = await device();
    const dir = await mkdtemp(join(tmpdir(), 'egox-conv-tune-'));
    try {
      const store = nodeJsonStore(dir);
      const spec: ConvTuneSpec = { ...SPEC, kernel: [1, 1, 1], cin: 20, weight: 'bf16' };
      const r = await tuneConv(dev, spec, { store, force: true, candidates: REGTILES, outSize: OUT, targetMs: 5, rounds: 2 });
      const files = await readdir(dir);
      expect(files).toEqual([`${convTuneStoreName(dev.adapter)}.json`]);
      const other = sameAdapter(dev);
      expect(await loadConvTuning(other, nodeJsonStore(dir))).toBe(1);
      expect(defaultConvVariant(other, spec)).toEqual(r.winner);
      expect(await loadConvTuning(sameAdapter(dev), nodeJsonStore(join(dir, 'missing')))).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
