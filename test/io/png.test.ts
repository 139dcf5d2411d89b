import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { decodePng, encodePng, readPng, writePng } from '../../src/io/png.ts';
import { FileFormatError } from '../../src/io/format-error.ts';

const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'egox-png-'));
afterAll(() => fs.rmSync(tmpDir, { recursive: true, force: true }));

const W = 37;
const H = 29;

function randomBytes(n: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.floor(Math.random() * 256);
  return a;
}

/** ffmpeg (an independent codec) as the oracle: raw -> PNG with a given predictor and pixel format. */
function ffmpegPng(raw: Uint8Array, pred: string, pixFmt: string): Uint8Array {
  const src = path.join(tmpDir, 'src.rgb');
  const out = path.join(tmpDir, `o-${pred}-${pixFmt}.png`);
  fs.writeFileSync(src, raw);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${W}x${H}`, '-i', src, '-pred', pred, '-pix_fmt', pixFmt, out]);
  return fs.readFileSync(out);
}

/** ffmpeg's decode of a PNG file to raw samples of a pixel format. */
function ffmpegDecode(png: Uint8Array, pixFmt: string): Uint8Array {
  const f = path.join(tmpDir, 'dec.png');
  fs.writeFileSync(f, png);
  return new Uint8Array(execFileSync('ffmpeg', ['-v', 'error', '-i', f, '-f', 'rawvideo', '-pix_fmt', pixFmt, 'pipe:1']));
}

describe('PNG codec', () => {
  it('round-trips RGB and gray through our encoder and decoder, and ffmpeg reads our files', () => {
    const rgb = randomBytes(W * H * 3);
    const img = decodePng(encodePng(W, H, 3, rgb));
    expect(img).toMatchObject({ width: W, height: H, channels: 3, bitDepth: 8, colorType: 2 });
    expect(Buffer.from(img.data).equals(Buffer.from(rgb))).toBe(true);
    expect(Buffer.from(ffmpegDecode(encodePng(W, H, 3, rgb), 'rgb24')).equals(Buffer.from(rgb))).toBe(true);
    const gray = randomBytes(W * H);
    const g = decodePng(encodePng(W, H, 1, gray));
    expect(g.channels).toBe(1);
    expect(Buffer.from(g.data).equals(Buffer.from(gray))).toBe(true);
    expect(Buffer.from(ffmpegDecode(encodePng(W, H, 1, gray), 'gray')).equals(Buffer.from(gray))).toBe(true);
  });

  it('decodes every row filter (none/sub/up/avg/paeth/mixed) of ffmpeg-written RGB, RGBA, gray and gray+alpha', () => {
    const raw = randomBytes(W * H * 3);
    // Each filter with at least one format, each format with several filters (ffmpeg calls are slow here).
    const cases = [['none', 'rgb24', 3], ['sub', 'rgba', 4], ['up', 'gray', 1], ['avg', 'ya8', 2], ['paeth', 'rgb24', 3], ['paeth', 'gray', 1], ['mixed', 'rgba', 4], ['avg', 'rgb24', 3]] as const;
    for (const [pred, fmt, ch] of cases) {
      const png = ffmpegPng(raw, pred, fmt);
      const img = decodePng(png);
      expect(img.channels, `${pred} ${fmt}`).toBe(ch);
      expect(Buffer.from(img.data).equals(Buffer.from(ffmpegDecode(png, fmt))), `${pred} ${fmt}`).toBe(true);
    }
  });

  it('decodes 16-bit, palette and 1-bit images', () => {
    const raw = randomBytes(W * H * 3);
    // 16-bit gray: big-endian samples in the file, values as numbers in ours.
    const png16 = ffmpegPng(raw, 'paeth', 'gray16be');
    const img16 = decodePng(png16);
    expect(img16.bitDepth).toBe(16);
    const want16 = ffmpegDecode(png16, 'gray16le');
    const w16 = new Uint16Array(want16.buffer, want16.byteOffset, W * H);
    expect([...img16.data]).toEqual([...w16]);
    // palette: indices + palette; palette[index] is the colour ffmpeg decodes.
    const pal = ffmpegPng(raw, 'mixed', 'pal8');
    const p = decodePng(pal);
    expect(p.colorType).toBe(3);
    const rgb = ffmpegDecode(pal, 'rgb24');
    let bad = 0;
    for (let i = 0; i < W * H; i++) for (let c = 0; c < 3; c++) if (p.palette![p.data[i]! * 3 + c] !== rgb[i * 3 + c]) bad++;
    expect(bad).toBe(0);
    // 1-bit gray: samples 0/1 (not rescaled), ffmpeg shows them as 0/255.
    const mono = ffmpegPng(raw, 'none', 'monob');
    const m = decodePng(mono);
    expect(m.bitDepth).toBe(1);
    const g = ffmpegDecode(mono, 'gray');
    expect([...m.data]).toEqual([...g].map((v) => (v > 127 ? 1 : 0)));
  });

  it('writes atomically and rejects corrupt or unsupported files with a one-line FileFormatError', () => {
    const file = path.join(tmpDir, 'a.png');
    const rgb = randomBytes(5 * 4 * 3);
    writePng(file, 5, 4, 3, rgb);
    expect(Buffer.from(readPng(file).data).equals(Buffer.from(rgb))).toBe(true);
    expect(fs.readdirSync(tmpDir).filter((n) => n.endsWith('.tmp'))).toEqual([]);

    const good = encodePng(5, 4, 3, rgb);
    const badCrc = good.slice();
    badCrc[30] ^= 0xff; // inside IHDR's CRC
    expect(() => decodePng(badCrc, 'x.png')).toThrow(FileFormatError);
    expect(() => decodePng(good.subarray(0, good.length - 20), 'x.png')).toThrow(/truncated|IEND|past the end/);
    expect(() => decodePng(Uint8Array.of(1, 2, 3), 'x.png')).toThrow(/not a PNG/);
    // interlaced: flip IHDR's interlace byte and fix the CRC with an independent crc32
    const inter = good.slice();
    inter[8 + 8 + 12] = 1;
    const crc = zlib.crc32(inter.subarray(12, 12 + 4 + 13));
    new DataView(inter.buffer).setUint32(8 + 8 + 13, crc);
    const err = (() => {
      try {
        decodePng(inter, 'mask.png');
      } catch (e) {
        return e as FileFormatError;
      }
    })();
    expect(err).toBeInstanceOf(FileFormatError);
    expect(err!.exitCode).toBe(2);
    expect(err!.message).toMatch(/^mask\.png: interlaced/);
    expect(() => readPng(path.join(tmpDir, 'nope.png'))).toThrow(/cannot read PNG/);
  });
});
