// Dry-run memory plan of the real-width Wan VAE (base 96; no device): chunked processing keeps
// the peak independent of the clip length.
import { describe, expect, it } from 'vitest';
import { WAN21_VAE } from '../../src/model/vae/config.ts';
import { planVae } from '../../src/model/vae/plan.ts';
import { WanVae, type TileOptions } from '../../src/model/vae/vae.ts';
import type { WeightStore } from '../../src/graph/weights.ts';
import { valueBytes } from '../../src/graph/ir.ts';
import { buildDecoderChunk } from '../../src/model/vae/graphs.ts';
import type { EgoxDevice } from '../../src/runtime/device.ts';
import { KernelChoices } from '../../src/runtime/kernel-context.ts';

describe('planVae (Wan2.1 widths, dry run)', () => {
  const short = planVae({ width: 64, height: 48, frames: 13 }); // 4 latent frames
  const long = planVae({ width: 64, height: 48, frames: 49 }); // 13 latent frames

  it('decodes 13 latent frames with the same peak as 4', () => {
    expect(long.decode.chunks).toBe(13);
    expect(short.decode.chunks).toBe(4);
    expect(long.decode.peakBytes).toBe(short.decode.peakBytes);
    expect(long.decode.flops).toBeGreaterThan(3 * short.decode.flops);
  });

  it('encodes 49 frames with the same peak as 13', () => {
    expect(long.encode.peakBytes).toBe(short.encode.peakBytes);
  });

  it('counts weights, caches and activations, growing with the frame size', () => {
    const big = planVae({ width: 128, height: 96, frames: 13 });
    expect(big.decode.peakBytes).toBeGreaterThan(short.decode.peakBytes);
    // The whole f32 decoder (about 73M parameters) is resident in each chunk graph.
    expect(short.decode.next.weightBytes).toBeGreaterThan(250e6);
    expect(short.decode.next.cacheBytes).toBeGreaterThan(0);
    expect(short.decode.next.peakBytes).toBeGreaterThanOrEqual(
      short.decode.next.weightBytes + short.decode.next.cacheBytes + short.decode.next.activationBytes,
    );
    const bf16 = planVae({ width: 64, height: 48, frames: 13, dtypes: { weights: 'bf16' } });
    expect(bf16.decode.next.weightBytes).toBeLessThan(0.6 * short.decode.next.weightBytes);
    expect(WAN21_VAE.baseDim).toBe(96);
  });
});

describe('automatic tiling (no device: only the limits are read)', () => {
  // A stand-in for a GPU adapter with lavapipe's 128 MiB storage-binding limit.
  const fakeDevice = {
    limits: { maxStorageBufferBindingSize: 128 * 2 ** 20 },
    adapter: { vendor: 'test', architecture: 'gpu', device: 'test', description: 'test gpu', isFallbackAdapter: false },
    has: () => false,
    choices: new KernelChoices(),
  } as unknown as EgoxDevice;
  const vae = (tile?: TileOptions | 'auto' | false) => new WanVae(fakeDevice, WAN21_VAE, null as unknown as WeightStore, 'diffusers', { tile });

  it('does not tile frames whose tensors fit one binding', () => {
    expect(vae().tileFor('decode', 128, 128)).toBeUndefined();
  });

  it('tiles the EgoX exo frames (448x784) so every tensor fits 128 MiB', () => {
    const t = vae().tileFor('decode', 448, 784);
    expect(t).toBeDefined();
    expect(t!.size % 8).toBe(0);
    expect(t!.overlap).toBeGreaterThan(0);
    // The largest fitting tile: the next size up has a tensor over the limit (at 256 pixels the
    // upsampled 192-channel input of the last upsample conv is 201 MB).
    const largest = (size: number) => Math.max(...buildDecoderChunk(WAN21_VAE, { height: size, width: size, first: false }).values.map(valueBytes));
    expect(largest(t!.size)).toBeLessThanOrEqual(128 * 2 ** 20);
    expect(largest(2 * t!.size)).toBeGreaterThan(128 * 2 ** 20);
  });

  it('keeps an explicit choice', () => {
    expect(vae(false).tileFor('decode', 448, 784)).toBeUndefined();
    expect(vae({ size: 128, overlap: 32 }).tileFor('encode', 64, 64)).toEqual({ size: 128, overlap: 32 });
  });
});
