// Test helpers for packed weight formats (fp8, GGML blocks): raw bytes into a GPU tensor of
// that dtype (the last word zero-padded), and NaN-poisoned f32 outputs.
import type { EgoxDevice } from '../../../src/runtime/device.ts';
import type { DType } from '../../../src/runtime/dtype.ts';
import type { Tensor } from '../../../src/runtime/tensor.ts';

export async function packedTensor(dev: EgoxDevice, bytes: Uint8Array, shape: number[], dtype: DType): Promise<Tensor> {
  const t = dev.empty(shape, dtype);
  const padded = new Uint8Array(t.byteLength);
  padded.set(bytes);
  await dev.write(t, padded);
  return t;
}

export async function poisonedF32(dev: EgoxDevice, shape: number[]): Promise<Tensor> {
  const t = dev.empty(shape, 'f32');
  await dev.write(t, new Uint8Array(t.byteLength).fill(0xff));
  return t;
}
