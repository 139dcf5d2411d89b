// The Wan VAE from a GGUF file (the state-dict names kept; conv kernels flattened into rows of
// Q8_0 / Q4_K blocks with their original shapes recorded, as shape-fixing converters write
// them; biases and norm scales as the BF16 they were; no config, so it is inferred from the
// shapes as for ComfyUI's single file): every conv kernel is dequantized on load, and encode
// and decode equal those of an F32 file of the dequantized values; the quantization error
// against the golden (unquantized) outputs is reported.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { relL2, useDevice } from '../helpers/gpu.ts';
import { readGoldenF32 } from '../helpers/golden.ts';
import { WanVae, type HostTensor } from '../../src/model/vae/vae.ts';
import { readNetwork, writeGgufTwin, type QuantKind } from './quantized-twins.ts';

const GOLDEN = 'test/golden/vae';
const CASE = 's16x16_f1';
const device = useDevice();
const tmp = fs.mkdtempSync(join(os.tmpdir(), 'egox-vae-gguf-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function run(path: string, frames: HostTensor, latents: HostTensor): Promise<{ z: Float32Array; decoded: Float32Array }> {
  const vae = await WanVae.load(await device(), path);
  try {
    return { z: (await vae.encode(frames)).data, decoded: (await vae.decode(latents)).data };
  } finally {
    await vae.close();
  }
}

describe('Wan VAE from GGUF files', () => {
  for (const kinds of [['Q8_0'], ['Q4_K', 'Q8_0']] as QuantKind[][]) {
    it(`${kinds.join(' + ')}: encode and decode equal the dequantized F32 file`, { timeout: 900_000 }, async () => {
      const paths = { gguf: join(tmp, `vae-${kinds.join('_')}.gguf`), twin: join(tmp, `vae-${kinds.join('_')}-dequantized.safetensors`) };
      const { types } = await writeGgufTwin(await readNetwork(`${GOLDEN}/weights.safetensors`), kinds, { quantize: (_, shape) => (shape.length >= 4 ? 'flat' : undefined) }, paths);
      for (const k of kinds) expect(types[k], k).toBeGreaterThan(0);
      const cases = await readGoldenF32(`${GOLDEN}/cases.safetensors`);
      const tensor = (name: string) => ({ data: cases.get(name)!.data, shape: cases.get(name)!.shape as HostTensor['shape'] });
      const frames = tensor(`${CASE}.frames`);
      const latents = tensor(`${CASE}.latents`);
      const q = await run(paths.gguf, frames, latents);
      const t = await run(paths.twin, frames, latents);
      const errZ = relL2(q.z, t.z);
      const errX = relL2(q.decoded, t.decoded);
      console.log(
        `VAE GGUF ${kinds.join(' + ')} (${JSON.stringify(types)}): rel L2 vs dequantized F32 encode ${errZ.toExponential(2)}, decode ${errX.toExponential(2)}; ` +
          `vs the unquantized golden encode ${relL2(q.z, cases.get(`${CASE}.z`)!.data).toExponential(2)}, decode ${relL2(q.decoded, cases.get(`${CASE}.decoded`)!.data).toExponential(2)}`,
      );
      expect(errZ).toBeLessThanOrEqual(1e-6);
      expect(errX).toBeLessThanOrEqual(1e-6);
    });
  }
});
