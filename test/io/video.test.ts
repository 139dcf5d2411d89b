import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { coverCrop, decodeVideo, encodeVideo, FfmpegMissingError, probeVideo, VideoError } from '../../src/io/video.ts';
import { writePng } from '../../src/io/png.ts';

const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-video-'));
afterAll(() => fs.rmSync(tmpDir, { recursive: true, force: true }));

/** Smooth moving colour gradients with a random offset: compresses well, so errors stay small. */
function syntheticFrames(w: number, h: number, n: number): Uint8Array[] {
  const seed = Math.random() * 100;
  const frames: Uint8Array[] = [];
  for (let t = 0; t < n; t++) {
    const f = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 3;
        f[o] = Math.round(127 + 100 * Math.sin((x + t * 2 + seed) / 9));
        f[o + 1] = Math.round(127 + 100 * Math.cos((y - t + seed) / 7));
        f[o + 2] = Math.round(((x + y) * 255) / (w + h));
      }
    }
    frames.push(f);
  }
  return frames;
}

function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  return 10 * Math.log10((255 * 255) / Math.max(se / a.length, 1e-12));
}

describe('coverCrop', () => {
  it('scales to cover the target and crops the centre', () => {
    expect(coverCrop(1920, 1080, 784, 448)).toEqual({ scale: 448 / 1080, scaledWidth: 796, scaledHeight: 448, x: 6, y: 0 });
    expect(coverCrop(784, 448, 784, 448)).toEqual({ scale: 1, scaledWidth: 784, scaledHeight: 448, x: 0, y: 0 });
    // Taller than 7:4: full width, rows cropped.
    expect(coverCrop(640, 480, 784, 448)).toMatchObject({ scaledWidth: 784, scaledHeight: 588, x: 0, y: 70 });
  });
});

describe('video I/O (ffmpeg)', () => {
  it('encodes H.264 yuv420p and decodes it back close to the input', async () => {
    const w = 96;
    const h = 64;
    const frames = syntheticFrames(w, h, 7);
    const file = path.join(tmpDir, 'round.mp4');
    await encodeVideo(file, frames, { width: w, height: h, fps: 30 });
    const info = await probeVideo(file);
    expect(info).toMatchObject({ width: w, height: h, fps: 30, frames: 7 });
    const back = await decodeVideo(file);
    expect(back.width).toBe(w);
    expect(back.frames.length).toBe(7);
    for (let i = 0; i < 7; i++) expect(psnr(back.frames[i]!, frames[i]!)).toBeGreaterThan(30);
    // no temporary file left beside the output
    expect(fs.readdirSync(tmpDir).filter((n) => n.includes('.tmp'))).toEqual([]);
  });

  it('decodes at a target size and stops after maxFrames', async () => {
    const frames = syntheticFrames(64, 48, 5);
    const file = path.join(tmpDir, 'scale.mp4');
    await encodeVideo(file, frames, { width: 64, height: 48, fps: 20 });
    const v = await decodeVideo(file, { width: 32, height: 24, maxFrames: 3 });
    expect(v.frames.length).toBe(3);
    expect(v.frames[0]!.length).toBe(32 * 24 * 3);
    // a bicubic 2x downscale of a smooth image stays close to the 2x2-averaged original
    const src = frames[0]!;
    const avg = new Uint8Array(32 * 24 * 3);
    for (let y = 0; y < 24; y++)
      for (let x = 0; x < 32; x++)
        for (let c = 0; c < 3; c++) {
          let s = 0;
          for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) s += src[((2 * y + dy) * 64 + 2 * x + dx) * 3 + c]!;
          avg[(y * 32 + x) * 3 + c] = Math.round(s / 4);
        }
    expect(psnr(v.frames[0]!, avg)).toBeGreaterThan(25);
  });

  it('reads a folder of PNG frames as a video, exactly, in name order, with resizing', async () => {
    const dir = path.join(tmpDir, 'frames [1]'); // glob characters in the path must not matter
    fs.mkdirSync(dir);
    const frames = syntheticFrames(34, 18, 5);
    // Written out of order: the folder's name order is the frame order.
    for (const i of [3, 0, 4, 1, 2]) writePng(path.join(dir, `f_${String(i).padStart(3, '0')}.png`), 34, 18, 3, frames[i]!);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'ignored');
    expect(await probeVideo(dir)).toEqual({ width: 34, height: 18, fps: 30, frames: 5 });
    const v = await decodeVideo(dir);
    expect(v.frames.length).toBe(5);
    v.frames.forEach((f, i) => expect(f).toEqual(frames[i]));
    const small = await decodeVideo(dir, { width: 16, height: 8, maxFrames: 3 });
    expect([small.width, small.height, small.frames.length]).toEqual([16, 8, 3]);
    const empty = path.join(tmpDir, 'no-frames');
    fs.mkdirSync(empty);
    await expect(probeVideo(empty)).rejects.toThrow(/no \.png frames/);
  });

  it('decodes the real exo video at 784x448', async () => {
    const file = '../shared/data/egoexo4d/videos/cmu_soccer06_6_877_925/exo.mp4';
    const info = await probeVideo(file);
    expect(info).toMatchObject({ width: 784, height: 448, fps: 20, frames: 50 });
    const v = await decodeVideo(file, { maxFrames: 2 });
    expect(v.frames.length).toBe(2);
    expect(v.frames[1]!.length).toBe(784 * 448 * 3);
    let sum = 0;
    for (const b of v.frames[0]!) sum += b;
    expect(sum / v.frames[0]!.length).toBeGreaterThan(20); // a real picture, not black
  });

  it('reports a missing ffmpeg in one line with exit code 2', async () => {
    const saved = process.env.EGOX_FFMPEG;
    process.env.EGOX_FFMPEG = path.join(tmpDir, 'no-such-dir', 'ffmpeg');
    try {
      const file = path.join(tmpDir, 'never.mp4');
      const err = await encodeVideo(file, syntheticFrames(16, 16, 1), { width: 16, height: 16, fps: 30 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FfmpegMissingError);
      expect((err as FfmpegMissingError).exitCode).toBe(2);
      expect((err as Error).message).toContain('apt-get install ffmpeg');
      expect((err as Error).message).not.toContain('\n');
      expect(fs.existsSync(file)).toBe(false);
      await expect(probeVideo('../shared/data/egoexo4d/videos/cmu_soccer06_6_877_925/exo.mp4')).rejects.toBeInstanceOf(FfmpegMissingError);
    } finally {
      if (saved === undefined) delete process.env.EGOX_FFMPEG;
      else process.env.EGOX_FFMPEG = saved;
    }
  });

  it('rejects unreadable input and leaves nothing half-written when encoding fails', async () => {
    const junk = path.join(tmpDir, 'junk.mp4');
    fs.writeFileSync(junk, 'not a video at all');
    await expect(decodeVideo(junk)).rejects.toBeInstanceOf(VideoError);
    await expect(decodeVideo(path.join(tmpDir, 'missing.mp4'))).rejects.toThrow(/cannot read video/);
    // A fake ffmpeg that writes part of its output file and then fails, like a crash mid-encode.
    const fake = path.join(tmpDir, 'fake-ffmpeg.sh');
    fs.writeFileSync(fake, '#!/bin/sh\nfor last; do :; done\ncat > /dev/null\nprintf partial > "$last"\necho "Conversion failed!" >&2\nexit 1\n', { mode: 0o755 });
    const saved = process.env.EGOX_FFMPEG;
    process.env.EGOX_FFMPEG = fake;
    const out = path.join(tmpDir, 'crashed.mp4');
    try {
      const err = await encodeVideo(out, syntheticFrames(16, 16, 2), { width: 16, height: 16, fps: 30 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VideoError);
      expect((err as VideoError).exitCode).toBe(2);
      expect((err as Error).message).toContain('Conversion failed!');
    } finally {
      if (saved === undefined) delete process.env.EGOX_FFMPEG;
      else process.env.EGOX_FFMPEG = saved;
    }
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(tmpDir).filter((n) => n.includes('.tmp'))).toEqual([]);
  });
});
