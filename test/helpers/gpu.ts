// One GPU device per test file, destroyed after the file so the fork can exit.
import { afterAll } from 'vitest';
import { openNodeDevice } from '../../src/runtime/node.ts';
import type { EgoxDevice } from '../../src/runtime/device.ts';
import type { DeviceOptions } from '../../src/runtime/device.ts';

export function useDevice(options: DeviceOptions = {}): () => Promise<EgoxDevice> {
  let dev: Promise<EgoxDevice> | undefined;
  afterAll(async () => {
    if (dev) (await dev).destroy();
  });
  return () => (dev ??= openNodeDevice(options));
}

/** Fresh random values in [-1, 1) (Math.random: every run sees new inputs). */
export function randomF32(n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (Math.random() * 2 - 1) * scale;
  return a;
}

/** Relative L2 error of `got` against a float64 reference. */
export function relL2(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} vs ${want.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < got.length; i++) {
    const d = got[i]! - want[i]!;
    num += d * d;
    den += want[i]! * want[i]!;
  }
  return Math.sqrt(num / Math.max(den, 1e-300));
}
