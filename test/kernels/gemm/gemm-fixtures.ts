// Fixtures of the GEMM family's tests: the two small variants they run, NaN-poisoned outputs,
// and packed weight formats (fp8, GGML blocks) as raw bytes in a GPU tensor of that dtype.
import type { GemmVariant } from '../../../src/kernels/gemm/index.ts';
import type { EgoxDevice } from '../../../src/runtime/device.ts';
import type { DType } from '../../../src/runtime/dtype.ts';
import type { Tensor } from '../../../src/runtime/tensor.ts';

/** Small tiles compile in a second or two on lavapipe; the default tilings get their own test. */
export function smallVariants(dev: EgoxDevice): GemmVariant[] {
  const sg = dev.adapter.subgroupMinSize!;
  return [
    { kind: 'subgroup', sg, tm: sg, rn: 2 },
    { kind: 'tiled', tm: 2, tn: 2, bk: 8 },
  ];
}

/** An output tensor filled with NaN (0xffff.. is a NaN in f32, f16 and bf16). */
export async function poisoned(dev: EgoxDevice, shape: number[], dtype: DType = 'f32'): Promise<Tensor> {
  const t = dev.empty(shape, dtype);
  await dev.write(t, new Uint8Array(t.byteLength).fill(0xff));
  return t;
}

/** Raw bytes (fp8, GGML blocks) in a tensor of that dtype, the last word zero-padded. */
export async function packedTensor(dev: EgoxDevice, bytes: Uint8Array, shape: number[], dtype: DType): Promise<Tensor> {
  const t = dev.empty(shape, dtype);
  const padded = new Uint8Array(t.byteLength);
  padded.set(bytes);
  await dev.write(t, padded);
  return t;
}
