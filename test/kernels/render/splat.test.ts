import { describe, expect, it } from 'vitest';
import { useDevice } from '../../helpers/gpu.ts';
import { failedChecks } from '../../helpers/checks.ts';
import { SPLAT_CASES } from './splat-cases.ts';

const device = useDevice();

// The cases live in splat-cases.ts so the browser test runs the very same checks in Chromium.
describe('splat kernel vs float64 reference', () => {
  for (const c of SPLAT_CASES) {
    it(c.name, async () => {
      expect(failedChecks(await c.run(await device()))).toEqual([]);
    });
  }
});
