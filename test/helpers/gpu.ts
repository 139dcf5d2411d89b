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

export { randomF32, relL2 } from './numeric.ts';
