// Winners of `egox bench --tune` (GEMM and conv variants per adapter, in ~/.cache/egox), loaded
// into a device before a command builds its graphs; absent files change nothing.
import { loadGemmTuning } from '../kernels/autotune.ts';
import { loadConvTuning } from '../kernels/conv-autotune.ts';
import type { EgoxDevice } from '../runtime/device.ts';
import { nodeJsonStore } from '../runtime/tune-cache-node.ts';

export async function loadSavedTuning(dev: EgoxDevice): Promise<void> {
  const store = nodeJsonStore();
  await loadGemmTuning(dev, store);
  await loadConvTuning(dev, store);
}
