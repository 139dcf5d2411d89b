// Reads one tensor of test/golden/recon/prior/prior.safetensors (written by
// test/reference/prior_reference.py): F32 as Float32Array, U8 masks and RGB as Uint8Array.
import { SafetensorsFile } from '../../src/io/safetensors.ts';

export const PRIOR_GOLDEN = 'test/golden/recon/prior/prior.safetensors';

export async function readPriorGolden(name: string): Promise<{ shape: number[]; data: Float32Array | Uint8Array }> {
  const st = await SafetensorsFile.open(PRIOR_GOLDEN);
  try {
    const info = st.tensors.get(name);
    if (!info) throw new Error(`${PRIOR_GOLDEN}: no tensor '${name}'`);
    const bytes = (await st.read(name)).slice();
    const data = info.dtype === 'F32' ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4) : bytes;
    return { shape: info.shape, data };
  } finally {
    await st.close();
  }
}
