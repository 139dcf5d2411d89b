// The browser entry bundles into one ES module with no Node import, and the bundler refuses
// an entry that needs Node (so the check cannot pass vacuously).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bundleForBrowser } from '../../src/cli/browser-bundle.ts';

describe('browser bundle', () => {
  it('src/browser.ts bundles with the device, kernels, graph and prior renderer and no node: import', async () => {
    const b = await bundleForBrowser('src/browser.ts');
    expect(b.code).not.toMatch(/["']node:/);
    expect(b.code).not.toMatch(/\brequire\(/);
    for (const name of ['EgoxDevice', 'renderPriorFrames', 'EgoPointCloud', 'ModelGraph', 'Executor', 'packFisheyeParams']) expect(b.code).toContain(name);
    expect(b.inputs.some((f) => f.endsWith('kernels/render/splat.ts'))).toBe(true);
    expect(b.inputs.some((f) => f.endsWith('runtime/node.ts'))).toBe(false);
    // io's pure parsers (bounded JSON) may come along; nothing of io that touches files.
    expect(b.inputs.filter((f) => f.includes('/io/') && /from ['"]node:/.test(readFileSync(f, 'utf8')))).toEqual([]);
  });

  it('the studio page bundles with no node: import (it runs the same recon and kernel modules)', async () => {
    const b = await bundleForBrowser('src/cli/studio/page/main.ts');
    expect(b.code).not.toMatch(/["']node:/);
    expect(b.inputs.some((f) => f.endsWith('recon/prior-renderer.ts'))).toBe(true);
    expect(b.inputs.some((f) => f.endsWith('recon/trajectory.ts'))).toBe(true);
  });

  it('refuses an entry that imports Node modules, naming the import', async () => {
    await expect(bundleForBrowser('src/index.ts')).rejects.toThrow(/node:/);
  });
});
