// The kernel checks that test/browser/kernels.test.ts also runs inside Chromium, here on Dawn.
import { describe, expect, it } from 'vitest';
import { useDevice } from '../helpers/gpu.ts';
import { failedChecks } from '../helpers/checks.ts';
import { PARITY_CASES } from './parity-cases.ts';

const device = useDevice();

describe('kernel parity checks under Node', () => {
  for (const c of PARITY_CASES) {
    it(c.name, async () => {
      expect(failedChecks(await c.run(await device()))).toEqual([]);
    });
  }
});
