// Getting a device ready for a command: the winners of `egox bench --tune` (GEMM and conv
// variants per adapter, in ~/.cache/egox; absent files change nothing) and the check that lets
// the defaults use subgroup matrices (tensor cores) where the adapter offers them.
import { loadGemmTuning } from '../kernels/tuning/index.ts';
import { loadConvTuning } from '../kernels/tuning/index.ts';
import { checkSubgroupMatrices } from '../kernels/tuning/index.ts';
import type { EgoxDevice } from '../runtime/device.ts';
import { nodeJsonStore } from '../runtime/tune-cache-node.ts';

export async function prepareDevice(dev: EgoxDevice): Promise<void> {
  const store = nodeJsonStore();
  await loadGemmTuning(dev, store);
  await loadConvTuning(dev, store);
  const check = await checkSubgroupMatrices(dev);
  if (check.ran && !check.passed) {
    const errors = Object.entries(check.errors).map(([k, v]) => `${k} ${v!.toPrecision(2)}`).join(', ');
    const why = check.failure ? `fail to run (${check.failure})` : `disagree with the f32 kernels (relative error ${errors})`;
    process.stderr.write(`egox: warning: this adapter's subgroup-matrix kernels ${why}; using workgroup-tile kernels\n`);
  }
}
