import { describe, expect, it } from 'vitest';
import { framesToTensor, hconcat, resizeBox, tensorToFrames, vconcat } from '../../src/pipeline/frames.ts';
import { contactSheet, sheetFrames } from '../../src/pipeline/contact-sheet.ts';

describe('frames <-> tensors', () => {
  it('maps uint8 to [-1, 1] channel-first and back (truncation may lose one step)', () => {
    const w = 5;
    const h = 3;
    const frames = [0, 1].map((f) => Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37 + f * 11) % 256));
    const t = framesToTensor(frames, w, h);
    expect(t.shape).toEqual([3, 2, h, w]);
    // channel 1 of frame 1, pixel (y=2, x=4)
    expect(t.data[(1 * 2 + 1) * h * w + 2 * w + 4]).toBeCloseTo((frames[1]![(2 * w + 4) * 3 + 1]! / 255) * 2 - 1, 6);
    const back = tensorToFrames(t);
    back.forEach((f, i) => f.forEach((v, j) => expect(Math.abs(v - frames[i]![j]!)).toBeLessThanOrEqual(1)));
  });

  it('clamps and truncates like uint8(clip(x * 255)) after (x + 1) / 2', () => {
    const t = { shape: [3, 1, 1, 4] as [number, number, number, number], data: new Float32Array([-2, 2, 0, 0.999, -2, 2, 0, 0.999, -2, 2, 0, 0.999]) };
    const [f] = tensorToFrames(t);
    expect(Array.from(f!.subarray(0, 12))).toEqual([0, 0, 0, 255, 255, 255, 127, 127, 127, 254, 254, 254]);
  });

  it('composes side by side and stacked; box resize averages', () => {
    const a = { width: 2, height: 1, rgb: new Uint8Array([1, 1, 1, 2, 2, 2]) };
    const b = { width: 1, height: 1, rgb: new Uint8Array([9, 9, 9]) };
    expect(Array.from(hconcat([a, b]).rgb)).toEqual([1, 1, 1, 2, 2, 2, 9, 9, 9]);
    expect(vconcat([a, a]).height).toBe(2);
    expect(() => hconcat([a, { width: 1, height: 2, rgb: new Uint8Array(6) }])).toThrow(/heights/);
    const r = resizeBox({ width: 2, height: 2, rgb: new Uint8Array([0, 0, 0, 10, 10, 10, 20, 20, 20, 30, 30, 30]) }, 1, 1);
    expect(Array.from(r.rgb)).toEqual([15, 15, 15]);
  });

  it('contact sheet: evenly spaced rows, one tile per column, missing frames black', () => {
    expect(sheetFrames(49, 5)).toEqual([0, 12, 24, 36, 48]);
    expect(sheetFrames(3, 5)).toEqual([0, 1, 2]);
    const col = (w: number, n: number, v: number) => ({ label: 'x', width: w, height: 8, frames: Array.from({ length: n }, () => new Uint8Array(w * 8 * 3).fill(v)) });
    const sheet = contactSheet([col(14, 3, 50), col(8, 3, 100), col(8, 1, 200)], [0, 2], 4);
    expect(sheet.width).toBe(7 + 4 + 4 + 4 + 4);
    expect(sheet.height).toBe(4 + 4 + 4);
    const px = (x: number, y: number) => sheet.rgb[(y * sheet.width + x) * 3];
    expect(px(0, 0)).toBe(50);
    expect(px(7, 0)).toBe(128); // gap
    expect(px(11, 0)).toBe(100);
    expect(px(19, 0)).toBe(200);
    expect(px(19, 8)).toBe(0); // the third column has no frame 2
  });
});
