// Kernel parity in a real browser: the float64-referenced checks of the splatting kernel and a
// few GEMM/attention/norm cases run inside Chromium's WebGPU (SwiftShader here) against the same
// bounds as under Node (the same case code: splat-cases.ts, parity-cases.ts).
import { describe, expect, it } from 'vitest';
import { failedChecks, type Check } from '../helpers/checks.ts';
import { useBundledPage } from '../helpers/browser.ts';
import { SPLAT_CASES } from '../kernels/render/splat-cases.ts';
import { PARITY_CASES } from '../kernels/parity-cases.ts';

const page = useBundledPage('test/browser/kernels-page.ts');

describe('kernels inside Chromium (WebGPU)', () => {
  for (const c of [...SPLAT_CASES, ...PARITY_CASES]) {
    it(c.name, async () => {
      const { page: p, errors } = await page();
      const r = await p.evaluate((name) => (globalThis as unknown as { egoxRunCase: (n: string) => Promise<{ adapter: string; checks: Check[] }> }).egoxRunCase(name), c.name);
      expect(r.adapter).toMatch(/\S/);
      expect(r.checks.length).toBeGreaterThan(0);
      expect(failedChecks(r.checks)).toEqual([]);
      expect(errors).toEqual([]);
    });
  }
});
