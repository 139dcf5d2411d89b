// EgoX takes the CLIP image from pixel frame 0 of the VAE-decoded [exo | noise] latent (C.6).
// egox decodes only latent frame 0 for it: the causal VAE's first output frame depends on the
// first latent frame alone, so this must equal frame 0 of the full decode, bit for bit.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WanVae } from '../../src/model/vae/index.ts';
import { ensureDemoWeights } from '../../src/demo/weights.ts';
import { sliceFrames } from '../../src/pipeline/latent-frames.ts';
import { SeededRandom } from '../../src/pipeline/random.ts';
import { useDevice } from '../helpers/gpu.ts';

const device = useDevice();
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-first-frame-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('first decoded frame', () => {
  it('decoding latent frame 0 alone gives pixel frame 0 of the whole decode, exactly', async () => {
    const dev = await device();
    const w = await ensureDemoWeights(root);
    const vae = await WanVae.load(dev, path.join(w.modelDir, 'vae'));
    try {
      const shape: [number, number, number, number] = [16, 3, 4, 6];
      const latents = { shape, data: new SeededRandom(5).normal(16 * 3 * 4 * 6) };
      const all = await vae.decode(latents);
      const first = await vae.decode(sliceFrames(latents, 0, 1));
      expect(all.shape).toEqual([3, 9, 32, 48]);
      expect(first.shape).toEqual([3, 1, 32, 48]);
      const plane = 32 * 48;
      for (let c = 0; c < 3; c++) {
        expect(first.data.subarray(c * plane, (c + 1) * plane)).toEqual(all.data.subarray(c * 9 * plane, c * 9 * plane + plane));
      }
    } finally {
      await vae.close();
    }
  }, 300_000);
});
