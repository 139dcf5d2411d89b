// The Wan VAE against the PyTorch reference (test/reference/wan_vae_reference.py): tiny widths
// (base 6, z 16), the real structure and key names, BF16 weights. Goldens: the reference's
// chunked results and, for clips of several chunks, its unchunked (whole-clip) results.
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import { writeSafetensors, type TensorToWrite } from '../../src/io/safetensors-writer.ts';
import { planVae } from '../../src/model/vae/plan.ts';
import { originalName } from '../../src/model/vae/names.ts';
import { WanVae, type HostTensor } from '../../src/model/vae/vae.ts';
import { cropSpatial, TileBlender } from '../../src/model/vae/tiling.ts';
import { relL2, useDevice } from '../helpers/gpu.ts';

const GOLDEN = 'test/golden/vae';
const WEIGHTS = `${GOLDEN}/weights.safetensors`;
const CASES = ['s16x16_f1', 's16x16_f5', 's16x16_f9', 's16x24_f1', 's16x24_f5', 's16x24_f9'];
const TOL = 1e-4;

const device = useDevice();
let golden: SafetensorsFile;

beforeAll(async () => {
  golden = await SafetensorsFile.open(`${GOLDEN}/cases.safetensors`);
});
afterAll(async () => {
  await golden?.close();
});

async function tensor(name: string): Promise<HostTensor> {
  const info = golden.tensors.get(name);
  if (!info) throw new Error(`golden tensor ${name} missing: rerun test/reference/wan_vae_reference.py`);
  const bytes = await golden.read(name);
  return { data: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), shape: info.shape as HostTensor['shape'] };
}

let vaeF32: WanVae | undefined;
async function vae(): Promise<WanVae> {
  return (vaeF32 ??= await WanVae.load(await device(), WEIGHTS));
}

describe('Wan VAE encode (chunks of 1, 4, 4 frames)', () => {
  it.each(CASES)('%s matches the reference', async (key) => {
    const frames = await tensor(`${key}.frames`);
    const z = await vae().then((v) => v.encode(frames));
    const want = await tensor(`${key}.z`);
    expect(z.shape).toEqual(want.shape);
    expect(relL2(z.data, want.data)).toBeLessThan(TOL);
    if (golden.tensors.has(`${key}.z_unchunked`)) {
      expect(relL2(z.data, (await tensor(`${key}.z_unchunked`)).data)).toBeLessThan(TOL);
    }
  });
});

describe('Wan VAE decode (one latent frame at a time)', () => {
  it.each(CASES)('%s matches the reference', async (key) => {
    const latents = await tensor(`${key}.latents`);
    const frames = await vae().then((v) => v.decode(latents));
    const want = await tensor(`${key}.decoded`);
    expect(frames.shape).toEqual(want.shape);
    expect(relL2(frames.data, want.data)).toBeLessThan(TOL);
    expect(Math.max(...frames.data.map(Math.abs))).toBeLessThanOrEqual(1); // clamped
    if (golden.tensors.has(`${key}.decoded_unchunked`)) {
      expect(relL2(frames.data, (await tensor(`${key}.decoded_unchunked`)).data)).toBeLessThan(TOL);
    }
  });
});

describe('Wan VAE weights and memory', () => {
  it('runs with bf16 weight storage (the golden weights are bf16 values, so exactly)', async () => {
    const v = await WanVae.load(await device(), WEIGHTS, { weightDtype: 'bf16' });
    const frames = await v.decode(await tensor('s16x16_f5.latents'));
    expect(relL2(frames.data, (await tensor('s16x16_f5.decoded')).data)).toBeLessThan(TOL);
  }, 300_000);

  it('reads the original Wan2.1 key layout', async () => {
    const src = await SafetensorsFile.open(WEIGHTS);
    const dir = await fsp.mkdtemp(nodePath.join(os.tmpdir(), 'egox-vae-'));
    try {
      const v0 = await vae();
      const tensors: Record<string, TensorToWrite> = {};
      for (const [name, info] of src.tensors) {
        tensors[originalName(name, v0.config)] = { dtype: info.dtype, shape: info.shape, data: await src.read(name) };
      }
      const path = nodePath.join(dir, 'Wan2.1_VAE.safetensors');
      await writeSafetensors(path, tensors, { config: src.metadata.config! });
      const v = await WanVae.load(await device(), path);
      expect(v.layout).toBe('original');
      const frames = await v.decode(await tensor('s16x16_f5.latents'));
      expect(relL2(frames.data, (await tensor('s16x16_f5.decoded')).data)).toBeLessThan(TOL);
    } finally {
      await src.close();
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });

  it('allocates the same GPU memory for any clip length, as planned', async () => {
    const v = await vae();
    const dec = async (t: number) => {
      const latents: HostTensor = { data: new Float32Array(16 * t * 2 * 3).map(() => Math.random()), shape: [16, t, 2, 3] };
      await v.decode(latents);
      return v.lastStats.runs[0]!.allocatedBytes;
    };
    const two = await dec(2);
    const three = await dec(3);
    expect(three).toEqual(two);
    const plan = planVae({ width: 24, height: 16, frames: 9, config: v.config });
    expect(two.first).toBe(plan.decode.first.peakBytes);
    expect(two.next).toBe(plan.decode.next.peakBytes);
  });

  it('tiles large frames: overlapping tiles decoded alone, blended', async () => {
    const v = await WanVae.load(await device(), WEIGHTS, { tile: { size: 16, overlap: 8 } });
    const latents = await tensor('s16x24_f5.latents'); // [16, 2, 2, 3]: two 2x2 tiles at columns 0 and 1
    const frames = await v.decode(latents);
    expect(v.lastStats.tiles).toBe(2);
    expect(frames.shape).toEqual([3, 5, 16, 24]);
    // The same by hand: decode each latent crop untiled, blend with 8-pixel ramps.
    const whole = await vae();
    const blend = new TileBlender([3, 5, 16, 24]);
    for (const x0 of [0, 1]) blend.add(await whole.decode(cropSpatial(latents, 0, x0, 2, 2)), 0, 8 * x0, 8);
    expect(relL2(frames.data, blend.result().data)).toBeLessThan(1e-6);
    // Tiles see less context than the whole frame, so the result differs from the untiled one.
    expect(relL2(frames.data, (await tensor('s16x24_f5.decoded')).data)).toBeGreaterThan(1e-3);
  });

  it('rejects frame counts that are not 1 + 4k with a one-line input error', async () => {
    const v = await vae();
    const frames: HostTensor = { data: new Float32Array(3 * 4 * 16 * 16), shape: [3, 4, 16, 16] };
    await expect(v.encode(frames)).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/1 \+ 4k/) });
  });
});
