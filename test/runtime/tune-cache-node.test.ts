import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeJsonStore } from '../../src/runtime/tune-cache-node.ts';

describe('nodeJsonStore', () => {
  it('round-trips JSON under a sanitised file name and reads a missing entry as undefined', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'egox-tune-'));
    try {
      const store = nodeJsonStore(join(dir, 'nested'));
      expect(await store.read('tune-missing')).toBeUndefined();
      const data = { format: 1, gemm: { a: { ms: Math.random() } } };
      await store.write('tune-mesa/llvmpipe: 25.0 (LLVM)', data);
      expect(await store.read('tune-mesa/llvmpipe: 25.0 (LLVM)')).toEqual(data);
      const files = await readdir(join(dir, 'nested'));
      expect(files).toHaveLength(1);
      expect(files[0]).toMatch(/^tune-[A-Za-z0-9._-]+\.json$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
